# Back-office search by domain or label, accent- and case-insensitive on both databases: the label
# folded (lib.text.fold) in its own column, filled here for existing services; on PostgreSQL a
# trigram index serves the search's LIKE '%…%' on it.

from django.db import migrations, models

from clientarea.lib.text import fold


def fill_search_label(apps, schema_editor):
    Service = apps.get_model("subscriptions", "Service")
    batch = []
    for service in Service.objects.exclude(label="").only("pk", "label").iterator(chunk_size=2000):
        service.search_label = fold(service.label)
        batch.append(service)
        if len(batch) >= 2000:
            Service.objects.bulk_update(batch, ["search_label"])
            batch = []
    Service.objects.bulk_update(batch, ["search_label"])


def create_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        schema_editor.execute(
            "CREATE INDEX subscriptions_service_search_label_trgm ON subscriptions_service "
            "USING gin (search_label gin_trgm_ops)"
        )


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS subscriptions_service_search_label_trgm")


class Migration(migrations.Migration):
    dependencies = [
        ("subscriptions", "0006_service_options_and_coupon"),
    ]

    operations = [
        migrations.AddField(
            model_name="service",
            name="search_label",
            field=models.CharField(blank=True, default="", editable=False, max_length=200),
        ),
        migrations.RunPython(fill_search_label, migrations.RunPython.noop),
        migrations.RunPython(create_index, drop_index),
    ]
