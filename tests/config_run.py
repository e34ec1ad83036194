"""Moved to ``wsnet.testing_run`` (core's public test support, importable from any plugin's
tests); this name stays for tests written before the move.  New tests import the module."""

from wsnet.testing_run import *  # noqa: F403
