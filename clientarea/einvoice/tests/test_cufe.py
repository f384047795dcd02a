"""CUFE, CUDE and SoftwareSecurityCode against vectors published by others.

Vectors (none written by us):
- DIAN's sample ``Generica.xml`` (Caja de herramientas): its ``cbc:Note`` holds
  the CUFE input and ``cbc:UUID`` the hash (facts file §1.2, source S2).
- The Anexo Técnico worked example "323200000129" (Resolución 000042 annex,
  p. 689 per facho; also quoted for Anexo 1.9 §11.2.1), as asserted by
  bit4bit/facho ``tests/test_fe_form.py::test_invoice_cufe``.
- The Anexo's CUDE examples for a credit note ("8110007871", p. 612) and a
  debit note ("ND1001", p. 614, with INC in the 04 slot), same facho file,
  ``test_credit_note_cude`` and ``test_debit_note_cude``. A CUDE has the CUFE's
  field order with the software PIN in place of ClTec (§1.3), so they check the
  order of our 15 fields, including the 01/04/03 tax slots.
- The reduced DIAN sample of the facts file §2.3 (Note/UUID recomputed there).
"""

from __future__ import annotations

import hashlib

import pytest

from clientarea.einvoice.cufe import (
    CufeFields,
    CufeInputError,
    compute_cufe,
    cufe_fields_from_xml,
    cufe_from_xml,
    cufe_input,
    software_security_code,
    verify_cufe,
)


def dian(**example: str) -> tuple[CufeFields, str]:
    """A DIAN example's fields and its technical key (ClTec), as the examples list them."""
    key = example.pop("cl_tec")
    return CufeFields(**example), key


GENERICA_INPUT = (
    "SETP9900000022019-06-2009:15:23-05:0012600.06012424.01040.00030.0014024.07"
    "900508908900108281fc8eac422eba16e22ffd8c6f94b3f40a6e38162c2"
)
GENERICA_CUFE = "941cf36af62dbbc06f105d2a80e9bfe683a90e84960eae4d351cc3afbe8f848c26c39bac4fbc80fa254824c6369ea694"


def test_generica_xml_vector():
    """DIAN Generica.xml: our concatenation reproduces its Note and its UUID (§1.2)."""
    fields = dict(
        num_fac="SETP990000002", fec_fac="2019-06-20", hor_fac="09:15:23-05:00", val_fac="12600.06",
        val_imp1="2424.01", val_imp2="0.00", val_imp3="0.00", val_tot="14024.07", nit_ofe="900508908",
        num_adq="900108281", cl_tec="fc8eac422eba16e22ffd8c6f94b3f40a6e38162c", tipo_ambie="2",
    )  # fmt: skip
    assert cufe_input(*dian(**fields)) == GENERICA_INPUT
    assert compute_cufe(*dian(**fields)) == GENERICA_CUFE


def test_anexo_tecnico_invoice_example():
    """Anexo Técnico example (facho tests/test_fe_form.py::test_invoice_cufe, "RESOLUCION 004: pagina 689")."""
    cufe = compute_cufe(*dian(
        num_fac="323200000129", fec_fac="2019-01-16", hor_fac="10:53:10-05:00", val_fac="1500000.00",
        val_imp1="285000.00", val_imp2="0.00", val_imp3="0.00", val_tot="1785000.00", nit_ofe="700085371",
        num_adq="800199436", cl_tec="693ff6f2a553c3646a063436fd4dd9ded0311471", tipo_ambie="1",
    ))  # fmt: skip
    assert cufe == (
        "8bb918b19ba22a694f1da11c643b5e9de39adf60311cf179179e9b33381030bcd4c3c3f156c506ed5908f9276f5bd9b4"
    )


def test_anexo_credit_note_cude_example():
    """Anexo CUDE example, credit note 8110007871 (facho test_credit_note_cude, "pag 612"): PIN in the ClTec slot."""
    cude = compute_cufe(*dian(
        num_fac="8110007871", fec_fac="2019-01-12", hor_fac="07:00:00-05:00", val_fac="5000.00",
        val_imp1="950.00", val_imp2="0.00", val_imp3="0.00", val_tot="5950.00", nit_ofe="900373076",
        num_adq="8355990", cl_tec="12301", tipo_ambie="1",
    ))  # fmt: skip
    assert cude == (
        "907e4444decc9e59c160a2fb3b6659b33dc5b632a5008922b9a62f83f757b1c448e47f5867f2b50dbdb96f48c7681168"
    )


