"""Stand-ins for the BRATS17 demo's networks (``anisotropic_nets``), written as voxflow plugins."""
