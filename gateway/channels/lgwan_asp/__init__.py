"""The LGWAN-ASP channel: the HTTPS portal (専用ページ) and its JSON API for staff, contractors and
security officers. A thin adapter: every action calls gateway.operations / gateway.retention, so
policy, the access log and evidence are the same as on every other channel."""
