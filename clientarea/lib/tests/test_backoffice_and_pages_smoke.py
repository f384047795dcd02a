"""Every back-office page and every client-area page answers without a server error on the demo data."""

import io

import pytest
from django.contrib import admin
from django.core.management import call_command
from django.urls import reverse

from clientarea.accounts.models import Customer, User

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        call_command("demo_data", stdout=io.StringIO())
        call_command("demo_data", stdout=io.StringIO())  # idempotent
    return User.objects.get(email="soporte@conexcol.example")


def test_demo_data_is_idempotent(demo):
    from clientarea.billing.models import Order

    assert Customer.objects.count() == 3
    states = set(
        Order.objects.filter(customer__user__email="ana@cliente.example").values_list(
            "state", flat=True
        )
    )
    assert states == {"pending", "paid", "cancelled"}


#: "Add" on these leads to the back-office search (orders and services belong to a customer).
REDIRECTED_ADD = {("billing", "order"), ("subscriptions", "service")}


def test_every_admin_page_renders(client, demo):
    client.force_login(demo)
    assert client.get("/admin/").status_code == 200
    for model, model_admin in admin.site._registry.items():
        info = model._meta.app_label, model._meta.model_name
        changelist = client.get(reverse(f"admin:{info[0]}_{info[1]}_changelist"))
        assert changelist.status_code == 200, f"{info} changelist: {changelist.status_code}"
        assert (
            client.get(reverse(f"admin:{info[0]}_{info[1]}_changelist"), {"q": "ana"}).status_code
            == 200
        )
        if model_admin.has_add_permission(changelist.wsgi_request):
            add = client.get(reverse(f"admin:{info[0]}_{info[1]}_add"))
            if info in REDIRECTED_ADD:  # made for a customer: the search, then the customer page
                assert add["Location"] == reverse("backoffice:search"), f"{info} add"
            else:
                assert add.status_code == 200, f"{info} add"
        # Through the admin's own queryset: a proxy admin (credit and debit notes) lists only
        # some rows of its model.
        obj = model_admin.get_queryset(changelist.wsgi_request).order_by("pk").first()
        if obj is not None:
            response = client.get(reverse(f"admin:{info[0]}_{info[1]}_change", args=[obj.pk]))
            assert response.status_code == 200, f"{info} change: {response.status_code}"


@pytest.mark.parametrize("language", ["es-CO", "en"])
def test_every_client_area_page_renders_for_the_demo_customer(client, demo, language):
    from clientarea.billing.models import Order
    from clientarea.einvoice.models import Invoice

    ana = Customer.objects.get(user__email="ana@cliente.example")
    client.force_login(ana.user)
    pages = [
        "/",
        "/clientarea/",
        "/clientarea/services/",
        "/clientarea/services/new/",
        "/clientarea/billing/",
        "/clientarea/billing/?state=pending",
        "/clientarea/billing/?state=bogus",
        "/clientarea/invoices/",
        "/clientarea/emails/",
        "/clientarea/profile/",
        "/clientarea/profile/password/",
        "/help/",
        "/help/search/?q=factura",
    ]
    pages += [f"/clientarea/services/{s.pk}/" for s in ana.services.all()]
    for order in Order.objects.filter(customer=ana):
        pages += [
            f"/clientarea/billing/{order.number}/",
            f"/clientarea/billing/{order.number}/print/",
        ]
        if order.state == "pending":
            pages.append(f"/payments/pay/{order.number}/")
    pages += [f"/clientarea/emails/{e.pk}/" for e in ana.emails.all()[:5]]
    for url in pages:
        response = client.get(url, HTTP_ACCEPT_LANGUAGE=language)
        assert response.status_code == 200, f"{url}: {response.status_code}"
    for invoice in Invoice.objects.filter(customer=ana).exclude(rendered_at=None):
        assert client.get(f"/clientarea/invoices/{invoice.full_number}/pdf/").status_code == 200


def test_the_payments_list_shows_the_gateway_configuration_with_secrets_masked(
    client, demo, settings
):
    client.force_login(demo)
    page = client.get("/admin/payments/payment/").content.decode()
    assert "gateway-config" in page and "508029" in page and "4Vj8…UA" in page
    assert settings.PAYU_API_KEY not in page and settings.PAYVALIDA_FIXED_HASH not in page


def test_provider_website_typed_without_a_scheme_is_saved_as_https(client, demo):
    from clientarea.accounts.models import ProviderProfile

    client.force_login(demo)
    profile = ProviderProfile.objects.get()
    url = reverse("admin:accounts_providerprofile_change", args=[profile.pk])
    form = client.get(url).context["adminform"].form
    data = {}
    for name in form.fields:
        if name != "logo":  # a file field: posting nothing keeps the current one
            value = form[name].value()
            data[name] = "" if value is None else value
    data["website"] = "www.conexcol.example"
    response = client.post(url, data)
    assert response.status_code == 302, (
        response.context["adminform"].form.errors if response.context else response
    )
    profile.refresh_from_db()
    assert profile.website == "https://www.conexcol.example"
