"""Spanish (es, es-CO): months are lowercase, "4 dic 2026", "4 dic 2026 14:05"."""

SHORT_DATE_FORMAT = "j b Y"
SHORT_DATETIME_FORMAT = "j b Y H:i"
