"""The bus's certificate authority: its key and certificate, node and participant
certificates, and the revocation list (CRL), as PEM files under one folder.

Layout of ``<stack home>/pki`` (see :func:`pki_dir`)::

    ca.crt  ca.key          the bus CA (self-signed; the key never leaves this folder)
    crl.pem                 the CA's revocation list, re-signed on every revocation
    issued/<principal>/     one folder per certificate holder: cert.pem, key.pem,
                            key.password (the key is encrypted with it), ca.crt

Every certificate is ``CN=<principal>,OU=<kind>,O=courtbus`` (see
:mod:`courtbus.security.principals`) and carries a CRL distribution point naming ``crl.pem``
as a ``file:`` URI: the brokers' JVMs are started with the JDK's own revocation checking on
(``-Dcom.sun.net.ssl.checkRevocation=true -Dcom.sun.security.enableCRLDP=true``), which reads
the list from that URI on each handshake (cached, re-read when the file changes), so a
revoked certificate is refused without any network. Node certificates carry the SANs
``127.0.0.1`` and ``localhost``.

Public API for other modules and tests: :func:`issue` (a certificate for any principal),
:func:`credentials` (what was issued), :func:`revoke`, :class:`Authority`.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from courtbus.errors import ConfigError
from courtbus.security.principals import kind

CA_NAME = "courtbus bus CA"
ORGANIZATION = "courtbus"
CA_DAYS = 3650
CERT_DAYS = 397  # the CA/Browser Forum's ceiling for a leaf: one rotation a year
CRL_DAYS = 30  # a CRL past its next update is refused by the JDK: re-signed on every change
_PRINCIPAL_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789.-_")


_USAGE_OFF = dict.fromkeys(
    (
        "digital_signature",
        "content_commitment",
        "key_encipherment",
        "data_encipherment",
        "key_agreement",
        "key_cert_sign",
        "crl_sign",
        "encipher_only",
        "decipher_only",
    ),
    False,
)
_CA_USAGE = x509.KeyUsage(**{**_USAGE_OFF, "key_cert_sign": True, "crl_sign": True})
_LEAF_USAGE = x509.KeyUsage(**{**_USAGE_OFF, "digital_signature": True, "key_agreement": True})


def _distribution_point(uri: str) -> x509.CRLDistributionPoints:
    point = x509.DistributionPoint(
        full_name=[x509.UniformResourceIdentifier(uri)],
        relative_name=None,
        reasons=None,
        crl_issuer=None,
    )
    return x509.CRLDistributionPoints([point])


def pki_dir(home: Path) -> Path:
    """The CA folder of the stack in ``home``."""
    return home / "pki"


@dataclass(frozen=True, slots=True)
class Credentials:
    """What one holder needs to connect: its certificate, key, the key's password, the CA.

    ``key_password_file`` is None for an unencrypted key.
    """

    principal: str
    folder: Path
    cert: Path
    key: Path
    ca: Path
    key_password_file: Path | None

    def key_password(self) -> str | None:
        """The key's password (read from ``key_password_file``), or None."""
        if self.key_password_file is None:
            return None
        return self.key_password_file.read_text().strip()

    def certificate(self) -> x509.Certificate:
        """The parsed certificate."""
        return x509.load_pem_x509_certificate(self.cert.read_bytes())

    def pkcs12(self) -> Path:
        """``keystore.p12`` beside the PEM files: the key and certificate chain for Java
        clients, protected by the key's password (written from the PEM files when missing or
        older than them). Java 17 cannot read an encrypted PKCS#8 PEM key (it names the
        algorithm ``PBES2`` and finds no cipher for it), but reads this."""
        path = self.folder / "keystore.p12"
        if path.exists() and path.stat().st_mtime >= self.cert.stat().st_mtime:
            return path
        password = self.key_password()
        secret = password.encode() if password else None
        key = serialization.load_pem_private_key(self.key.read_bytes(), password=secret)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ConfigError(f"{self.key} is not an EC key", code="PKI_INVALID")
        ca = x509.load_pem_x509_certificate(self.ca.read_bytes())
        encryption: serialization.KeySerializationEncryption = (
            serialization.BestAvailableEncryption(secret)
            if secret
            else serialization.NoEncryption()
        )
        data = pkcs12.serialize_key_and_certificates(
            self.principal.encode(), key, self.certificate(), [ca], encryption
        )
        write_private(path, data)
        return path

    @property
    def serial(self) -> int:
        """The certificate's serial number."""
        return self.certificate().serial_number

    @property
    def not_after(self) -> dt.datetime:
        """When the certificate expires (UTC)."""
        return self.certificate().not_valid_after_utc


def _check_principal(principal: str) -> None:
    if not principal or set(principal) - _PRINCIPAL_CHARS or principal[0] in ".-":
        raise ConfigError(
            f"principal {principal!r}: use lower-case letters, digits, '.', '-' and '_' "
            "(e.g. court.320583)",
            code="PRINCIPAL_INVALID",
        )


