"""Kurume 2020: the contractor relays to its approved subcontractor by security courier (seed 000).

The city sends to chikugo-print; its designated handler relays under `subcontract-courier` with
the parent transfer named; ariake-fuunyu keeps its own custody records and confirms its own
receipt. The city's evidence shows the chain city → contractor → subcontractor and back.
"""
from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from tests.conftest import APPROVALS, run_gateway
from tests.courier.conftest import KURUME, evidence, passphrase_of, report, serious


@pytest.fixture
def received(cli, tmp_path) -> SimpleNamespace:
    """The city's package, fetched, decrypted and confirmed by the contractor on day 1."""
    cli.at("2020-06-01T09:00:00")
    cli("approval", "add", str(APPROVALS / f"{KURUME}.toml"))
    cli("user", "add", "s.staff", "--org", "kurume", "--role", "staff", "--name", "職員 一郎")
    cli("user", "add", "x.outsider", "--org", "chikugo-print", "--role", "contractor", "--name", "部外 者")
    source = tmp_path / "kurume.csv"
    run_gateway("generate", "recipients", "--count", "60", "--schema", "kurume-2020", "--seed", "5", "-o", str(source))
    sent = cli.json("send", str(source), "--approval", KURUME, "--recipient", "chikugo-print", "--profile", "vpn-sftp",
                    "--password-delivery", "registered-mail", "--as", "s.staff", "--paper-ref", "書面 1")
    cli.at("2020-06-01T10:00:00")
    cli("fetch", sent["transfer"], "-o", str(tmp_path / "city.age"), "--as", "k.tanaka", "--paper-ref", "書面 1")
    (tmp_path / "city.pass").write_text(sent["passphrase"])
    cli("package", "decrypt", str(tmp_path / "city.age"), "-o", str(tmp_path / "relay.csv"), "--passphrase-file",
        str(tmp_path / "city.pass"))
    cli("receipt", sent["transfer"], "--records", "60", "--sha256", sent["sha256"], "--as", "k.tanaka", "--paper-ref", "書面 1")
    return SimpleNamespace(transfer=sent["transfer"], file=tmp_path / "relay.csv")


def relay(cli, received, *, to: str = "ariake-fuunyu", login: str = "k.tanaka", parent: str | None = None,
          check: bool = True, notice=None):
    extra = ["--notice", str(notice)] if notice else []
    return cli("send", str(received.file), "--approval", KURUME, "--recipient", to, "--profile", "subcontract-courier",
               "--password-delivery", "registered-mail", "--relay-of", parent or received.transfer, "--as", login, "--paper-ref", "書面 1",
               "--json", *extra, check=check)


