"""Demo provider (Conexcol), staff user and customers. Idempotent."""

from __future__ import annotations

from clientarea.accounts import services
from clientarea.accounts.models import Contact, Customer, ProviderProfile, User
from clientarea.accounts.searchtext import search_text_for
from clientarea.lib.nit import check_digit

DEMO_ACCESS_CODE = "DEMO-CODE-7777"  # demo only: real codes are random and emailed
DEMO_STAFF_PASSWORD = "conexcol-staff-2026"  # noqa: S105 (demo only, published in the README)
DEMO_LOGINS = (
    ("Customer (natural)", "ana@cliente.example", DEMO_ACCESS_CODE),
    ("Customer (company)", "compras@tiendaandina.example", DEMO_ACCESS_CODE),
    ("Billing contact (company)", "contabilidad@tiendaandina.example", DEMO_ACCESS_CODE),
    ("Staff (back office)", "soporte@conexcol.example", DEMO_STAFF_PASSWORD),
)

DEMO_CONTACT = ("contabilidad@tiendaandina.example", "Laura Contabilidad")

CUSTOMERS = (
    dict(
        email="ana@cliente.example",
        person_type="natural",
        document_type="13",
        document_number="1017234567",
        first_name="Ana María",
        last_name="Restrepo Gómez",
        phone="3104567890",
        address="Calle 50 # 45-20 Apto 301",
        municipality_code="05001",
    ),
    dict(
        email="compras@tiendaandina.example",
        person_type="juridica",
        document_type="31",
        document_number="901234567",
        legal_name="Tienda Andina S.A.S.",
        trade_name="Tienda Andina",
        phone="6015551234",
        address="Carrera 15 # 93-60 Oficina 402",
        municipality_code="11001",
        fiscal_responsibilities="O-23",
    ),
    dict(
        email="jorge@cliente.example",
        person_type="natural",
        document_type="13",
        document_number="79456123",
        first_name="Jorge",
        last_name="Pérez Ruiz",
        phone="3157778899",
        address="Avenida 6N # 23-45",
        municipality_code="76001",
    ),
)


def load(stdout) -> None:
    if not ProviderProfile.objects.exists():
        provider = ProviderProfile(
            person_type="juridica",
            document_type="31",
            document_number="800123456",
            check_digit=check_digit("800123456"),
            legal_name="Conexcol Comunicaciones S.A.S.",
            trade_name="Conexcol",
            email="facturacion@conexcol.example",
            phone="+57 604 444 5566",
            website="https://www.conexcol.example",
            address="Carrera 43A # 1-50 Torre 2 Piso 8",
            municipality_code="05001",
            fiscal_responsibilities="O-13;O-23",
            support_hours="Lunes a viernes 7:00–19:00, sábados 8:00–13:00",
            support_hours_en="Monday to Friday 7:00–19:00, Saturday 8:00–13:00",
        )
        services.save_provider(provider=provider)
        stdout.write("  provider profile: Conexcol")
    if not User.objects.filter(email="soporte@conexcol.example").exists():
        User.objects.create_superuser(
            email="soporte@conexcol.example",
            password=DEMO_STAFF_PASSWORD,
            full_name="Soporte Conexcol",
        )
        stdout.write("  staff user: soporte@conexcol.example")
    for data in CUSTOMERS:
        data = dict(data)
        email = data.pop("email")
        if User.objects.filter(email=email).exists():
            continue
        name = data.get("legal_name") or f"{data.get('first_name')} {data.get('last_name')}"
        user = User.objects.create_user(email=email, password=DEMO_ACCESS_CODE, full_name=name)
        if data["document_type"] == "31":
            data["check_digit"] = check_digit(data["document_number"])
        customer = Customer(user=user, **data)
        customer.search_text = search_text_for(customer, email)
        customer.save()
        Contact.objects.create(customer=customer, user=user, is_owner=True)  # the holder
        stdout.write(f"  customer: {email}")
    company = Customer.objects.filter(user__email="compras@tiendaandina.example").first()
    if company is not None and not User.objects.filter(email=DEMO_CONTACT[0]).exists():
        # The company's accountant: their own login, billing only (Services are closed to them).
        user = User.objects.create_user(
            email=DEMO_CONTACT[0], password=DEMO_ACCESS_CODE, full_name=DEMO_CONTACT[1]
        )
        Contact.objects.create(customer=company, user=user, billing=True)
        stdout.write(f"  billing contact: {DEMO_CONTACT[0]}")
