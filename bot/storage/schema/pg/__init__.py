"""PostgreSQL's twin of the schema: one script per SQLite migration, same number and name (0001 says the rules)."""
