"""The sessions' database cache table (``CACHES["sessions"]`` without ``REDIS_URL``).

Sessions use Django's ``cached_db`` engine (settings): without Redis its cache is a database
cache table of its own, which ``createcachetable`` makes (it skips tables that exist, and does
nothing for Redis), as 0002 made the default cache's.
"""

from django.core.management import call_command
from django.db import migrations


def create_cache_tables(apps, schema_editor):
    call_command("createcachetable", database=schema_editor.connection.alias, verbosity=0)


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("accounts", "0007_account_holders_become_owners")]

    operations = [migrations.RunPython(create_cache_tables, migrations.RunPython.noop)]