def test_relay_to_the_approved_subcontractor_with_its_own_custody_and_receipt(cli, received, tmp_path):
    cli.at("2020-06-01T13:00:00")
    sent = json.loads(relay(cli, received, notice=tmp_path / "relay-notice.html").stdout)
    t = sent["transfer"]
    written = cli.json("courier", "write", t, "--media", "dvd", "--serial", "CP-SEC-0001", "-o", str(tmp_path / "m"),
                       "--cabinet", "筑後 媒体金庫", "--as", "k.tanaka", "--paper-ref", "書面 1")
    cli.at("2020-06-01T16:00:00")
    cli("courier", "handover", "CP-SEC-0001", "--to", "y.hirano", "--place", "筑後セキュアプリント 出荷場",
        "--quantity", "1", "--cabinet", "有明 媒体金庫", "--means", "security-courier", "--run", "SEC-20200601-01",
        "--receipt-no", "AR-1", "--as", "k.tanaka", "--paper-ref", "書面 1")
    cli.at("2020-06-02T10:00:00")
    cli("courier", "handover", f"N-{t}", "--to", "y.hirano", "--place", "有明封入封緘 受付",
        "--quantity", "1", "--cabinet", "有明 通知書キャビネット", "--means", "registered-mail", "--run", "RM-5566",
        "--as", "k.tanaka", "--paper-ref", "書面 1")
    # The subcontractor joins the package from the disc image and decrypts it with the notice.
    cli("courier", "extract", *written["paths"], "-o", str(tmp_path / "sub.age"))
    (tmp_path / "sub.pass").write_text(passphrase_of(tmp_path / "relay-notice.html"))
    out = cli("package", "decrypt", str(tmp_path / "sub.age"), "-o", str(tmp_path / "sub.csv"), "--passphrase-file",
              str(tmp_path / "sub.pass")).stdout
    assert sent["sha256"] in out
    cli("receipt", t, "--records", "60", "--sha256", sent["sha256"], "--as", "y.hirano", "--paper-ref", "書面 1")
    cli.at("2020-06-04T10:00:00")
    for item, cabinet in (("CP-SEC-0001", "筑後 媒体金庫"), (f"N-{t}", "筑後 通知書キャビネット")):
        cli("courier", "return", item, "--to", "k.tanaka", "--place", "筑後セキュアプリント 受付", "--quantity", "1",
            "--cabinet", cabinet, "--means", "security-courier" if item.startswith("CP") else "hand",
            "--as", "y.hirano", "--paper-ref", "書面 1")
    deletion = cli("deletion", "request", t, "--items", "封入封緘用宛名データ", "--media", "作業PC", "--quantity", "1",
                   "--method", "上書き消去", "--planned-date", "2020-06-05", "--as", "y.hirano", "--paper-ref", "書面 1").stdout.split()[-1]
    assert deletion.startswith("D-")

    cli.at("2020-06-05T10:00:00")
    rep = report(cli, tmp_path, KURUME)
    assert rep["verified"] is True and serious(rep) == []
    transfers = {d["transfer"]: d for d in evidence(rep, "transfer")}
    assert transfers[t]["parent_transfer"] == received.transfer
    assert transfers[t]["sender"]["org"] == "chikugo-print" and transfers[t]["recipient"]["org"] == "ariake-fuunyu"
    assert transfers[received.transfer]["sender"]["org"] == "kurume"
    custody = evidence(rep, "custody")
    assert [(d["from"]["org"], d["to"]["org"], d["event"]) for d in custody] == [
        ("chikugo-print", "ariake-fuunyu", "handover"), ("chikugo-print", "ariake-fuunyu", "handover"),
        ("ariake-fuunyu", "chikugo-print", "return"), ("ariake-fuunyu", "chikugo-print", "return")]
    assert custody[0]["means"] == "security-courier" and custody[0]["return_due"] is not None
    receipts = {d["transfer"]: d["confirmed_by"]["org"] for d in evidence(rep, "receipt")}
    assert receipts == {received.transfer: "chikugo-print", t: "ariake-fuunyu"}
    assert [d["requested_by"]["org"] for d in evidence(rep, "deletion-request")] == ["ariake-fuunyu"]


def test_relay_to_an_unapproved_subcontractor_is_refused(cli, received, tmp_path):
    cli.at("2020-06-01T13:00:00")
    proc = relay(cli, received, to="hakata-mailing", check=False)
    assert proc.returncode == 1 and "[unapproved-recipient]" in proc.stderr and "再委託先" in proc.stderr
    rep = report(cli, tmp_path, KURUME)
    assert serious(rep) == [("unapproved-recipient", True)]
    assert len(evidence(rep, "transfer")) == 1  # only the city's


def test_only_a_designated_handler_relays_only_what_it_received(cli, received, tmp_path):
    cli.at("2020-06-01T13:00:00")
    proc = relay(cli, received, login="x.outsider", check=False)
    assert proc.returncode == 1 and "[non-designated-handler]" in proc.stderr
    proc = relay(cli, received, parent="T20200601-doesnotexist", check=False)
    assert proc.returncode == 1 and "--relay-of" in proc.stderr
