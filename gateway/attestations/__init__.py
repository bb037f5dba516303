"""Attestations: what a contractor's handler states (receipt, deletion request, erasure certificate,
deliverable declaration), signed by the handler's own SSH key as an OpenSSH SSHSIG signature.

The gateway checks such a signature against the key it registered for that handler before it
records anything, keeps the signed bytes and the signature, and exports them so that stock
`ssh-keygen -Y verify` checks them with nothing of ours (docs: audit/FORMAT.md, "attestations").

This package holds what both sides share and nothing that records: `sshsig` and `document` import
only `cryptography`, the standard library and the gateway's error and clock types, so the
contractor's program (`gateway.client`) uses them too, without the gateway's database or servers;
`export` writes the bundle's `attestations/`. Checking and recording are operations
(`gateway.operations.attested`, and `gateway.filing` for what arrives signed over a channel).
"""