def subject(principal: str) -> x509.Name:
    """``CN=<principal>,OU=<kind>,O=courtbus`` (RFC 4514 order; Java prints it the same way)."""
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANIZATION),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, kind(principal)),
            x509.NameAttribute(NameOID.COMMON_NAME, principal),
        ]
    )


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` readable by the owner only (created 0600, never world-readable)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    path.chmod(0o600)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


class Authority:
    """The bus CA kept in ``folder`` (see the module docstring for the files)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    @property
    def ca_cert(self) -> Path:
        """The CA certificate (PEM): the trust anchor every broker and client loads."""
        return self.folder / "ca.crt"

    @property
    def ca_key(self) -> Path:
        """The CA's private key (PEM, unencrypted, mode 0600)."""
        return self.folder / "ca.key"

    @property
    def crl(self) -> Path:
        """The revocation list (PEM)."""
        return self.folder / "crl.pem"

    @property
    def crl_uri(self) -> str:
        """The CRL distribution point written into every certificate (a ``file:`` URI)."""
        return self.crl.resolve().as_uri()

    def issued_dir(self, principal: str) -> Path:
        """The folder of ``principal``'s credentials."""
        return self.folder / "issued" / principal

    def exists(self) -> bool:
        """True once the CA was created here."""
        return self.ca_cert.exists() and self.ca_key.exists()

    @classmethod
    def open(cls, folder: Path, *, create: bool = True) -> Authority:
        """The CA in ``folder``; created (key, self-signed certificate, empty CRL) if absent and
        ``create``.

        Raises:
            ConfigError: ``PKI_MISSING`` if there is none and ``create`` is false.
        """
        ca = cls(folder)
        if ca.exists():
            return ca
        if not create:
            raise ConfigError(
                f"no bus CA in {folder}: `courtbus stack up` creates one", code="PKI_MISSING"
            )
        ca._create()
        return ca

    def _create(self, name: str = CA_NAME) -> None:
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        key = ec.generate_private_key(ec.SECP256R1())
        now = _now()
        name_ = x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANIZATION),
                x509.NameAttribute(NameOID.COMMON_NAME, name),
            ]
        )
        cert = (
            x509.CertificateBuilder()
            .subject_name(name_)
            .issuer_name(name_)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=CA_DAYS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(_CA_USAGE, critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
            .sign(key, hashes.SHA256())
        )
        write_private(
            self.ca_key,
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
        )
        self.ca_cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        self._write_crl([])

    def _key(self) -> ec.EllipticCurvePrivateKey:
        key = serialization.load_pem_private_key(self.ca_key.read_bytes(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ConfigError(f"{self.ca_key} is not an EC key", code="PKI_INVALID")
        return key

    def certificate(self) -> x509.Certificate:
        """The parsed CA certificate."""
        return x509.load_pem_x509_certificate(self.ca_cert.read_bytes())

    def issue(
        self,
        principal: str,
        *,
        days: int = CERT_DAYS,
        not_before: dt.datetime | None = None,
        not_after: dt.datetime | None = None,
        hosts: tuple[str, ...] = (),
        encrypt_key: bool = True,
        folder: Path | None = None,
    ) -> Credentials:
        """Issue a certificate for ``principal`` (a fresh EC P-256 key) into its folder.

        ``not_before``/``not_after`` default to now and ``days`` later (tests pass dates in
        the past for an expired certificate). ``hosts`` become subjectAltNames (IP addresses
        or DNS names) and make it a server certificate too (a node's). The key is encrypted
        (PKCS#8, a random password in ``key.password``) unless ``encrypt_key`` is false.
        Issuing again replaces the holder's files (rotation); the old certificate stays
        valid until it expires or is revoked.

        Raises:
            ConfigError: ``PRINCIPAL_INVALID``.
        """
        _check_principal(principal)
        ca_key, ca_cert = self._key(), self.certificate()
        key = ec.generate_private_key(ec.SECP256R1())
        start = not_before or _now() - dt.timedelta(minutes=5)
        end = not_after or start + dt.timedelta(days=days)
        usages = [ExtendedKeyUsageOID.CLIENT_AUTH] + (
            [ExtendedKeyUsageOID.SERVER_AUTH] if hosts else []
        )
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject(principal))
            .issuer_name(ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(end)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_LEAF_USAGE, critical=True)
            .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
            )
            .add_extension(_distribution_point(self.crl_uri), critical=False)
        )
        if hosts:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([_san(h) for h in hosts]), critical=False
            )
        cert = builder.sign(ca_key, hashes.SHA256())
        where = folder or self.issued_dir(principal)
        where.mkdir(mode=0o700, parents=True, exist_ok=True)
        password_file = where / "key.password" if encrypt_key else None
        encryption: serialization.KeySerializationEncryption = serialization.NoEncryption()
        if password_file is not None:
            password = secrets.token_urlsafe(24)
            write_private(password_file, password.encode())  # no newline: Java reads it whole
            encryption = serialization.BestAvailableEncryption(password.encode())
        else:
            (where / "key.password").unlink(missing_ok=True)
        write_private(
            where / "key.pem",
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
            ),
        )
        (where / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        (where / "ca.crt").write_bytes(self.ca_cert.read_bytes())
        return Credentials(
            principal,
            where,
            where / "cert.pem",
            where / "key.pem",
            where / "ca.crt",
            password_file,
        )

    def registry_password(self, principal: str) -> str:
        """``principal``'s password for the schema registry (HTTP basic authentication), kept
        in ``issued/<principal>/registry.password``; made on first use."""
        _check_principal(principal)
        path = self.issued_dir(principal) / "registry.password"
        if not path.exists():
            write_private(path, secrets.token_urlsafe(24).encode())
        return path.read_text().strip()

    def credentials(self, principal: str) -> Credentials | None:
        """What was issued to ``principal`` here, or None."""
        where = self.issued_dir(principal)
        if not (where / "cert.pem").exists():
            return None
        password = where / "key.password"
        return Credentials(
            principal,
            where,
            where / "cert.pem",
            where / "key.pem",
            where / "ca.crt",
            password if password.exists() else None,
        )

    def revoked(self) -> dict[int, dt.datetime]:
        """The serial numbers on the CRL and when each was revoked."""
        crl = x509.load_pem_x509_crl(self.crl.read_bytes())
        return {r.serial_number: r.revocation_date_utc for r in crl}

    def revoke(self, cert: x509.Certificate | Credentials) -> None:
        """Put a certificate on the CRL and re-sign it (a ``Credentials`` holder's current
        certificate). Brokers refuse it from their next handshake with the new list (the JDK
        re-reads a changed CRL file; see the module docstring).

        Raises:
            ConfigError: ``PKI_FOREIGN_CERT`` if the certificate is not this CA's.
        """
        certificate = cert.certificate() if isinstance(cert, Credentials) else cert
        try:  # the signature, not the issuer's name: another CA may bear the same name
            certificate.verify_directly_issued_by(self.certificate())
        except (ValueError, TypeError, InvalidSignature):
            raise ConfigError(
                f"certificate {certificate.subject.rfc4514_string()} was not issued by this CA",
                code="PKI_FOREIGN_CERT",
            ) from None
        entries = self.revoked()
        entries.setdefault(certificate.serial_number, _now())
        self._write_crl(sorted(entries.items()))

    def refresh_crl(self) -> None:
        """Re-sign the CRL with the same entries (a CRL past its next update is refused)."""
        self._write_crl(sorted(self.revoked().items()))

    def _write_crl(self, entries: list[tuple[int, dt.datetime]]) -> None:
        now = _now()
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(self.certificate().subject)
            .last_update(now - dt.timedelta(minutes=5))
            .next_update(now + dt.timedelta(days=CRL_DAYS))
            .add_extension(x509.CRLNumber(int(now.timestamp() * 1000)), critical=False)
        )
        for serial, when in entries:
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(when).build()
            )
        crl = builder.sign(self._key(), hashes.SHA256())
        tmp = self.crl.with_suffix(".tmp")
        tmp.write_bytes(crl.public_bytes(serialization.Encoding.PEM))
        tmp.replace(self.crl)  # atomic: a broker never reads half a list
        self._record({"crl_updated": now.isoformat()})

    def _record(self, facts: dict[str, str]) -> None:
        path = self.folder / "pki.json"
        saved = json.loads(path.read_text()) if path.exists() else {}
        saved.update(facts)
        path.write_text(json.dumps(saved, indent=2))


def _san(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


# -- the stack home's API ---------------------------------------------------------------------


def authority(home: Path, *, create: bool = False) -> Authority:
    """The CA of the stack in ``home``.

    Raises:
        ConfigError: ``PKI_MISSING`` if none was created (and not ``create``).
    """
    return Authority.open(pki_dir(home), create=create)


def issue(home: Path, principal: str, **options: object) -> Credentials:
    """Issue a certificate for ``principal`` from the CA of the stack in ``home`` (see
    :meth:`Authority.issue` for ``options``: ``days``, ``not_before``, ``not_after``, ...).

    Raises:
        ConfigError: ``PKI_MISSING`` or ``PRINCIPAL_INVALID``.
    """
    return authority(home).issue(principal, **options)  # type: ignore[arg-type]


def credentials(home: Path, principal: str) -> Credentials | None:
    """The credentials issued to ``principal`` in the stack in ``home``, or None."""
    folder = pki_dir(home)
    return Authority(folder).credentials(principal) if Authority(folder).exists() else None


def revoke(home: Path, principal: str) -> Credentials:
    """Revoke ``principal``'s current certificate in the stack in ``home``.

    Raises:
        ConfigError: ``PKI_MISSING``, or ``CREDENTIALS_UNKNOWN`` if none was issued to it.
    """
    ca = authority(home)
    creds = ca.credentials(principal)
    if creds is None:
        raise ConfigError(f"no certificate issued to {principal}", code="CREDENTIALS_UNKNOWN")
    ca.revoke(creds)
    return creds
