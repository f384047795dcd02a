from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.utils.translation import gettext_lazy as _

from clientarea.accounts import views as account_views
from clientarea.lib.views import healthz

admin.site.site_header = "ClientArea"
admin.site.site_title = "ClientArea"
admin.site.index_title = _("Back office")
# An empty value reads "—" in every list and page, as the values our own code leaves empty do.
admin.site.empty_value_display = "—"

urlpatterns = [
    path("", account_views.home, name="home"),
    path("healthz", healthz, name="healthz"),
    path("", include("clientarea.ops.urls")),  # /healthz/live, /healthz/ready, /metrics
    # The language switcher: Django's set_language, which also keeps an account holder's choice.
    path("i18n/setlang/", account_views.set_language, name="set_language"),
    path("admin/reports/", include("clientarea.reports.urls")),  # staff dashboard and reports
    path("admin/", admin.site.urls),
    path("backoffice/", include("clientarea.backoffice.urls")),
    path("clientarea/", include("clientarea.portal.urls")),
    path("clientarea/order/", include("clientarea.portal.order_urls")),
    path("clientarea/services/", include("clientarea.portal.services_urls")),
    path("clientarea/billing/", include("clientarea.portal.billing_urls")),
    path("clientarea/invoices/", include("clientarea.einvoice.urls")),
    path("clientarea/withholdings/", include("clientarea.withholdings.urls")),
    path("payments/", include("clientarea.payments.urls")),
    path("help/", include("clientarea.helpcenter.urls")),
]

# The simulators are optional apps (settings.PAYMENTS_SANDBOX, settings.DIAN_SANDBOX): their URLs
# are mounted only when they are installed, by name so that nothing else imports them.
if settings.DIAN_SANDBOX:
    urlpatterns.append(path("sandbox/dian/", include("clientarea.einvoice.sandbox.urls")))
if settings.PAYMENTS_SANDBOX:
    urlpatterns.append(path("sandbox/", include("clientarea.payments.sandbox.urls")))
