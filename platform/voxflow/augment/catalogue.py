"""Built-in augmentation names for the registry's ``augmentation`` family (``[AUGMENTATION]``).

Maps each name to ``"module:Class"``; read lazily by :mod:`voxflow.registry`. Importing this
module imports nothing else.
"""

BUILTINS: dict[str, str] = {}
