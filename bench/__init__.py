"""wsnet benchmark suite: ``python -m bench --help``.

Absolute numbers depend on the machine and on what else runs on it, so every
wsnet figure is also reported as a ratio to plain TCP measured in the same run.
"""
