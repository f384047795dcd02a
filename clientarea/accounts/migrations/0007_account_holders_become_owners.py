"""Every existing customer's login becomes the owner contact of its account (the holder)."""

from django.db import migrations


def holders_to_owners(apps, schema_editor):
    Customer = apps.get_model("accounts", "Customer")
    Contact = apps.get_model("accounts", "Contact")
    have = set(Contact.objects.values_list("user_id", flat=True))
    batch = []
    for customer_id, user_id, created_at in Customer.objects.values_list(
        "pk", "user_id", "created_at"
    ).iterator(chunk_size=2000):
        if user_id in have:
            continue
        batch.append(
            Contact(customer_id=customer_id, user_id=user_id, is_owner=True, created_at=created_at)
        )
        if len(batch) >= 2000:
            Contact.objects.bulk_create(batch)
            batch = []
    Contact.objects.bulk_create(batch)


def owners_back(apps, schema_editor):
    Customer = apps.get_model("accounts", "Customer")
    Contact = apps.get_model("accounts", "Contact")
    Contact.objects.filter(user_id__in=Customer.objects.values("user_id")).delete()


class Migration(migrations.Migration):
    dependencies = [("accounts", "0006_contacts_and_einvoice_email")]

    operations = [migrations.RunPython(holders_to_owners, owners_back)]
