"""Full-text search: the FTS5 table on SQLite, the unaccent extension on PostgreSQL.

Each operation does nothing on the other database. The FTS5 table is filled by
``services.save_article`` (and ``services.rebuild_search_index``), not by triggers or signals.
"""

from django.contrib.postgres.operations import CreateExtension
from django.db import migrations

from clientarea.helpcenter.dbops import VendorRunSQL


class Migration(migrations.Migration):
    dependencies = [("helpcenter", "0001_initial")]

    operations = [
        VendorRunSQL(
            "sqlite",
            sql=(
                "CREATE VIRTUAL TABLE helpcenter_article_fts USING fts5("
                "title, summary, tags, body, tokenize = 'unicode61 remove_diacritics 2')"
            ),
            reverse_sql="DROP TABLE IF EXISTS helpcenter_article_fts",
        ),
        # No-op on other databases (CreateExtension checks the vendor itself).
        CreateExtension("unaccent"),
    ]
