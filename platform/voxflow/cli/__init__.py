"""Console scripts: argument parsing only, then the ApplicationDriver."""