def test_anexo_debit_note_cude_example_uses_the_04_slot():
    """Anexo CUDE example ND1001 (facho test_debit_note_cude, "pag 614"): INC 2400.00 goes after code 04."""
    fields = dict(
        num_fac="ND1001", fec_fac="2019-01-18", hor_fac="10:58:00-05:00", val_fac="30000.00",
        val_imp1="0.00", val_imp2="2400.00", val_imp3="0.00", val_tot="32400.00", nit_ofe="900197264",
        num_adq="10254102", cl_tec="10201", tipo_ambie="2",
    )  # fmt: skip
    assert cufe_input(*dian(**fields)) == (
        "ND10012019-01-1810:58:00-05:0030000.00010.00042400.00030.0032400.0090019726410254102102012"
    )
    assert compute_cufe(*dian(**fields)) == (
        "3fa73a86d57d9341c536afde1f85c4efd9d4591c2c22bce4dfb0e6b0d2e83b8f047a8bde7098292e9d2493e60d1c31da"
    )


REDUCED_UUID = "d2cdd08cf6ce24c10c6932a9c02ad25796b5095a76d99651cb01ed7432d414107adb852efb1e37044aa54bab0701afc6"
# The elements cufe_from_xml reads, with the values of the facts file §2.3 example
# (DIAN's Generica.xml made self-consistent), whose UUID is the SHA-384 of its Note.
REDUCED_SAMPLE = """<?xml version="1.0" encoding="UTF-8"?>
<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
 xmlns:cac="urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
 xmlns:cbc="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2">
 <cbc:ProfileExecutionID>2</cbc:ProfileExecutionID>
 <cbc:ID>SETP990000002</cbc:ID>
 <cbc:UUID schemeID="2" schemeName="CUFE-SHA384">UUID_HERE</cbc:UUID>
 <cbc:IssueDate>2019-06-20</cbc:IssueDate>
 <cbc:IssueTime>09:15:23-05:00</cbc:IssueTime>
 <cac:AccountingSupplierParty><cac:Party><cac:PartyTaxScheme>
  <cbc:CompanyID schemeID="4" schemeName="31">800197268</cbc:CompanyID>
 </cac:PartyTaxScheme></cac:Party></cac:AccountingSupplierParty>
 <cac:AccountingCustomerParty><cac:Party><cac:PartyTaxScheme>
  <cbc:CompanyID schemeID="3" schemeName="31">900108281</cbc:CompanyID>
 </cac:PartyTaxScheme></cac:Party></cac:AccountingCustomerParty>
 <cac:TaxTotal>
  <cbc:TaxAmount currencyID="COP">2394.01</cbc:TaxAmount>
  <cac:TaxSubtotal><cbc:TaxableAmount currencyID="COP">12600.06</cbc:TaxableAmount>
   <cbc:TaxAmount currencyID="COP">2394.01</cbc:TaxAmount>
   <cac:TaxCategory><cbc:Percent>19.00</cbc:Percent><cac:TaxScheme><cbc:ID>01</cbc:ID></cac:TaxScheme></cac:TaxCategory>
  </cac:TaxSubtotal>
 </cac:TaxTotal>
 <cac:LegalMonetaryTotal>
  <cbc:LineExtensionAmount currencyID="COP">12600.06</cbc:LineExtensionAmount>
  <cbc:TaxExclusiveAmount currencyID="COP">12600.06</cbc:TaxExclusiveAmount>
  <cbc:TaxInclusiveAmount currencyID="COP">14994.07</cbc:TaxInclusiveAmount>
  <cbc:PayableAmount currencyID="COP">14994.07</cbc:PayableAmount>
 </cac:LegalMonetaryTotal>
</Invoice>
""".replace("UUID_HERE", REDUCED_UUID)
REDUCED_NOTE = (
    "SETP9900000022019-06-2009:15:23-05:0012600.06012394.01040.00030.0014994.07"
    "800197268900108281fc8eac422eba16e22ffd8c6f94b3f40a6e38162c2"
)


