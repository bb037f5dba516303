"""`gateway package encrypt|decrypt` through the installed console script, as an operator runs it.

Fixtures are encrypted through the library at a low scrypt work factor so the many bad-input cases
stay fast; the CLI's own encryption (work factor 18) is exercised once end to end.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from gateway.crypto import age
from gateway.crypto.age.format import read_header
from gateway.crypto.age.stream import CHUNK, ENC_CHUNK, NONCE_SIZE
from tests.conftest import run_gateway

PASSPHRASE = "K7QM2-XR9TD-4HFJW-8PZNC-3VAYE-6GBKS"
FAST = 10


@pytest.fixture
def work(tmp_path: Path) -> dict[str, Path]:
    inputs, outputs = tmp_path / "in", tmp_path / "out"
    inputs.mkdir()
    outputs.mkdir()
    plain = inputs / "recipients.csv"
    plain.write_bytes(os.urandom(2 * CHUNK + 100))
    passfile = inputs / "pass.txt"
    passfile.write_text(PASSPHRASE + "\n")
    enc = inputs / "recipients.csv.age"
    age.encrypt_file(plain, enc, passphrase=PASSPHRASE, work_factor=FAST)
    return {"plain": plain, "pass": passfile, "enc": enc, "out": outputs}


def decrypt(enc: Path, out_dir: Path, passfile: Path, check: bool = False):
    return run_gateway("package", "decrypt", str(enc), "-o", str(out_dir / "plain.csv"),
                       "--passphrase-file", str(passfile), check=check)


def assert_refused(proc, *needles: str) -> None:
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    for needle in needles:
        assert needle in proc.stderr, proc.stderr
    assert PASSPHRASE not in proc.stderr + proc.stdout


def test_encrypt_then_decrypt(work: dict[str, Path]) -> None:
    enc = work["out"] / "pkg.age"
    proc = run_gateway("package", "encrypt", str(work["plain"]), "-o", str(enc),
                       "--passphrase-file", str(work["pass"]))
    digest = hashlib.sha256(work["plain"].read_bytes()).hexdigest()
    assert f"sha256: {digest}" in proc.stdout
    (stanza,) = read_header(enc.open("rb")).stanzas
    assert (stanza.type, stanza.args[1]) == ("scrypt", "18")
    assert enc.stat().st_mode & 0o777 == 0o600
    proc = run_gateway("package", "decrypt", str(enc), "-o", str(work["out"] / "back.csv"),
                       "--passphrase-file", str(work["pass"]))
    assert f"sha256: {digest}" in proc.stdout
    assert f"bytes: {2 * CHUNK + 100}" in proc.stdout
    assert (work["out"] / "back.csv").read_bytes() == work["plain"].read_bytes()
    assert sorted(p.name for p in work["out"].iterdir()) == ["back.csv", "pkg.age"]


def test_passphrase_file_without_newline_and_crlf(work: dict[str, Path]) -> None:
    for content in (PASSPHRASE, PASSPHRASE + "\r\n"):
        work["pass"].write_text(content, newline="")
        proc = decrypt(work["enc"], work["out"], work["pass"], check=True)
        assert "bytes: " in proc.stdout


def test_only_one_newline_is_stripped(work: dict[str, Path]) -> None:
    # A passphrase someone chose is taken exactly (a generated one forgives whitespace: below).
    chosen = "correct horse battery"
    age.encrypt_file(work["plain"], work["enc"].with_name("chosen.age"), passphrase=chosen, work_factor=FAST)
    work["pass"].write_text(chosen + "\n\n")
    assert_refused(decrypt(work["enc"].with_name("chosen.age"), work["out"], work["pass"]),
                   "パスワードが違います", "wrong passphrase")


@pytest.mark.parametrize("typed", [
    PASSPHRASE.replace("-", " "),            # as the groups look on paper
    PASSPHRASE.replace("-", ""),             # run together
    PASSPHRASE.lower(),                      # Crockford base32 is read without case
    PASSPHRASE.replace("-", "\u3000"),       # the ideographic space of a Japanese IME
    PASSPHRASE.replace("-", "ー"),            # the hyphen key in kana mode
    "".join(chr(ord(c) + 0xFEE0) if c != "-" else "－" for c in PASSPHRASE),  # full width
])
def test_the_notice_s_passphrase_opens_the_package_however_the_groups_are_typed(work: dict[str, Path],
                                                                               typed: str) -> None:
    work["pass"].write_text(typed + "\n", encoding="utf-8")
    proc = decrypt(work["enc"], work["out"], work["pass"], check=True)
    assert (work["out"] / "plain.csv").read_bytes() == work["plain"].read_bytes()
    assert hashlib.sha256(work["plain"].read_bytes()).hexdigest() in proc.stdout


def test_a_chosen_passphrase_with_spaces_is_not_rewritten(work: dict[str, Path]) -> None:
    chosen = "ABCDE FGHJK MNPQR STVWX YZ234 56789"  # looks generated, but was encrypted with its spaces
    age.encrypt_file(work["plain"], work["enc"], passphrase=chosen, work_factor=FAST)
    work["pass"].write_text(chosen + "\n")
    decrypt(work["enc"], work["out"], work["pass"], check=True)
    assert (work["out"] / "plain.csv").read_bytes() == work["plain"].read_bytes()


def test_wrong_passphrase(work: dict[str, Path]) -> None:
    work["pass"].write_text("WRONG-PASS\n")
    assert_refused(decrypt(work["enc"], work["out"], work["pass"]), "パスワードが違います", "wrong passphrase")
    assert list(work["out"].iterdir()) == []


@pytest.mark.parametrize("content", [b"", b"\n"])
def test_empty_passphrase_file(work: dict[str, Path], content: bytes) -> None:
    work["pass"].write_bytes(content)
    assert_refused(decrypt(work["enc"], work["out"], work["pass"]), "empty")
    assert list(work["out"].iterdir()) == []


def test_unreadable_passphrase_file(work: dict[str, Path]) -> None:
    missing = work["pass"].with_name("missing.txt")
    assert_refused(decrypt(work["enc"], work["out"], missing), "passphrase file")
    # As root, permissions do not stop a read: a directory where the file should be does.
    assert_refused(decrypt(work["enc"], work["out"], work["out"]), "passphrase file")
    assert list(work["out"].iterdir()) == []


def test_encrypt_refuses_empty_passphrase_file(work: dict[str, Path]) -> None:
    work["pass"].write_bytes(b"")
    proc = run_gateway("package", "encrypt", str(work["plain"]), "-o", str(work["out"] / "x.age"),
                       "--passphrase-file", str(work["pass"]), check=False)
    assert_refused(proc, "empty")
    assert list(work["out"].iterdir()) == []


def _payload_start(enc: Path) -> int:
    with enc.open("rb") as src:
        read_header(src)
        return src.tell() + NONCE_SIZE


def _flip(data: bytes, at: int) -> bytes:
    damaged = bytearray(data)
    damaged[at] ^= 0x01
    return bytes(damaged)


def _damage(kind: str, data: bytes, start: int) -> bytes:
    mac_at = data.index(b"\n--- ") + 5
    if kind == "header":
        return data.replace(b"age-encryption.org/v1", b"age-encryption.org/v2", 1)
    if kind == "mac":
        return data[:mac_at] + (b"A" if data[mac_at:mac_at + 1] != b"A" else b"B") + data[mac_at + 1:]
    if kind == "payload-chunk":
        return _flip(data, start + ENC_CHUNK + 1000)
    if kind == "last-chunk":
        return _flip(data, len(data) - 1)
    if kind == "truncated-boundary":
        return data[:start + 2 * ENC_CHUNK]
    if kind == "truncated-mid-chunk":
        return data[:start + ENC_CHUNK + 777]
    if kind == "truncated-header":
        return data[:mac_at]
    if kind == "extended":
        return data + b"\x00"
    if kind == "reordered":
        a, b = data[start:start + ENC_CHUNK], data[start + ENC_CHUNK:start + 2 * ENC_CHUNK]
        return data[:start] + b + a + data[start + 2 * ENC_CHUNK:]
    raise AssertionError(kind)


NAMED = {
    "header": "header",
    "mac": "MAC",
    "payload-chunk": "payload chunk 1",
    "last-chunk": "payload chunk 2",
    "truncated-boundary": "truncated",
    "truncated-mid-chunk": "payload chunk 1",
    "truncated-header": "header",
    "extended": "payload chunk 2",
    "reordered": "payload chunk 0",
}


@pytest.mark.parametrize("kind", list(NAMED))
def test_damaged_file_is_refused_without_output(work: dict[str, Path], kind: str) -> None:
    data = work["enc"].read_bytes()
    work["enc"].write_bytes(_damage(kind, data, _payload_start(work["enc"])))
    proc = decrypt(work["enc"], work["out"], work["pass"])
    assert_refused(proc, "復号できません", "cannot decrypt", NAMED[kind], "No output was written")
    assert list(work["out"].iterdir()) == []


def test_trailing_data_after_full_final_chunk(work: dict[str, Path]) -> None:
    exact = work["plain"].with_name("exact.bin")
    exact.write_bytes(os.urandom(2 * CHUNK))
    enc = exact.with_name("exact.age")
    age.encrypt_file(exact, enc, passphrase=PASSPHRASE, work_factor=FAST)
    enc.write_bytes(enc.read_bytes() + b"garbage")
    assert_refused(decrypt(enc, work["out"], work["pass"]), "trailing data")
    assert list(work["out"].iterdir()) == []


def test_excessive_work_factor_refused(work: dict[str, Path]) -> None:
    age.encrypt_file(work["plain"], work["enc"], passphrase=PASSPHRASE, work_factor=12)
    proc = run_gateway("package", "decrypt", str(work["enc"]), "-o", str(work["out"] / "p.csv"),
                       "--passphrase-file", str(work["pass"]), "--max-work-factor", "11", check=False)
    assert_refused(proc, "work factor")
    assert list(work["out"].iterdir()) == []


def test_public_key_file_gets_its_own_message(work: dict[str, Path]) -> None:
    identity = age.X25519Identity.generate()
    age.encrypt_file(work["plain"], work["enc"], recipients=[identity.recipient()])
    assert_refused(decrypt(work["enc"], work["out"], work["pass"]), "not passphrase-encrypted")


def test_missing_input(work: dict[str, Path]) -> None:
    assert_refused(decrypt(work["enc"].with_name("nope.age"), work["out"], work["pass"]), "not found")
    assert list(work["out"].iterdir()) == []


def test_missing_output_directory(work: dict[str, Path]) -> None:
    proc = run_gateway("package", "decrypt", str(work["enc"]), "-o", str(work["out"] / "no" / "p.csv"),
                       "--passphrase-file", str(work["pass"]), check=False)
    assert_refused(proc, "the output folder does not exist")  # said as what to do (issue 22), no errno text


# --- record count, counted while decrypting ---------------------------------------------------

def _recipients(path: Path, n: int, edit=None) -> Path:
    """A Kurume-schema CP932 file of n rows; several 64 KiB chunks once n is in the thousands."""
    from tests.test_records_reader import kurume

    return kurume(path, n, name=path.name if path.suffix == ".csv" else "in.csv", edit=edit)


def _printed(stdout: str) -> dict[str, str]:
    return dict(line.split(": ", 1) for line in stdout.splitlines() if ": " in line)


def _encrypted(tmp_path: Path, plain: Path) -> tuple[Path, Path]:
    passfile, enc = tmp_path / "pass.txt", tmp_path / "in.csv.age"
    passfile.write_text(PASSPHRASE + "\n")
    age.encrypt_file(plain, enc, passphrase=PASSPHRASE, work_factor=FAST)
    return enc, passfile


def test_decrypt_counts_records_and_hashes_in_the_same_pass(tmp_path):
    plain = _recipients(tmp_path, 3000)
    assert plain.stat().st_size > 3 * CHUNK
    enc, passfile = _encrypted(tmp_path, plain)
    out = tmp_path / "out"
    out.mkdir()
    proc = decrypt(enc, out, passfile, check=True)
    printed = _printed(proc.stdout)
    assert (out / "plain.csv").read_bytes() == plain.read_bytes()
    assert printed == {"sha256": hashlib.sha256(plain.read_bytes()).hexdigest(),
                       "bytes": str(plain.stat().st_size), "records": "3000"}


def test_a_row_that_would_not_validate_is_counted_all_the_same(tmp_path):
    # Row 100 has a date no one was born on. The count is of rows: validating cells is the
    # sender's job (the gateway did it before encrypting), the SHA-256 says whether it is that file.
    def edit(rows):
        rows[100][1] = "2099-13-45"

    plain = _recipients(tmp_path, 3000, edit=edit)
    enc, passfile = _encrypted(tmp_path, plain)
    out = tmp_path / "out"
    out.mkdir()
    printed = _printed(decrypt(enc, out, passfile, check=True).stdout)
    assert (out / "plain.csv").read_bytes() == plain.read_bytes()
    assert printed == {"sha256": hashlib.sha256(plain.read_bytes()).hexdigest(), "bytes": str(plain.stat().st_size),
                       "records": "3000"}


def test_a_file_that_is_not_a_recipient_file_decrypts_whole_without_a_count(tmp_path):
    plain = tmp_path / "plain.csv"
    plain.write_text("品名,数量\n" + "封筒,3\n" * 20000, encoding="utf-8")  # no column of a recipient file
    enc, passfile = _encrypted(tmp_path, plain)
    out = tmp_path / "out"
    out.mkdir()
    printed = _printed(decrypt(enc, out, passfile, check=True).stdout)
    assert (out / "plain.csv").read_bytes() == plain.read_bytes()
    assert printed == {"sha256": hashlib.sha256(plain.read_bytes()).hexdigest(), "bytes": str(plain.stat().st_size)}


def test_damage_after_the_count_began_leaves_no_output(tmp_path):
    plain = _recipients(tmp_path, 3000)
    enc, passfile = _encrypted(tmp_path, plain)
    data = bytearray(enc.read_bytes())
    data[-100] ^= 0x01  # the last chunk: the scanner has read every row before it
    enc.write_bytes(bytes(data))
    out = tmp_path / "out"
    out.mkdir()
    proc = decrypt(enc, out, passfile)
    assert proc.returncode == 1
    assert "records" not in proc.stdout
    assert "復号できません" in proc.stderr and "cannot decrypt" in proc.stderr
    assert list(out.iterdir()) == []
