"""The schema: numbered SQL scripts, applied in order by ``bot.storage.db`` (``migrations()``)."""
