"""wsnet-auth-htpasswd: links must log in with HTTP Basic; users come from an htpasswd file."""
