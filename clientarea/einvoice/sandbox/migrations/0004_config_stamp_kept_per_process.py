"""The simulator's data stamp: one row, replaced by the database on every write to the tables
the simulator keeps per process (``selectors.known``).

The triggers are the database's own, so no write escapes them: services, the back office, a
shell, a test's ``.update()``, another process. SQLite: one trigger per table and event;
PostgreSQL: one statement trigger per table (TRUNCATE too). The new stamp is random, never a
counter: a rolled-back transaction cannot bring back a stamp that named other data.
A later migration that makes SQLite rebuild one of these tables drops its triggers: it must
create them again (``test_known.py`` fails until it does).
"""

import secrets

from django.db import migrations, models

TABLES = ("simulatorsettings", "software", "numberingrange", "signingidentity", "fault")
STAMP_TABLE = "dian_sandbox_configstamp"
PG_FUNCTION = f"""
CREATE OR REPLACE FUNCTION dian_sandbox_new_stamp() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE "{STAMP_TABLE}" SET "stamp" = md5(random()::text || clock_timestamp()::text);
    RETURN NULL;
END
$$
"""


def _sqlite_triggers():
    for table in TABLES:
        for event in ("INSERT", "UPDATE", "DELETE"):
            name = f"dian_sandbox_stamp_{table}_{event.lower()}"
            yield name, (
                f'CREATE TRIGGER "{name}" AFTER {event} ON "dian_sandbox_{table}" BEGIN '
                f'UPDATE "{STAMP_TABLE}" SET "stamp" = lower(hex(randomblob(16))); END'
            )


def create_stamp(apps, schema_editor):
    apps.get_model("dian_sandbox", "ConfigStamp").objects.create(
        pk=1, stamp=secrets.token_hex(16)
    )
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        for _, statement in _sqlite_triggers():
            schema_editor.execute(statement)
    elif vendor == "postgresql":
        schema_editor.execute(PG_FUNCTION)
        for table in TABLES:
            schema_editor.execute(
                f'CREATE TRIGGER "dian_sandbox_stamp_{table}" AFTER INSERT OR UPDATE OR DELETE '
                f'OR TRUNCATE ON "dian_sandbox_{table}" FOR EACH STATEMENT '
                "EXECUTE FUNCTION dian_sandbox_new_stamp()"
            )
    # other databases: no triggers, and the simulator keeps nothing (selectors.known)


def drop_stamp(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        for name, _ in _sqlite_triggers():
            schema_editor.execute(f'DROP TRIGGER IF EXISTS "{name}"')
    elif vendor == "postgresql":
        for table in TABLES:
            schema_editor.execute(
                f'DROP TRIGGER IF EXISTS "dian_sandbox_stamp_{table}" ON "dian_sandbox_{table}"'
            )
        schema_editor.execute("DROP FUNCTION IF EXISTS dian_sandbox_new_stamp()")


class Migration(migrations.Migration):

    dependencies = [
        ('dian_sandbox', '0003_note_amounts_references_and_type_codes'),
    ]

    operations = [
        migrations.CreateModel(
            name='ConfigStamp',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('stamp', models.CharField(max_length=32)),
            ],
        ),
        migrations.RunPython(create_stamp, drop_stamp),
    ]
