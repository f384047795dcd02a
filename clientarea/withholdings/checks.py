"""``clientarea check --deploy``: warn when withholdings cannot be computed this year."""

from __future__ import annotations

from django.core.checks import CheckMessage, Tags, register
from django.core.checks import Warning as CheckWarning
from django.db import DatabaseError

from clientarea.lib.dates import local_today
from clientarea.withholdings.models import AgentStatus, UvtValue, WithholdingAgent, WithholdingRule


@register(Tags.database, deploy=True)
def uvt_of_this_year(app_configs, **kwargs) -> list[CheckMessage]:
    """A rule with a minimum base in UVT needs this year's UVT; without it nothing is withheld."""
    year = local_today().year
    try:
        needed = (
            WithholdingRule.objects.filter(active=True, min_base_uvt__gt=0).exists()
            and WithholdingAgent.objects.filter(status=AgentStatus.APPROVED).exists()
        )
        missing = needed and not UvtValue.objects.filter(year=year).exists()
    except DatabaseError:  # not migrated yet: nothing to check
        return []
    if not missing:
        return []
    return [
        CheckWarning(
            f"No UVT value for {year}: orders issued this year withhold nothing, so withholding "
            "agents are charged the full total.",
            hint="Add the year's UVT as DIAN fixed it (back office → Withholdings → UVT values).",
            id="withholdings.W001",
        )
    ]
