"""DIAN's published habilitación values the demo uses (same data as ``dian_sandbox_seed``)."""

import datetime as dt

from django.db import migrations

SOFTWARE_ID = "56f2ae4e-9812-4fad-9255-08fcfcd5ccb0"  # EINVOICE_SOFTWARE_ID's default
TECHNICAL_KEY = "fc8eac422eba16e22ffd8c6f94b3f40a6e38162c"  # DIAN's test-set clave técnica
TEST_SET_ID = "7c4f0a2e-5b1d-4e8a-9f63-2d8b1e6a0c35"


def seed(apps, schema_editor):
    SimulatorSettings = apps.get_model("dian_sandbox", "SimulatorSettings")
    Software = apps.get_model("dian_sandbox", "Software")
    NumberingRange = apps.get_model("dian_sandbox", "NumberingRange")
    TestSet = apps.get_model("dian_sandbox", "TestSet")
    SimulatorSettings.objects.get_or_create(pk=1)
    software, _ = Software.objects.get_or_create(
        software_id=SOFTWARE_ID,
        defaults=dict(pin="12345", provider_nit="800123456", name="ClientArea (demo)"),
    )
    NumberingRange.objects.get_or_create(
        software=software, resolution_number="18760000001", prefix="SETP",
        defaults=dict(
            resolution_date=dt.date(2019, 1, 19), from_number=990000000, to_number=995000000,
            valid_from=dt.date(2019, 1, 19), valid_to=dt.date(2030, 1, 19),
            technical_key=TECHNICAL_KEY,
        ),
    )
    TestSet.objects.get_or_create(test_set_id=TEST_SET_ID, defaults=dict(software=software))


class Migration(migrations.Migration):
    dependencies = [("dian_sandbox", "0001_initial")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
