"""SSHSIG as OpenSSH writes and reads it: our signatures verify with `ssh-keygen -Y verify`, and
`ssh-keygen -Y sign` signatures verify with ours (the gateway's and the auditor's, which is its
own implementation), for every key type handlers may register."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from audit import sshsig as audit_sshsig
from gateway.attestations import sshsig

pytestmark = [pytest.mark.interop]

MESSAGE = b'{"format":"gateway-attestation/1","sha256":"ab","transfer":"T20200601-0123456789","type":"receipt"}'
KEY_TYPES = [("ed25519", []), ("ecdsa", ["-b", "256"]), ("ecdsa", ["-b", "384"]), ("ecdsa", ["-b", "521"]),
             ("rsa", ["-b", "3072"])]


def keygen(tmp_path: Path, kind: str, extra: list[str]) -> Path:
    key = tmp_path / f"id_{kind}{''.join(extra)}"
    subprocess.run(["ssh-keygen", "-q", "-t", kind, *extra, "-N", "", "-C", "k.tanaka", "-f", str(key)], check=True)
    return key


def allowed(tmp_path: Path, key: Path, principal: str = "k.tanaka@chikugo-print") -> Path:
    path = tmp_path / "allowed_signers"
    path.write_text(f'{principal} namespaces="{sshsig.NAMESPACE}" {key.with_suffix(".pub").read_text().strip()}\n')
    return path


def ssh_keygen_verify(tmp_path: Path, signers: Path, signature: str, message: bytes,
                      principal: str = "k.tanaka@chikugo-print", namespace: str = sshsig.NAMESPACE) -> subprocess.CompletedProcess:
    sig = tmp_path / "message.sig"
    sig.write_text(signature)
    return subprocess.run(["ssh-keygen", "-Y", "verify", "-f", str(signers), "-I", principal, "-n", namespace,
                           "-s", str(sig)], input=message, capture_output=True)


@pytest.mark.parametrize("kind,extra", KEY_TYPES, ids=lambda v: v if isinstance(v, str) else "".join(v))
def test_our_signature_verifies_with_ssh_keygen(tmp_path: Path, kind: str, extra: list[str]) -> None:
    key = keygen(tmp_path, kind, extra)
    signature = sshsig.sign(sshsig.load_private_key(key.read_bytes()), MESSAGE)
    assert signature.startswith("-----BEGIN SSH SIGNATURE-----\n")
    proc = ssh_keygen_verify(tmp_path, allowed(tmp_path, key), signature, MESSAGE)
    assert proc.returncode == 0, proc.stderr
    assert b"Good \"gateway-attestation\" signature for k.tanaka@chikugo-print" in proc.stdout + proc.stderr
    # ... and not over another message, nor in another namespace, nor for another principal.
    assert ssh_keygen_verify(tmp_path, allowed(tmp_path, key), signature, MESSAGE + b" ").returncode != 0
    assert ssh_keygen_verify(tmp_path, allowed(tmp_path, key), signature, MESSAGE, namespace="file").returncode != 0
    assert ssh_keygen_verify(tmp_path, allowed(tmp_path, key), signature, MESSAGE,
                             principal="y.hirano@ariake-fuunyu").returncode != 0


@pytest.mark.parametrize("kind,extra", KEY_TYPES, ids=lambda v: v if isinstance(v, str) else "".join(v))
@pytest.mark.parametrize("verify", [sshsig.verify, audit_sshsig.verify], ids=["gateway", "auditor"])
def test_ssh_keygen_signature_verifies_with_ours(tmp_path: Path, kind: str, extra: list[str], verify) -> None:
    key = keygen(tmp_path, kind, extra)
    message = tmp_path / "attestation.json"
    message.write_bytes(MESSAGE)
    subprocess.run(["ssh-keygen", "-q", "-Y", "sign", "-f", str(key), "-n", sshsig.NAMESPACE, str(message)],
                   check=True, capture_output=True)
    armored = (tmp_path / "attestation.json.sig").read_text()
    verified = verify(armored, MESSAGE, sshsig.NAMESPACE)
    pub = key.with_suffix(".pub").read_text().split()
    assert verified.openssh == f"{pub[0]} {pub[1]}"
    fp = subprocess.run(["ssh-keygen", "-l", "-f", str(key.with_suffix(".pub"))], capture_output=True, text=True,
                        check=True).stdout.split()[1]
    assert verified.fingerprint == fp


@pytest.mark.parametrize("verify,error", [(sshsig.verify, sshsig.SshsigError), (audit_sshsig.verify,
                                                                                 audit_sshsig.SshsigError)],
                         ids=["gateway", "auditor"])
def test_what_is_refused_and_why(tmp_path: Path, verify, error) -> None:
    key = sshsig.load_private_key(keygen(tmp_path, "ed25519", []).read_bytes())
    good = sshsig.sign(key, MESSAGE)
    verify(good, MESSAGE, sshsig.NAMESPACE)
    cases = {
        "bad-signature": (good, MESSAGE.replace(b"ab", b"ac"), sshsig.NAMESPACE),
        "namespace": (sshsig.sign(key, MESSAGE, "file"), MESSAGE, sshsig.NAMESPACE),
        "malformed": (good.replace("BEGIN SSH SIGNATURE", "BEGIN PGP SIGNATURE"), MESSAGE, sshsig.NAMESPACE),
    }
    for problem, (signature, message, namespace) in cases.items():
        with pytest.raises(error) as caught:
            verify(signature, message, namespace)
        assert caught.value.problem == problem
    # One flipped bit anywhere in the blob: never accepted.
    blob = bytearray(sshsig.dearmor(good))
    for at in range(0, len(blob), 7):
        flipped = bytearray(blob)
        flipped[at] ^= 0x01
        with pytest.raises(error):
            verify(sshsig.armor(bytes(flipped)), MESSAGE, sshsig.NAMESPACE)


def test_an_rsa_sha1_signature_is_refused(tmp_path: Path) -> None:
    """`ssh-rsa` (SHA-1) signatures are refused, as OpenSSH's verifier refuses them."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    key = sshsig.load_private_key(keygen(tmp_path, "rsa", ["-b", "3072"]).read_bytes())
    data = sshsig._to_sign(sshsig.NAMESPACE, "sha512", __import__("hashlib").sha512(MESSAGE).digest())
    raw = key.sign(data, padding.PKCS1v15(), hashes.SHA1())  # type: ignore[union-attr,call-arg]
    blob = (sshsig.MAGIC + (1).to_bytes(4, "big") + sshsig._string(sshsig.public_blob(key))
            + sshsig._string(sshsig.NAMESPACE.encode()) + sshsig._string(b"") + sshsig._string(b"sha512")
            + sshsig._string(sshsig._string(b"ssh-rsa") + sshsig._string(raw)))
    for verify, error in ((sshsig.verify, sshsig.SshsigError), (audit_sshsig.verify, audit_sshsig.SshsigError)):
        with pytest.raises(error) as caught:
            verify(sshsig.armor(blob), MESSAGE, sshsig.NAMESPACE)
        assert caught.value.problem == "unsupported"
