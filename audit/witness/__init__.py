"""A C2SP tlog-witness (c2sp.org/tlog-witness): an independent party that cosigns the gateway's
checkpoints only when each is consistent with the last one it cosigned.

It lives in the auditor's package because it is not the gateway's: its own process, key and state,
and no gateway code (tests/audit/test_independence.py holds for it too).

`keyfile` its private key on disk · `state` the latest cosigned head per log, stored durably ·
`request` the add-checkpoint request body · `core` the checks and the cosigning · `server` HTTP.
"""
