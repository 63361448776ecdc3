-- The twin of ../0011_leases.sql (tests/test_schema_pair.py compares the two): leases several
-- replicas share the work by (bot/replicas.py). `until` is a non-reserved word in PostgreSQL.
CREATE TABLE leases (
    name   ctext PRIMARY KEY,
    holder ctext NOT NULL,
    until  ctext NOT NULL
);