def test_cufe_from_xml_reads_the_documents_own_fields():
    key = "fc8eac422eba16e22ffd8c6f94b3f40a6e38162c"
    assert (
        hashlib.sha384(REDUCED_NOTE.encode()).hexdigest() == REDUCED_UUID
    )  # the facts file's own check
    assert (
        cufe_from_xml(REDUCED_SAMPLE.encode(), key)
        == hashlib.sha384(REDUCED_NOTE.encode()).hexdigest()
    )
    assert verify_cufe(REDUCED_SAMPLE, key)
    assert not verify_cufe(
        REDUCED_SAMPLE.replace("14994.07</cbc:PayableAmount>", "14994.08</cbc:PayableAmount>"), key
    )


def test_cufe_from_xml_maps_inc_and_ica_to_their_slots():
    ica = (
        '<cac:TaxTotal><cbc:TaxAmount currencyID="COP">5.00</cbc:TaxAmount><cac:TaxSubtotal>'
        '<cbc:TaxableAmount currencyID="COP">1.00</cbc:TaxableAmount>'
        '<cbc:TaxAmount currencyID="COP">5.00</cbc:TaxAmount>'
        "<cac:TaxCategory><cac:TaxScheme><cbc:ID>03</cbc:ID></cac:TaxScheme></cac:TaxCategory>"
        "</cac:TaxSubtotal></cac:TaxTotal>"
    )
    inc = ica.replace("5.00", "7.00").replace("<cbc:ID>03</cbc:ID>", "<cbc:ID>04</cbc:ID>")
    xml = REDUCED_SAMPLE.replace(
        " <cac:LegalMonetaryTotal>", ica + inc + " <cac:LegalMonetaryTotal>"
    )
    fields = cufe_fields_from_xml(xml.encode())
    assert (fields.val_imp1, fields.val_imp2, fields.val_imp3) == ("2394.01", "7.00", "5.00")
    assert (fields.nit_ofe, fields.num_adq, fields.tipo_ambie) == ("800197268", "900108281", "2")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("val_fac", "1500000"),  # needs exactly 2 decimals
        ("val_tot", "1.785.000,00"),  # no thousands separator, "." decimal point
        ("hor_fac", "10:53:10"),  # the -05:00 offset is part of the string
        ("fec_fac", "16/01/2019"),
        ("tipo_ambie", "3"),
        ("nit_ofe", "700085371-5"),  # without DV
    ],
)
def test_cufe_input_rejects_values_dian_would_not_hash(field, value):
    fields = dict(
        num_fac="323200000129", fec_fac="2019-01-16", hor_fac="10:53:10-05:00", val_fac="1500000.00",
        val_imp1="285000.00", val_imp2="0.00", val_imp3="0.00", val_tot="1785000.00", nit_ofe="700085371",
        num_adq="800199436", cl_tec="693ff6f2a553c3646a063436fd4dd9ded0311471", tipo_ambie="1",
    )  # fmt: skip
    fields[field] = value
    with pytest.raises(CufeInputError):
        compute_cufe(*dian(**fields))


def test_amounts_must_be_strings_not_decimals():
    from decimal import Decimal

    with pytest.raises(CufeInputError):
        cufe_input(CufeFields(
            num_fac="X1", fec_fac="2019-01-16", hor_fac="10:53:10-05:00", val_fac=Decimal("1.00"),  # type: ignore[arg-type]  # the wrong type, on purpose
            val_imp1="0.00", val_imp2="0.00", val_imp3="0.00", val_tot="1.00", nit_ofe="700085371",
            num_adq="1", tipo_ambie="1",
        ), "k")  # fmt: skip


def test_software_security_code_is_sha384_of_id_pin_and_number():
    """§1.4: SHA384(SoftwareID + PIN + cbc:ID)."""
    code = software_security_code("56f2ae4e-9812-4fad-9255-08fcfcd5ccb0", "12345", "SETP990000002")
    expected = hashlib.sha384(b"56f2ae4e-9812-4fad-9255-08fcfcd5ccb012345SETP990000002").hexdigest()
    assert code == expected and len(code) == 96


def test_cufe_from_xml_rejects_other_documents():
    with pytest.raises(CufeInputError):
        cufe_from_xml(
            b"<CreditNote xmlns='urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2'/>", "k"
        )
