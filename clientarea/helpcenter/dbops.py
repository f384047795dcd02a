"""Migration operations that run only on one database vendor."""

from __future__ import annotations

from django.db import migrations


class VendorRunSQL(migrations.RunSQL):
    """``RunSQL`` that runs only when the database vendor matches (e.g. the FTS5 table on SQLite)."""

    def __init__(self, vendor: str, sql, reverse_sql=None, **kwargs) -> None:
        self.vendor = vendor
        super().__init__(sql, reverse_sql, **kwargs)

    def deconstruct(self):
        name, args, kwargs = super().deconstruct()
        return name, [self.vendor, *args], kwargs

    def database_forwards(self, app_label, schema_editor, from_state, to_state) -> None:
        if schema_editor.connection.vendor == self.vendor:
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state) -> None:
        if schema_editor.connection.vendor == self.vendor:
            super().database_backwards(app_label, schema_editor, from_state, to_state)

    def describe(self) -> str:
        return f"Raw SQL operation (only on {self.vendor})"
