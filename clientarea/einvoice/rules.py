"""DIAN's rule codes in plain words for staff: what went wrong and what to do.

Codes from ``shared/docs/dian-webservice.md`` §2.4–§2.5 and §5; any other code is shown with
DIAN's own text only.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

PLAIN_WORDS = {
    "FAD06": _(
        "The CUFE does not match the invoice's data (numbering technical key, totals or dates). "
        "Check the resolution's technical key, then resend."
    ),
    "FAB27b": _(
        "The software security code does not match the software registered with DIAN. "
        "Check EINVOICE_SOFTWARE_ID and EINVOICE_SOFTWARE_PIN, then resend."
    ),
    "FAB24b": _(
        "The software is not authorized for this issuer at DIAN. Check the software "
        "registration in DIAN's portal, then resend."
    ),
    "FAB05b": _("The number is outside the numbering resolution. Check the resolution's range."),
    "FAB05c": _("The prefix is not the resolution's prefix. Check the numbering resolution."),
    "FAD05e": _(
        "DIAN does not know this number for the resolution. Check that the resolution "
        "is authorized for this software (numbering ranges), then resend."
    ),
    "FAD09e": _("The issue date differs from the signature's date."),
    "ZE02": _(
        "The digital signature is not valid for DIAN (certificate or signature). "
        "Check EINVOICE_CERT_PATH, then resend."
    ),
    "ZB01": _("The XML does not follow DIAN's schema."),
    "CTG01": _("The signing time is not inside a contingency period declared by DIAN."),
    "FAJ43b": _("The buyer's or seller's name differs from the one in the RUT (notice only)."),
    "FAJ44b": _("The NIT differs from the one in the RUT (notice only)."),
    "90": _("DIAN had already processed this document: its original answer was used."),
}


def plain_words(rule: str) -> str:
    """Staff's explanation of a DIAN rule code; empty when we have none."""
    explanation = PLAIN_WORDS.get(rule)
    return str(explanation) if explanation else ""
