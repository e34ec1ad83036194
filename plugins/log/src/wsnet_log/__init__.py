"""wsnet-log: an observer plugin that logs node events (entry point ``log``)."""

from .observer import EventLogger, LogSettings

__all__ = ["EventLogger", "LogSettings"]
