"""Import the numbering resolutions DIAN authorized for our software (``GetNumberingRange``).

DIAN answers, for the issuer's NIT, the software owner's NIT and the software id, every range
that is *authorized* and valid today: resolution number, prefix, range, validity and the
technical key (``dian-webservice.md`` §2.9). :func:`import_numbering_ranges` turns each into a
:class:`~clientarea.einvoice.models.NumberingResolution`: a new row (its counter at the start of
the range) or an update of the row with the same resolution number and prefix. Importing twice
changes nothing the second time. Every created or changed row is written to the audit log with
its before and after values.

The call goes to the configured environment (``EINVOICE_ENVIRONMENT``, ``DIAN_WS_URL``, or the
local simulator with ``DIAN_SANDBOX``). Rows imported from production are production rows; the
first import from production also deactivates the active test resolutions (DIAN's ``SETP`` set),
which production refuses, so the next invoice takes its number from the real resolution.

A range already used keeps its counter: the import never moves ``next_number`` backwards, and it
never shrinks a range below a number already issued.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from clientarea.accounts import audit
from clientarea.accounts.selectors import get_provider
from clientarea.einvoice.dian.client import DianClient, DianError, DianFault, DianTimeout
from clientarea.einvoice.dian.responses import NumberingRange, NumberingRangeResponse
from clientarea.einvoice.dian.transmitter import client_from_settings
from clientarea.einvoice.models import Environment, NumberingResolution

logger = logging.getLogger(__name__)

#: DIAN's OperationCode values (§2.9), in words for staff.
OPERATION_CODES = {
    "301": gettext_lazy(
        "DIAN has no numbering range authorized for this NIT. Request the resolution in MUISCA "
        "and associate its prefix with the software in DIAN's portal."
    ),
    "302": gettext_lazy(
        "DIAN has no prefix associated with this software id. Associate the resolution's prefix "
        "with the software in DIAN's portal (EINVOICE_SOFTWARE_ID)."
    ),
    "303": gettext_lazy(
        "The software id does not belong to this NIT. Check EINVOICE_SOFTWARE_ID and "
        "EINVOICE_SOFTWARE_PROVIDER_NIT (the software owner's NIT)."
    ),
    "401": gettext_lazy(
        "DIAN says the certificate is not authorized to ask for this NIT's ranges."
    ),
    "89": gettext_lazy("DIAN found no NIT in the signing certificate (EINVOICE_CERT_PATH)."),
    "500": gettext_lazy("DIAN had an internal error; try again later."),
}


class NumberingImportError(Exception):
    """DIAN gave no ranges: the message says why, in words for staff."""


@dataclass
class ImportResult:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    deactivated: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return _(
            "Numbering from DIAN: %(created)d new, %(updated)d updated, %(unchanged)d unchanged, "
            "%(deactivated)d test resolution(s) deactivated."
        ) % {
            "created": len(self.created),
            "updated": len(self.updated),
            "unchanged": len(self.unchanged),
            "deactivated": len(self.deactivated),
        }


def environment() -> str:
    """The ``Environment`` of the configured DIAN endpoint."""
    if settings.EINVOICE_ENVIRONMENT == "production":
        return Environment.PRODUCTION
    return Environment.TEST


def fetch_ranges(
    *, client: DianClient | None = None, interactive: bool = False
) -> NumberingRangeResponse:
    """Ask DIAN (``GetNumberingRange``); raises :class:`NumberingImportError` with DIAN's reason.

    ``interactive``: someone waits in a web request, so DIAN gets ``DIAN_WS_INTERACTIVE_TIMEOUT``
    seconds to answer instead of ``DIAN_WS_TIMEOUT``."""
    provider = get_provider()
    if provider is None:
        raise NumberingImportError(_("Fill in the provider profile (its NIT) first."))
    issuer = provider.document_number
    owner = settings.EINVOICE_SOFTWARE_PROVIDER_NIT or issuer
    client = client or client_from_settings(interactive=interactive)
    try:
        reply = client.get_numbering_range(
            account_code=issuer, account_code_t=owner, software_code=settings.EINVOICE_SOFTWARE_ID
        )
    except DianTimeout as exc:
        raise NumberingImportError(
            _(
                "DIAN did not answer within %(seconds)s seconds; nothing was imported. Try again "
                "in a few minutes."
            )
            % {"seconds": f"{client.timeout:g}"}
        ) from exc
    except DianFault as exc:
        raise NumberingImportError(
            _("DIAN refused the request: %(reason)s") % {"reason": exc.fault.reason or exc}
        ) from exc
    except DianError as exc:
        raise NumberingImportError(
            # Our words in the reader's language; the client's English text labelled apart.
            _("DIAN is not available; try again later. Technical detail: %(detail)s")
            % {"detail": exc}
        ) from exc
    result = reply.result
    if not result.ok:
        words = OPERATION_CODES.get(result.operation_code, "")
        raise NumberingImportError(
            _("DIAN answered %(code)s “%(description)s”. %(words)s")
            % {
                "code": result.operation_code or "—",
                "description": result.operation_description,
                "words": words,
            }
        )
    if not result.ranges:
        raise NumberingImportError(_("DIAN answered OK but listed no numbering range."))
    return result


def _label(r: NumberingResolution | NumberingRange) -> str:
    if isinstance(r, NumberingResolution):
        return f"{r.number} {r.prefix}{r.range_from}–{r.range_to}"
    return f"{r.resolution_number} {r.prefix}{r.from_number}–{r.to_number}"


def _apply(
    dian: NumberingRange, *, env: str, actor, result: ImportResult
) -> NumberingResolution | None:
    if dian.valid_from is None or dian.valid_to is None or not dian.technical_key:
        logger.warning("DIAN range %s has no dates or technical key; skipped", _label(dian))
        return None
    wanted: dict[str, object] = {
        "range_from": dian.from_number,
        "range_to": dian.to_number,
        "valid_from": dian.valid_from,
        "valid_to": dian.valid_to,
        "technical_key": dian.technical_key,
        "environment": env,
    }
    row = (
        NumberingResolution.objects.select_for_update()
        .filter(number=dian.resolution_number, prefix=dian.prefix)
        .order_by("id")
        .first()
    )
    if row is None:
        row = NumberingResolution(
            number=dian.resolution_number,
            prefix=dian.prefix,
            next_number=dian.from_number,
            active=True,
            **wanted,
        )
        row.full_clean()
        row.save()
        audit.record(
            action="einvoice.numbering_imported",
            actor=actor,
            target=_label(row),
            changes={k: [None, str(v)] for k, v in wanted.items()},
        )
        result.created.append(_label(row))
        return row
    if row.next_number > row.range_from:  # numbers already issued: the start is history
        wanted["range_from"] = row.range_from
        wanted["range_to"] = max(dian.to_number, row.next_number - 1)
    changes = {
        name: [str(getattr(row, name)), str(value)]
        for name, value in wanted.items()
        if getattr(row, name) != value
    }
    if not changes:
        result.unchanged.append(_label(row))
        return row
    for name, value in wanted.items():
        setattr(row, name, value)
    row.next_number = max(row.next_number, row.range_from)
    row.full_clean()
    row.save()
    audit.record(
        action="einvoice.numbering_updated", actor=actor, target=_label(row), changes=changes
    )
    result.updated.append(_label(row))
    return row


def import_numbering_ranges(
    *, actor=None, client: DianClient | None = None, interactive: bool = False
) -> ImportResult:
    """Ask DIAN for the software's ranges and create or update the numbering resolutions.

    ``interactive`` (the back office's button): DIAN's answer is awaited only
    ``DIAN_WS_INTERACTIVE_TIMEOUT`` seconds. Nothing is written until DIAN has answered."""
    # The network call, outside any transaction.
    response = fetch_ranges(client=client, interactive=interactive)
    env = environment()
    result = ImportResult()
    with transaction.atomic():
        imported = [
            row
            for dian in response.ranges
            if (row := _apply(dian, env=env, actor=actor, result=result)) is not None
        ]
        if env == Environment.PRODUCTION and imported:
            for old in NumberingResolution.objects.select_for_update().filter(
                active=True, environment=Environment.TEST
            ):
                old.active = False
                old.save(update_fields=["active"])
                audit.record(
                    action="einvoice.numbering_deactivated",
                    actor=actor,
                    target=_label(old),
                    changes={"active": ["True", "False"], "why": "production numbering imported"},
                )
                result.deactivated.append(_label(old))
    logger.info("numbering imported from DIAN: %s", result.summary())
    return result
