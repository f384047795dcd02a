"""Shared test base: a small cast (alice and bob are customers, carol is staff) and factories.

Tests read as a story: alice must never see bob's things.
"""

from __future__ import annotations

import itertools
import re

from django.conf import settings
from django.core.cache import cache
from django.test import TestCase

from clientarea.accounts.demo import DEMO_STAFF_PASSWORD
from clientarea.accounts.models import Contact, Customer, ProviderProfile, User
from clientarea.accounts.searchtext import search_text_for
from clientarea.accounts.services import save_provider

_seq = itertools.count(1)
ACCESS_CODE = "ACDE-FGHJ-KMNP-QR"


def clear_default_cache() -> None:
    """Empty the default cache between tests. On Redis only this site's keys (its ``KEY_PREFIX``)
    are deleted: Django's ``cache.clear()`` there is FLUSHDB, which also empties whatever else
    shares that Redis database, such as a bench's or a worker's Huey queue."""
    config = settings.CACHES["default"]
    if "redis" not in str(config["BACKEND"]).lower():
        cache.clear()
        return
    import redis

    prefix = str(config.get("KEY_PREFIX") or "")
    pattern = re.sub(r"([*?\[\]\\])", r"\\\1", prefix) + ":*" if prefix else "*"
    client = redis.Redis.from_url(str(config["LOCATION"]))
    try:
        batch = []
        for key in client.scan_iter(match=pattern, count=1000):
            batch.append(key)
            if len(batch) >= 1000:
                client.delete(*batch)
                batch.clear()
        if batch:
            client.delete(*batch)
    finally:
        client.close()


def make_provider() -> ProviderProfile:
    """The provider profile (pk 1), saved through ``accounts.services.save_provider`` when new,
    so pages read it as they read one staff saved."""
    existing = ProviderProfile.objects.filter(pk=1).first()
    if existing is not None:
        return existing
    return save_provider(
        provider=ProviderProfile(
            pk=1,
            person_type="juridica",
            document_type="31",
            document_number="900123456",
            check_digit="8",
            legal_name="Conexcol S.A.S.",
            trade_name="Conexcol",
            email="facturacion@conexcol.example",
            phone="+57 604 444 0000",
            address="Calle 10 # 43-12",
            municipality_code="05001",
            fiscal_responsibilities="O-13;O-23",
            support_hours="Lun–Vie 8:00–18:00",
        )
    )


def make_customer(
    email: str | None = None,
    *,
    person_type: str = "natural",
    document_type: str = "13",
    document_number: str | None = None,
    password: str = ACCESS_CODE,
    **extra,
) -> Customer:
    n = next(_seq)
    email = email or f"customer{n}@example.com"
    user = User.objects.create_user(
        email=email, password=password, full_name=extra.get("first_name", "Cliente")
    )
    defaults = dict(
        first_name="Cliente",
        last_name=f"Prueba {n}",
        phone="3001234567",
        address="Carrera 7 # 12-34",
        municipality_code="11001",
        preferred_language="es-co",
    )
    if person_type == "juridica":
        defaults.update(legal_name=f"Empresa {n} S.A.S.", first_name="", last_name="")
    defaults.update(extra)
    number = document_number or (
        str(900000000 + n * 7) if document_type == "31" else str(1000000 + n)
    )
    if document_type == "31" and "check_digit" not in defaults:
        from clientarea.lib.nit import check_digit

        defaults["check_digit"] = check_digit(number)
    customer = Customer(
        user=user,
        person_type=person_type,
        document_type=document_type,
        document_number=number,
        **defaults,
    )
    customer.search_text = search_text_for(customer, email)  # as the accounts services write it
    customer.save()
    Contact.objects.create(customer=customer, user=user, is_owner=True)  # as registration does
    return customer


def make_contact(
    customer: Customer,
    email: str,
    *,
    password: str = ACCESS_CODE,
    **roles: bool,
) -> Contact:
    """A contact of ``customer`` with its own login and these roles (is_owner, billing, …)."""
    user = User.objects.create_user(email=email, password=password, full_name="Contacto")
    return Contact.objects.create(customer=customer, user=user, **roles)


def make_staff(email: str = "carol@conexcol.example", password: str = ACCESS_CODE) -> User:
    return User.objects.create_superuser(email=email, password=password, full_name="Carol Staff")


class BaseTestCase(TestCase):
    """alice (natural person, CC), bob (company, NIT) and carol (staff)."""

    provider: ProviderProfile
    alice: Customer
    bob: Customer
    carol: User

    @classmethod
    def setUpTestData(cls) -> None:
        cls.provider = make_provider()
        cls.alice = make_customer(
            "alice@example.com", first_name="Alice", last_name="Gómez", document_number="1020304050"
        )
        cls.bob = make_customer(
            "bob@example.com",
            person_type="juridica",
            document_type="31",
            document_number="900108281",
            check_digit="3",
            legal_name="Bob Hosting S.A.S.",
        )
        cls.carol = make_staff()

    def login(self, customer_or_user) -> None:
        user = getattr(customer_or_user, "user", customer_or_user)
        self.client.force_login(user, backend="clientarea.accounts.backends.EmailAccessCodeBackend")


def staff_log_in(page, base_url: str) -> None:
    """Log the demo staff member in through the back office's login page (a Playwright page)."""
    page.goto(base_url + "/admin/login/")
    page.fill("#id_username", "soporte@conexcol.example")
    page.fill("#id_password", DEMO_STAFF_PASSWORD)
    with page.expect_navigation():
        page.click("input[type=submit]")
