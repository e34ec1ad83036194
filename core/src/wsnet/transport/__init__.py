"""Transports built into the core, one subpackage each (today: ``ws``, for ws:// and wss://).

A transport is how a link is dialled (``wsnet.Transport``); a plugin adds others through
``wsnet_register_transports``.  Importing this package imports no transport.
"""
