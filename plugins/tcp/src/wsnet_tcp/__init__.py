"""wsnet-tcp: named TCP tunnels carried as stream channels over wsnet links."""
