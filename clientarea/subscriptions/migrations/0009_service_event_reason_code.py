"""Service history rows say why as a code and its values (``subscriptions.event_texts``).

Rows written before stored either one of a few internal codes in ``reason`` ("paid", "staff",
"overdue"…, put into words only on the customer's page) or a finished sentence. The codes become
``reason_code`` (so every page reads them in the reader's language) with their English words in
``reason``; sentences stay as they were written and are shown as they are.
"""

from django.db import migrations, models

#: What ``reason`` held → (the code, its English words as ``event_texts`` has them).
LEGACY = {
    "paid": ("paid", "payment received"),
    "ordered": ("ordered", "ordered"),
    "staff": ("staff", "by our support team"),
    "overdue": ("overdue", "overdue payment"),
    "manual": ("manual", "by our support team"),
    "imported": ("imported", "moved from our previous system"),
    "ordered from the catalog": ("ordered_catalog", "ordered from the catalog"),
}


def codes_forward(apps, schema_editor):
    ServiceEvent = apps.get_model("subscriptions", "ServiceEvent")
    for stored, (code, english) in LEGACY.items():
        ServiceEvent.objects.filter(reason=stored, reason_code="").update(
            reason_code=code, reason=english
        )


def codes_back(apps, schema_editor):
    ServiceEvent = apps.get_model("subscriptions", "ServiceEvent")
    for stored, (code, _english) in LEGACY.items():
        ServiceEvent.objects.filter(reason_code=code).update(reason=stored)


class Migration(migrations.Migration):
    dependencies = [
        ("subscriptions", "0008_options"),
    ]

    operations = [
        migrations.AddField(
            model_name="serviceevent",
            name="reason_code",
            field=models.CharField(blank=True, default="", max_length=40),
        ),
        migrations.AddField(
            model_name="serviceevent",
            name="reason_values",
            field=models.JSONField(blank=True, default=dict),
        ),
        migrations.RunPython(codes_forward, codes_back),
    ]
