-- PostgreSQL twin of migrations/0001_init.sql (see README.md in this folder).
-- 0001: the appliance skeleton.
-- A one-row table that /ready writes to, proving the database accepts writes.
CREATE TABLE readiness_probe (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    checked_at TEXT NOT NULL
);
-- The text SQLite's strftime('%Y-%m-%dT%H:%M:%fZ', 'now') gives: UTC, milliseconds, 'Z'.
INSERT INTO readiness_probe (id, checked_at)
VALUES (1, to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'));

-- Facts about this installation (instance id, first start).
CREATE TABLE instance (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
