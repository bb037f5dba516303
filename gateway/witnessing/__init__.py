"""Witnesses (c2sp.org/tlog-witness): independent parties that cosign the log's checkpoints only
when each is consistent with the last one they cosigned, so the operator cannot rewrite history
after the fact, not even with the gateway's own key.

`protocol` one add-checkpoint request · `submit` a round of submissions, cosignatures verified and
stored · `background` the submitter `gateway serve` runs · the witnesses themselves are configured
by `gateway.operations.witnesses` (`gateway witness add|list|remove|submit`).
"""
