"""A real OpenLDAP slapd for the tests: run as the unprivileged `openldap` user from a temporary
directory of its own (slapd.conf, an mdb database loaded with slapadd), listening on 127.0.0.1 only,
with StartTLS on its ldap:// port and TLS on its ldaps:// port, under a CA made for the test.
The directory's contents are synthetic: a city's staff and officers and the groups that map to
the gateway's roles. Changes during a test go through ldap-utils as the directory's administrator."""
from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from ipaddress import IPv4Address
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

SUFFIX = "dc=kurume,dc=example"
ROOT_DN = f"cn=admin,{SUFFIX}"
ROOT_PW = "directory-admin-test-only"
STAFF_GROUP = f"cn=gateway-staff,ou=groups,{SUFFIX}"
OFFICER_GROUP = f"cn=gateway-officers,ou=groups,{SUFFIX}"
OTHER_GROUP = f"cn=library,ou=groups,{SUFFIX}"
SLAPD = "/usr/sbin/slapd"


def person_dn(login: str) -> str:
    return f"uid={login},ou=people,{SUFFIX}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_ca(where: Path, name: str) -> tuple[Path, ec.EllipticCurvePrivateKey, x509.Certificate]:
    now = datetime.now(UTC)
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                         crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
            .sign(key, hashes.SHA256()))
    path = where / f"{name.replace(' ', '-')}.pem"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path, key, cert


def _server_cert(where: Path, ca_key: ec.EllipticCurvePrivateKey, ca: x509.Certificate) -> tuple[Path, Path]:
    now = datetime.now(UTC)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
            .issuer_name(ca.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(IPv4Address("127.0.0.1"))]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    cert_path, key_path = where / "server.pem", where / "server.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


PEOPLE = {  # login: (name, groups): synthetic people of a synthetic city
    "s.yamada": ("山田 聡", [STAFF_GROUP]),
    "m.kato": ("加藤 真理", [OFFICER_GROUP]),
    "n.ito": ("伊藤 直樹", [OTHER_GROUP]),
    "r.both": ("林 涼子", [STAFF_GROUP, OFFICER_GROUP]),
    "k.leaver": ("小林 健", [STAFF_GROUP]),
    "d.gone": ("斎藤 大輔", [STAFF_GROUP]),
    "l.locked": ("松本 里美", [STAFF_GROUP]),
}


def password_of(login: str) -> str:
    return f"dir-{login}-pass-2020"


def _ldif() -> str:
    out = [f"dn: {SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\ndc: kurume\no: Kurume test city\n",
           f"dn: ou=people,{SUFFIX}\nobjectClass: organizationalUnit\nou: people\n",
           f"dn: ou=groups,{SUFFIX}\nobjectClass: organizationalUnit\nou: groups\n"]
    for login, (name, _groups) in PEOPLE.items():
        out.append(f"dn: {person_dn(login)}\nobjectClass: inetOrgPerson\nuid: {login}\ncn: {login}\n"
                   f"sn: {login.split('.')[-1]}\ndisplayName:: {_b64(name)}\nuserPassword: {password_of(login)}\n")
    for group in (STAFF_GROUP, OFFICER_GROUP, OTHER_GROUP):
        members = [person_dn(login) for login, (_n, groups) in PEOPLE.items() if group in groups]
        cn = group.split(",")[0].split("=")[1]
        out.append(f"dn: {group}\nobjectClass: groupOfNames\ncn: {cn}\n" + "".join(f"member: {m}\n" for m in members))
    return "\n".join(out)


def _b64(text: str) -> str:
    import base64

    return base64.b64encode(text.encode("utf-8")).decode("ascii")


@dataclass
class Slapd:
    root: Path
    ca: Path
    starttls_port: int
    ldaps_port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def starttls_url(self) -> str:
        return f"ldap://127.0.0.1:{self.starttls_port}"

    @property
    def ldaps_url(self) -> str:
        return f"ldaps://127.0.0.1:{self.ldaps_port}"

    def start(self) -> Slapd:
        log = (self.root / "slapd.log").open("ab")
        self.process = subprocess.Popen(
            ["runuser", "-u", "openldap", "--", SLAPD, "-f", str(self.root / "slapd.conf"), "-d", "0",
             "-h", f"{self.starttls_url}/ {self.ldaps_url}/"], stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"slapd exited: {(self.root / 'slapd.log').read_text(errors='replace')[-2000:]}")
            try:
                for port in (self.starttls_port, self.ldaps_port):
                    socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("slapd did not start listening within 20 s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def modify(self, ldif: str) -> None:
        """A change as the directory's administrator, with ldapmodify over StartTLS (-ZZ: TLS or nothing)."""
        env = {**os.environ, "LDAPTLS_CACERT": str(self.ca), "LDAPTLS_REQCERT": "demand"}
        subprocess.run(["ldapmodify", "-ZZ", "-H", self.starttls_url, "-D", ROOT_DN, "-w", ROOT_PW],
                       input=ldif.encode(), env=env, check=True, capture_output=True)

    def remove_from_group(self, login: str, group: str) -> None:
        self.modify(f"dn: {group}\nchangetype: modify\ndelete: member\nmember: {person_dn(login)}\n")

    def delete_person(self, login: str) -> None:
        self.modify(f"dn: {person_dn(login)}\nchangetype: delete\n")


def start_slapd() -> Slapd:
    """A loaded, listening slapd; the caller stops it and removes `root`."""
    # Under /tmp itself (not pytest's 0700 tmp_path), so that the openldap user can reach it.
    root = Path(tempfile.mkdtemp(prefix="gateway-slapd-"))
    ca, ca_key, ca_cert = make_ca(root, "test directory CA")
    cert, key = _server_cert(root, ca_key, ca_cert)
    (root / "db").mkdir()
    (root / "slapd.conf").write_text(f"""
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
modulepath /usr/lib/ldap
moduleload back_mdb
pidfile {root}/slapd.pid
TLSCACertificateFile {ca}
TLSCertificateFile {cert}
TLSCertificateKeyFile {key}
# A simple bind (a password) only over TLS: the gateway never tries otherwise, and neither may anyone.
security simple_bind=128
database mdb
maxsize 10485760
suffix "{SUFFIX}"
rootdn "{ROOT_DN}"
rootpw {ROOT_PW}
directory {root}/db
access to attrs=userPassword by self =x by anonymous auth by * none
access to * by users read by * none
""")
    (root / "data.ldif").write_text(_ldif(), encoding="utf-8")
    ldap_user = pwd.getpwnam("openldap")
    for path in [root, *root.rglob("*")]:
        os.chown(path, ldap_user.pw_uid, ldap_user.pw_gid)
    subprocess.run(["runuser", "-u", "openldap", "--", "/usr/sbin/slapadd", "-f", str(root / "slapd.conf"),
                    "-l", str(root / "data.ldif")], check=True, capture_output=True)
    return Slapd(root, ca, free_port(), free_port()).start()


def remove(slapd: Slapd) -> None:
    slapd.stop()
    shutil.rmtree(slapd.root, ignore_errors=True)
