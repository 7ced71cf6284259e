"""The bus CA (courtbus.security.pki): subjects, validity, SANs, encrypted keys, the CRL."""

from __future__ import annotations

import datetime as dt
import ipaddress
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from courtbus.errors import ConfigError
from courtbus.security import pki


@pytest.fixture
def ca(tmp_path: Path) -> pki.Authority:
    return pki.authority(tmp_path, create=True)


def test_the_ca_is_self_signed_and_may_only_sign(ca: pki.Authority) -> None:
    cert = ca.certificate()
    assert cert.issuer == cert.subject
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.key_cert_sign and usage.crl_sign and not usage.digital_signature
    assert stat.S_IMODE(ca.ca_key.stat().st_mode) == 0o600
    assert ca.revoked() == {}


def test_a_participant_certificate_names_its_principal_kind_and_the_bus(
    ca: pki.Authority,
) -> None:
    creds = ca.issue("court.320583")
    cert = creds.certificate()
    assert cert.subject.rfc4514_string() == "CN=court.320583,OU=court,O=courtbus"
    assert cert.issuer == ca.certificate().subject
    cert.verify_directly_issued_by(ca.certificate())
    usages = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usages) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    points = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    assert [n.value for p in points for n in p.full_name or []] == [ca.crl.resolve().as_uri()]
    assert pki.credentials(ca.folder.parent, "court.320583") == creds


def test_the_key_is_encrypted_with_the_password_beside_it(ca: pki.Authority) -> None:
    creds = ca.issue("agency.nia")
    pem = creds.key.read_bytes()
    assert pem.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    with pytest.raises(TypeError):
        serialization.load_pem_private_key(pem, password=None)
    password = creds.key_password()
    assert password and not creds.key_password_file.read_bytes().endswith(b"\n")  # type: ignore[union-attr]
    serialization.load_pem_private_key(pem, password=password.encode())
    for secret in (creds.key, creds.key_password_file):
        assert secret is not None and stat.S_IMODE(secret.stat().st_mode) == 0o600


def test_validity_dates_are_those_asked(ca: pki.Authority) -> None:
    start = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    creds = ca.issue("court.6101", not_before=start, not_after=start + dt.timedelta(days=2))
    cert = creds.certificate()
    assert cert.not_valid_before_utc == start
    assert creds.not_after == start + dt.timedelta(days=2)
    default = ca.issue("court.6103").certificate()
    assert (default.not_valid_after_utc - default.not_valid_before_utc).days == pki.CERT_DAYS


def test_a_node_certificate_serves_127_0_0_1_and_localhost(ca: pki.Authority) -> None:
    creds = ca.issue("node.1", hosts=("127.0.0.1", "localhost"), encrypt_key=False)
    cert = creds.certificate()
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1")]
    assert sans.get_values_for_type(x509.DNSName) == ["localhost"]
    usages = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.SERVER_AUTH in usages
    assert creds.key_password_file is None
    serialization.load_pem_private_key(creds.key.read_bytes(), password=None)
    assert cert.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)[0].value == "node"


def test_revoking_puts_the_serial_on_a_crl_signed_by_the_ca(ca: pki.Authority) -> None:
    kept, gone = ca.issue("court.320583"), ca.issue("court.6101")
    ca.revoke(gone)
    crl = x509.load_pem_x509_crl(ca.crl.read_bytes())
    assert crl.is_signature_valid(ca.certificate().public_key())  # type: ignore[arg-type]
    assert crl.get_revoked_certificate_by_serial_number(gone.serial) is not None
    assert crl.get_revoked_certificate_by_serial_number(kept.serial) is None
    assert crl.next_update_utc is not None
    assert crl.next_update_utc > dt.datetime.now(dt.UTC) + dt.timedelta(days=pki.CRL_DAYS - 1)
    ca.refresh_crl()  # re-signed: the entry stays
    assert set(ca.revoked()) == {gone.serial}


def test_revoking_through_the_home_names_a_principal_without_certificate(tmp_path: Path) -> None:
    pki.authority(tmp_path, create=True)
    with pytest.raises(ConfigError) as info:
        pki.revoke(tmp_path, "court.320583")
    assert info.value.code == "CREDENTIALS_UNKNOWN"


def test_a_certificate_of_another_ca_cannot_be_revoked_here(tmp_path: Path) -> None:
    ours, theirs = pki.Authority.open(tmp_path / "a"), pki.Authority.open(tmp_path / "b")
    with pytest.raises(ConfigError) as info:
        ours.revoke(theirs.issue("court.320583"))
    assert info.value.code == "PKI_FOREIGN_CERT"


def test_no_ca_is_made_unless_asked(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        pki.issue(tmp_path, "court.320583")
    assert info.value.code == "PKI_MISSING"


@pytest.mark.parametrize("bad", ["", "Court.1", "court 1", ".x", "court/1", "cn=x,o=y"])
def test_a_principal_that_cannot_be_a_cn_is_refused(ca: pki.Authority, bad: str) -> None:
    with pytest.raises(ConfigError) as info:
        ca.issue(bad)
    assert info.value.code == "PRINCIPAL_INVALID"


def test_the_java_key_store_holds_key_chain_and_the_key_password(ca: pki.Authority) -> None:
    creds = ca.issue("service.gateway")
    password = creds.key_password()
    assert password is not None
    key, cert, chain = pkcs12.load_key_and_certificates(
        creds.pkcs12().read_bytes(), password.encode()
    )
    assert key is not None and cert == creds.certificate()
    assert chain == [ca.certificate()]
