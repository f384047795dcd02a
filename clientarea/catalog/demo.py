"""Demo catalog: Conexcol's hosting plans, domains, certificates, email and VPS, prices in COP before IVA. Idempotent.

All products are taxed at the general IVA rate (19%). Note: art. 476 num. 24 of the
Estatuto Tributario *excludes* from IVA "servidores (hosting)" and cloud computing
under conditions set by DIAN doctrine; whether a plan qualifies is the provider's
accountant's call, so the demo keeps them taxed (staff can switch a product to
"excluded" in the back office).
"""

from __future__ import annotations

import io
from decimal import Decimal
from typing import NotRequired, TypedDict

from clientarea.catalog.models import (
    BillingCycle,
    Coupon,
    CouponDuration,
    CouponKind,
    OptionGroup,
    OptionKind,
    Product,
    ProductKind,
)

M, Q, S, A, B = (
    BillingCycle.MONTHLY,
    BillingCycle.QUARTERLY,
    BillingCycle.SEMIANNUAL,
    BillingCycle.ANNUAL,
    BillingCycle.BIENNIAL,
)


class DemoProduct(TypedDict):
    """One demo product: the model's fields, plus its price per billing cycle (COP before IVA, as text)."""

    code: str
    kind: str
    name: str
    name_en: str
    sort_order: int
    description: str
    description_en: str
    setup_fee: NotRequired[str]
    active: NotRequired[bool]
    prices: dict[str, str]


PRODUCTS: tuple[DemoProduct, ...] = (
    dict(
        code="hosting-basico",
        kind=ProductKind.HOSTING,
        name="Hosting Básico",
        name_en="Basic Hosting",
        sort_order=10,
        description="1 sitio web, 10 GB SSD, 5 cuentas de correo, certificado SSL gratuito y copias de seguridad diarias.",
        description_en="1 website, 10 GB SSD, 5 email accounts, free SSL certificate and daily backups.",
        prices={M: "15000", A: "150000"},
    ),
    dict(
        code="hosting-pyme",
        kind=ProductKind.HOSTING,
        name="Hosting Pyme",
        name_en="Business Hosting",
        sort_order=20,
        description="5 sitios web, 40 GB SSD, 25 cuentas de correo, SSL gratuito y soporte prioritario.",
        description_en="5 websites, 40 GB SSD, 25 email accounts, free SSL and priority support.",
        prices={M: "29000", Q: "84000", S: "162000", A: "300000"},
    ),
    dict(
        code="hosting-empresarial",
        kind=ProductKind.HOSTING,
        name="Hosting Empresarial",
        name_en="Enterprise Hosting",
        sort_order=30,
        description="Sitios ilimitados, 100 GB NVMe, correo ilimitado, IP dedicada y soporte 24/7.",
        description_en="Unlimited websites, 100 GB NVMe, unlimited email, dedicated IP and 24/7 support.",
        prices={M: "59000", A: "590000"},
    ),
    dict(
        code="dominio-co",
        kind=ProductKind.DOMAIN,
        name="Dominio .co",
        name_en=".co domain",
        sort_order=40,
        description="Registro o renovación de un dominio .co, con gestión de DNS.",
        description_en="Registration or renewal of a .co domain, with DNS management.",
        prices={A: "89000", B: "175000"},
    ),
    dict(
        code="dominio-com-co",
        kind=ProductKind.DOMAIN,
        name="Dominio .com.co",
        name_en=".com.co domain",
        sort_order=41,
        description="Registro o renovación de un dominio .com.co, con gestión de DNS.",
        description_en="Registration or renewal of a .com.co domain, with DNS management.",
        prices={A: "52000"},
    ),
    dict(
        code="dominio-com",
        kind=ProductKind.DOMAIN,
        name="Dominio .com",
        name_en=".com domain",
        sort_order=42,
        description="Registro o renovación de un dominio .com, con gestión de DNS.",
        description_en="Registration or renewal of a .com domain, with DNS management.",
        prices={A: "65000"},
    ),
    dict(
        code="ssl-dv",
        kind=ProductKind.SSL,
        name="Certificado SSL",
        name_en="SSL certificate",
        sort_order=50,
        description="Certificado SSL de validación de dominio (DV) para un dominio y su www, con sello de sitio seguro.",
        description_en="Domain-validated (DV) SSL certificate for one domain and its www, with a site seal.",
        prices={A: "120000"},
    ),
    dict(
        code="correo-corporativo",
        kind=ProductKind.EMAIL,
        name="Correo Corporativo (10 buzones)",
        name_en="Business Email (10 mailboxes)",
        sort_order=60,
        description="10 buzones de 15 GB con su dominio, antispam y webmail.",
        description_en="10 mailboxes of 15 GB on your domain, with antispam and webmail.",
        prices={M: "19000", A: "190000"},
    ),
    dict(
        code="vps-2-4",
        kind=ProductKind.VPS,
        name="Servidor VPS 2 vCPU · 4 GB",
        name_en="VPS 2 vCPU · 4 GB",
        sort_order=70,
        description="2 vCPU, 4 GB RAM, 80 GB NVMe, acceso root, datacenter en Bogotá.",
        description_en="2 vCPU, 4 GB RAM, 80 GB NVMe, root access, Bogotá datacenter.",
        setup_fee="60000",
        prices={M: "149000", Q: "429000"},
    ),
    dict(
        code="vps-4-8",
        kind=ProductKind.VPS,
        name="Servidor VPS 4 vCPU · 8 GB",
        name_en="VPS 4 vCPU · 8 GB",
        sort_order=71,
        description="4 vCPU, 8 GB RAM, 160 GB NVMe, acceso root, datacenter en Bogotá.",
        description_en="4 vCPU, 8 GB RAM, 160 GB NVMe, root access, Bogotá datacenter.",
        setup_fee="60000",
        prices={M: "269000", Q: "779000"},
    ),
    # Discontinued: still billed for the customers who have it, no longer offered.
    dict(
        code="hosting-clasico",
        kind=ProductKind.HOSTING,
        name="Hosting Clásico (descontinuado)",
        name_en="Classic Hosting (discontinued)",
        sort_order=90,
        active=False,
        description="Plan anterior, ya no se ofrece.",
        description_en="Former plan, no longer offered.",
        prices={M: "12000"},
    ),
)


