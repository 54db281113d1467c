-- Webhooks (SPEC section 13): endpoints registered by admins, and one delivery per (event,
-- endpoint), queued in the transaction of the change that caused the event.

CREATE TABLE webhook_endpoints (
    id TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    -- The event types sent there, space-separated.
    events TEXT NOT NULL,
    -- `whsec_...`, sealed with the PII key (webhook_endpoints.secret).
    secret TEXT NOT NULL,
    -- The secret before the last rotation: it signs beside the new one until then.
    previous_secret TEXT,
    previous_secret_until INTEGER,
    created_at INTEGER NOT NULL,
    created_by TEXT REFERENCES users(id) ON DELETE SET NULL,
    secret_rotated_at INTEGER
) STRICT;

CREATE TABLE webhook_deliveries (
    id INTEGER PRIMARY KEY,
    -- The `webhook-id`: the same on every try.
    message_id TEXT NOT NULL UNIQUE,
    endpoint_id TEXT NOT NULL REFERENCES webhook_endpoints(id) ON DELETE CASCADE,
    event_type TEXT NOT NULL,
    -- The body as sent: {"type", "timestamp", "data"}; ids and states only.
    payload TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    sent_at INTEGER,
    failed_at INTEGER,
    last_status INTEGER,
    last_error TEXT
) STRICT;
CREATE INDEX webhook_deliveries_due ON webhook_deliveries(next_attempt_at)
    WHERE sent_at IS NULL AND failed_at IS NULL;
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries(endpoint_id, created_at);
