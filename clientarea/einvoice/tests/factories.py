"""Builders of sample invoices for the e-invoice tests (pure data, no database).

Test data only: the NITs are valid check-digit pairs (§6.1 of the facts file),
the numbering range and technical key are DIAN's public habilitación test set
(§1.2, §5), the people and companies are made up.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from clientarea.einvoice.documents import InvoiceDocument, Line, Party, Resolution

BOGOTA = ZoneInfo("America/Bogota")
TEST_TECHNICAL_KEY = "fc8eac422eba16e22ffd8c6f94b3f40a6e38162c"  # DIAN habilitación ClTec (§1.2)


def supplier(**overrides) -> Party:
    values: dict[str, Any] = dict(
        person_type="juridica", document_type="31", document_number="900373076", check_digit="4",
        legal_name="CONEXCOL S.A.S.", trade_name="Conexcol", email="facturacion@conexcol.example",
        phone="6015551234", address_line="Calle 100 # 19-54 Of. 701", municipality_code="11001",
        municipality_name="Bogotá, D.C.", department_code="11", department_name="Bogotá",
        fiscal_responsibilities=("O-13", "O-15"), tax_scheme="01",
    )  # fmt: skip
    values.update(overrides)
    return Party(**values)


def natural_customer(**overrides) -> Party:
    values: dict[str, Any] = dict(
        person_type="natural", document_type="13", document_number="1020304050",
        legal_name="María José Pérez Gómez", first_name="María José", last_name="Pérez Gómez",
        email="maria@example.com", phone="3001234567", address_line="Carrera 43A # 1-50",
        municipality_code="05001", municipality_name="Medellín", department_code="05", department_name="Antioquia",
    )  # fmt: skip
    values.update(overrides)
    return Party(**values)


def company_customer(**overrides) -> Party:
    values: dict[str, Any] = dict(
        person_type="juridica", document_type="31", document_number="900108281", check_digit="3",
        legal_name="Ópticas Andinas S.A.S.", email="pagos@opticas.example", address_line="Av. 6N # 23-45",
        municipality_code="76001", municipality_name="Cali", department_code="76",
        department_name="Valle del Cauca", fiscal_responsibilities=("O-47",), tax_scheme="01",
    )  # fmt: skip
    values.update(overrides)
    return Party(**values)


def resolution(environment: str = "2", **overrides) -> Resolution:
    values: dict[str, Any] = dict(
        number="18760000001", prefix="SETP", range_from=990000000, range_to=995000000,
        valid_from=dt.date(2019, 1, 19), valid_to=dt.date(2030, 1, 19),
        technical_key=TEST_TECHNICAL_KEY, environment=environment,
    )  # fmt: skip
    values.update(overrides)
    return Resolution(**values)


def hosting_lines() -> tuple[Line, ...]:
    """One taxed (19 %), one exempt and one excluded line."""
    return (
        Line.build(
            description="Hosting Linux Pro — conexcol-cliente.co", quantity=Decimal("1"),
            unit_price=Decimal("100000.00"), period_start=dt.date(2025, 1, 1),
            period_end=dt.date(2025, 1, 31), code="HOST-PRO",
        ),
        Line.build(
            description="Registro de dominio .co (1 año)", quantity=Decimal("1"),
            unit_price=Decimal("85000"), tax_treatment="exempt", code="DOM-CO",
        ),
        Line.build(
            description="Certificado SSL", quantity=Decimal("2"), unit_price=Decimal("12345.67"),
            tax_treatment="excluded",
        ),
    )  # fmt: skip


def invoice(
    *,
    customer: Party | None = None,
    lines: tuple[Line, ...] | None = None,
    environment: str = "2",
    number: int = 990000123,
    issue: dt.datetime | None = None,
    **overrides,
) -> InvoiceDocument:
    values: dict[str, Any] = dict(
        number=number, resolution=resolution(environment),
        issue=issue or dt.datetime(2025, 1, 15, 14, 30, 5, tzinfo=BOGOTA), due=dt.date(2025, 1, 15),
        supplier=supplier(), customer=customer or natural_customer(), lines=lines or hosting_lines(),
        payment_form="1", payment_means_code="48", order_reference="ODS-000123",
        note="Gracias por su compra", software_id="56f2ae4e-9812-4fad-9255-08fcfcd5ccb0",
        software_pin="12345", software_provider_nit="900373076", software_provider_dv="4",
    )  # fmt: skip
    values.update(overrides)
    return InvoiceDocument(**values)


def ca_issued_certificate(
    path: Path,
    password: str,
    *,
    not_before: dt.datetime | None = None,
    not_after: dt.datetime | None = None,
) -> x509.Certificate:
    """Write a PKCS#12 whose certificate a (throwaway) certification authority issued.

    What a production signing certificate looks like to the system checks: not
    self-signed, RSA key, valid by default from yesterday for a year.
    """
    now = dt.datetime.now(dt.UTC)
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test CA (not accredited)")])
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "CONEXCOL S.A.S.")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before or now - dt.timedelta(days=1))
        .not_valid_after(not_after or now + dt.timedelta(days=365))
        .sign(ca_key, hashes.SHA256())
    )
    path.write_bytes(
        pkcs12.serialize_key_and_certificates(
            name=b"signing",
            key=key,
            cert=cert,
            cas=None,
            encryption_algorithm=serialization.BestAvailableEncryption(password.encode()),
        )
    )
    return cert
