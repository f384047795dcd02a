"""The database cache table (``CACHES`` without ``REDIS_URL``), created by ``migrate``.

The rate limits of the public forms count in the default cache. Without Redis it is Django's
database cache, whose table ``createcachetable`` makes; running it here means a plain
``migrate`` (and ``make run``) is enough. It does nothing when the cache is Redis, and is
safe to run again by hand (``clientarea createcachetable``) after switching from Redis.
"""

from django.core.management import call_command
from django.db import migrations


def create_cache_table(apps, schema_editor):
    call_command("createcachetable", database=schema_editor.connection.alias, verbosity=0)


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("accounts", "0001_initial")]

    operations = [migrations.RunPython(create_cache_table, migrations.RunPython.noop)]
