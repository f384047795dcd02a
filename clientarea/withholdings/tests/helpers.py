"""Test data: the 2026 rules and an approved agent."""

from __future__ import annotations

from decimal import Decimal

from clientarea.withholdings.models import (
    AgentStatus,
    UvtValue,
    WithholdingAgent,
    WithholdingKind,
    WithholdingRule,
)

# A PDF as small as it gets: what matters here is that it starts like one.
PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"


def make_rules(year: int = 2026) -> None:
    UvtValue.objects.get_or_create(year=year, defaults={"value": Decimal("52374")})
    for kind, municipality, rate in (
        (WithholdingKind.RETEFUENTE, "", "4"),
        (WithholdingKind.RETEIVA, "", "15"),
        (WithholdingKind.RETEICA, "11001", "9.66"),
    ):
        WithholdingRule.objects.get_or_create(
            kind=kind,
            municipality_code=municipality,
            defaults={"rate": Decimal(rate), "min_base_uvt": Decimal("2")},
        )


def make_agent(customer, *, status: str = AgentStatus.APPROVED, **flags) -> WithholdingAgent:
    values = {"retefuente": True, "reteiva": True, "reteica": True, **flags}
    return WithholdingAgent.objects.create(customer=customer, status=status, **values)