def load(stdout: io.TextIOBase) -> None:
    created = 0
    for item in PRODUCTS:
        defaults: dict[str, object] = {
            key: value for key, value in item.items() if key not in ("code", "prices")
        }
        defaults["setup_fee"] = Decimal(item.get("setup_fee", "0"))
        product, was_created = Product.objects.get_or_create(code=item["code"], defaults=defaults)
        created += was_created
        for cycle, price in item["prices"].items():
            product.prices.get_or_create(cycle=cycle, defaults={"price": Decimal(price)})
    load_options_and_coupons(stdout)
    if created:
        stdout.write(f"  catalog: {created} products")


#: Configurable options of the VPS plans: (name, English name, kind, min, max, required,
#: options as (name, English name, {cycle: unit price before IVA})).
VPS_OPTIONS = (
    (
        "Disco adicional (GB)",
        "Extra disk (GB)",
        OptionKind.QUANTITY,
        0,
        500,
        False,
        (("GB NVMe", "GB NVMe", {M: "500", Q: "1450"}),),
    ),
    (
        "Direcciones IP adicionales",
        "Extra IP addresses",
        OptionKind.QUANTITY,
        0,
        4,
        False,
        (("IPv4", "IPv4", {M: "12000", Q: "34000"}),),
    ),
    (
        "Panel de control",
        "Control panel",
        OptionKind.CHOICE,
        0,
        1,
        False,
        (
            ("cPanel", "cPanel", {M: "45000", Q: "130000"}),
            ("Plesk", "Plesk", {M: "35000", Q: "100000"}),
        ),
    ),
)


def load_options_and_coupons(stdout: io.TextIOBase) -> None:
    """Options for the VPS plans and two coupons (idempotent)."""
    for code in ("vps-2-4", "vps-4-8"):
        product = Product.objects.filter(code=code).first()
        if product is None or product.option_groups.exists():
            continue
        for position, (name, name_en, kind, low, high, required, options) in enumerate(VPS_OPTIONS):
            group = OptionGroup.objects.create(
                product=product,
                name=name,
                name_en=name_en,
                kind=kind,
                min_quantity=low,
                max_quantity=high,
                required=required,
                sort_order=position,
            )
            for order, (option_name, option_en, prices) in enumerate(options):
                option = group.options.create(name=option_name, name_en=option_en, sort_order=order)
                for cycle, price in prices.items():
                    option.prices.create(cycle=cycle, price=Decimal(price))
    if not Coupon.objects.filter(code="BIENVENIDA10").exists():
        Coupon.objects.create(
            code="BIENVENIDA10",
            description="10 % el primer periodo, una vez por cliente",
            kind=CouponKind.PERCENT,
            value=Decimal("10"),
            duration=CouponDuration.FIRST_PERIOD,
            max_uses_per_customer=1,
        )
    if not Coupon.objects.filter(code="VPS20").exists():
        coupon = Coupon.objects.create(
            code="VPS20",
            description="20 % en servidores VPS, también en cada renovación",
            kind=CouponKind.PERCENT,
            value=Decimal("20"),
            duration=CouponDuration.RECURRING,
            max_uses=100,
            max_uses_per_customer=2,
        )
        coupon.products.set(Product.objects.filter(kind=ProductKind.VPS))
