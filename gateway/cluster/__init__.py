"""Running the several-node set-up on one machine (issue 24): etcd with Patroni and two PostgreSQL
instances, SeaweedFS, `gateway serve` nodes and HAProxy in front, all on 127.0.0.1 and free ports,
with their data under one directory. One module per server; `supervisor` starts them in order,
writes the state file that `gateway cluster status|down` read, and stops what it started.

The tests start the same servers through these modules, so there is one copy of how each is run.
Nothing here imports the service: the nodes are `gateway serve` processes like any other.
"""
