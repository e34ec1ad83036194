"""wsnet-httpproxy: an HTTP reverse proxy whose requests leave the mesh at a named node."""
