-- 0001: the appliance skeleton.
-- A one-row table that /ready writes to, proving the database accepts writes.
CREATE TABLE readiness_probe (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    checked_at TEXT NOT NULL
) STRICT;
INSERT INTO readiness_probe (id, checked_at) VALUES (1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));

-- Facts about this installation (instance id, first start).
CREATE TABLE instance (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;
