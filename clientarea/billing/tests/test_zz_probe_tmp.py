import datetime as dt
from clientarea.billing.tests.test_billing_run import *  # noqa
def test_show(world, settings):
    settings.BILLING_SUSPEND_AFTER_DAYS = 6
    s = make_service(world.alice, world.hosting, due=D)
    make_service(world.alice, world.domain, due=D + dt.timedelta(days=2), cycle="annual", label="alice.com.co", price="89000")
    for day in (-15, -5, 0, 5, 6, 30):
        run(D + dt.timedelta(days=day))
    for e in OutgoingEmail.objects.order_by("pk"):
        print("=" * 20, e.template, "|", e.subject); print(e.body_text)
