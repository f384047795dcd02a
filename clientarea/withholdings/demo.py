"""Demo withholdings: the 2026 UVT, the provider's rules, and Tienda Andina as an approved agent.

Loaded before the demo orders, so Tienda Andina's SSL order is paid net of its withholdings and
its pending migration order shows them. Idempotent.

Figures (shared/docs/dian-webservice.md §6.1): UVT 2026 = 52.374 (Res. 000238 of 2025-12-15),
UVT 2025 = 49.799; ReteFuente on services 4 % from 2 UVT (Decreto 0572 of 2025); ReteIVA 15 % of
the IVA; ReteICA Bogotá 9,66 ‰ (Odoo's sale-side rate, read as Bogotá's services rate). The
minimum bases of ReteIVA and ReteICA are not confirmed by our sources: the demo uses 2 UVT, and
staff must check them (and the ICA rate of their CIIU activity) before going live.
"""

from __future__ import annotations

from decimal import Decimal

from django.utils import timezone

from clientarea.accounts.models import Customer, User
from clientarea.withholdings.models import (
    AgentStatus,
    UvtValue,
    WithholdingAgent,
    WithholdingKind,
    WithholdingRule,
)

UVTS = (
    (2025, "49799", ""),
    (2026, "52374", "DIAN Res. 000238 de 2025-12-15"),
)
RULES = (
    (WithholdingKind.RETEFUENTE, "", "4", "2", "Servicios en general, declarantes (Decreto 0572 de 2025)"),
    (WithholdingKind.RETEIVA, "", "15", "2", "15 % del IVA (base mínima por confirmar)"),
    (WithholdingKind.RETEICA, "11001", "9.66", "2", "Bogotá, servicios: confirme la tarifa de su actividad CIIU"),
)  # fmt: skip


def load(stdout) -> None:
    for year, value, source in UVTS:
        UvtValue.objects.get_or_create(
            year=year, defaults={"value": Decimal(value), "source": source}
        )
    for kind, municipality, rate, base, description in RULES:
        WithholdingRule.objects.get_or_create(
            kind=kind,
            municipality_code=municipality,
            defaults={
                "rate": Decimal(rate),
                "min_base_uvt": Decimal(base),
                "description": description,
            },
        )
    customer = Customer.objects.filter(user__email="compras@tiendaandina.example").first()
    if customer is None or WithholdingAgent.objects.filter(customer=customer).exists():
        return
    staff = User.objects.filter(email="soporte@conexcol.example").first()
    WithholdingAgent.objects.create(
        customer=customer,
        status=AgentStatus.APPROVED,
        retefuente=True,
        reteiva=True,
        reteica=True,
        customer_note="Somos agente de retención de IVA (O-23).",
        decision_note="Verificado en el RUT.",
        decided_at=timezone.now(),
        decided_by=staff,
    )
    stdout.write(
        "  withholdings: Tienda Andina is a withholding agent (ReteFuente, ReteIVA, ReteICA)"
    )
