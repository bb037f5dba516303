"""Directory login (LDAP) for city staff and officers: `[directory]` settings and the bind."""
