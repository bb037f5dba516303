"""`gateway-client`: the contractor's program, run on the contractor's own machine.

A designated handler never has a shell on the city's gateway: they reach it over the channels the
approval allows, the LGWAN-ASP portal's API (their terminal certificate, `--p12`) or the VPN line
(SFTP, their SSH key), and sign what they attest (receipt, deletion request, erasure certificate,
deliverable declaration) with their own SSH key. Nothing here opens the gateway's database or
starts a server; `paramiko` is loaded only for SFTP (tests/client/test_client_lazy.py).
"""
