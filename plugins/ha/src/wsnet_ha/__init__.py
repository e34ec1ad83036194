"""wsnet-ha: active/standby groups of member nodes (entry point ``ha``)."""
