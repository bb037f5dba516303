"""Notifications by e-mail (issue 22, item 3): deadlines and security events, to role mailboxes.

`config` reads `[mail]` of gateway.toml, `notices` works out what is due to whom, `templates`
words it (Japanese first), `sender` delivers over SMTP with STARTTLS, deduplicated and logged
through the access log, retried on the next round when the server did not take it.
"""
