"""wsnet-auth-htpasswd: HTTP Basic logins for links ([auth_htpasswd]) and the control API
([control] htpasswd); users come from an Apache htpasswd file."""
