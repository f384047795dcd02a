"""Bulk INSERT of model instances without the per-value work of ``QuerySet.bulk_create``.

``bulk_create`` prepares every value through the SQL compiler (``pre_save``, ``get_db_prep_save``,
placeholder SQL per value) and, on SQLite, cuts the rows into statements of at most 999
parameters: for the billing run that preparation cost more than the database's own work.
``insert`` does the same INSERT with Django's public pieces only:

* the columns come from the model's ``_meta`` API (fields, ``attname``, ``column``);
* values of fields whose database value is the Python value itself (text, integers, booleans,
  foreign key ids) are passed as they are; every other field (decimals, dates, datetimes, JSON)
  goes through its public ``Field.get_db_prep_save(value, connection)``, so the database gets
  what ``bulk_create`` would send; ``auto_now``/``auto_now_add`` fields get ``Field.pre_save``;
* rows are sent with ``cursor.executemany`` (one prepared statement, many rows), or, when the
  primary keys are wanted back, as multi-row ``INSERT ... RETURNING`` statements (PostgreSQL,
  and SQLite 3.35+, as ``bulk_create`` does), setting each instance's ``pk`` and ``_state`` as
  ``bulk_create`` does. No signals are sent (``bulk_create`` sends none either).

Only for plain models: no multi-table inheritance, a single auto-increment primary key.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from django.db import connections, models, router

#: Fields (exact types) whose database value is the Python value: integers, booleans, ids.
IDENTITY_TYPES = frozenset(
    {
        models.IntegerField,
        models.SmallIntegerField,
        models.BigIntegerField,
        models.PositiveIntegerField,
        models.PositiveSmallIntegerField,
        models.PositiveBigIntegerField,
        models.BooleanField,
        models.ForeignKey,
    }
)
#: Text fields (exact types): a plain ``str`` (or None) goes as it is, anything else (a lazy
#: translation...) through the field.
TEXT_TYPES = frozenset({models.CharField, models.EmailField, models.SlugField, models.TextField})

Convert = Callable[[models.Model, Any], Any] | None


def _converter(field: models.Field, connection) -> Convert:
    if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
        return lambda obj, _value: field.get_db_prep_save(
            field.pre_save(obj, add=True), connection=connection
        )
    if type(field) in IDENTITY_TYPES:
        return None
    if type(field) in TEXT_TYPES:
        return lambda _obj, value: (
            value
            if value is None or type(value) is str
            else field.get_db_prep_save(value, connection=connection)
        )
    if type(field) in (models.DateField, models.DecimalField):
        # Dates and amounts repeat across rows (issue dates, prices): each value prepared once
        # per call. The key keeps a Decimal's exponent (1.0 and 1.00 are equal, not the same).
        memo: dict[Any, Any] = {}

        def convert(_obj: models.Model, value: Any) -> Any:
            key = (type(value), str(value))
            try:
                return memo[key]
            except KeyError:
                prepared = memo[key] = field.get_db_prep_save(value, connection=connection)
                return prepared

        return convert
    return lambda _obj, value: field.get_db_prep_save(value, connection=connection)


def insert(objs: Sequence[models.Model], *, return_ids: bool = False) -> None:
    """INSERT ``objs`` (all of one model) in the current transaction; with ``return_ids``, set
    their primary keys. Raises IntegrityError like ``bulk_create`` (nothing is caught)."""
    if not objs:
        return
    model = type(objs[0])
    db = router.db_for_write(model)
    connection = connections[db]
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    plan = [(f.attname, _converter(f, connection)) for f in fields]
    rows = [
        tuple(
            getattr(obj, name) if convert is None else convert(obj, getattr(obj, name))
            for name, convert in plan
        )
        for obj in objs
    ]
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    columns = ", ".join(quote(f.column) for f in fields)
    one = "(" + ", ".join(["%s"] * len(fields)) + ")"
    with connection.cursor() as cursor:
        if not return_ids:
            # Names from _meta, quoted by the backend; every value is a parameter.
            cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES {one}", rows)  # noqa: S608
        else:
            pk = quote(model._meta.pk.column)
            limit = connection.features.max_query_params or 10_000
            per = max(1, limit // max(1, len(fields)))
            ids: list[Any] = []
            for start in range(0, len(rows), per):
                batch = rows[start : start + per]
                sql = (
                    f"INSERT INTO {table} ({columns}) VALUES {', '.join([one] * len(batch))} "  # noqa: S608 (names from _meta, values are parameters)
                    f"RETURNING {pk}"
                )
                cursor.execute(sql, [value for row in batch for value in row])
                ids.extend(row[0] for row in cursor.fetchall())
            for obj, pk_value in zip(objs, ids, strict=True):
                obj.pk = pk_value
    for obj in objs:
        obj._state.adding = False
        obj._state.db = db
