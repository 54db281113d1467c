-- 0002: campuses, accounts, email tokens, sessions, the audit log and the outbox.
-- Times are Unix seconds (UTC).

CREATE TABLE campuses (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
) STRICT;

-- Registration is allowed only for these exact domains (a subdomain must be listed itself).
CREATE TABLE campus_domains (
    domain TEXT PRIMARY KEY,
    campus_id INTEGER NOT NULL REFERENCES campuses(id) ON DELETE CASCADE
) STRICT;
CREATE INDEX campus_domains_campus ON campus_domains(campus_id);

CREATE TABLE users (
    id TEXT PRIMARY KEY,
    -- Keyed HMAC of the normalised email: lookups and uniqueness without reading the email.
    email_index BLOB NOT NULL UNIQUE,
    email TEXT NOT NULL,
    display_name TEXT NOT NULL,
    legal_name TEXT,
    phone TEXT,
    password_hash TEXT,
    campus_id INTEGER REFERENCES campuses(id) ON DELETE SET NULL,
    role TEXT NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'reviewer', 'admin')),
    email_verified_at INTEGER,
    created_at INTEGER NOT NULL,
    password_changed_at INTEGER
) STRICT;
CREATE INDEX users_role ON users(role);

-- Single-use email links (verification, password reset), stored as SHA-256 of the token.
CREATE TABLE email_tokens (
    token_hash BLOB PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    purpose TEXT NOT NULL CHECK (purpose IN ('verify_email', 'reset_password')),
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at INTEGER
) STRICT;
CREATE INDEX email_tokens_user ON email_tokens(user_id, purpose, created_at);

CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    token_hash BLOB NOT NULL UNIQUE,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    remember_me INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    ip TEXT,
    user_agent TEXT
) STRICT;
CREATE INDEX sessions_user ON sessions(user_id);
CREATE INDEX sessions_expiry ON sessions(expires_at);

-- The one-time link printed at first start to create the first admin in the web UI.
CREATE TABLE bootstrap_tokens (
    token_hash BLOB PRIMARY KEY,
    expires_at INTEGER NOT NULL,
    used_at INTEGER
) STRICT;

-- Append-only: rows are never updated; retention deletes old ones.
CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    actor_id TEXT,
    action TEXT NOT NULL,
    subject_id TEXT,
    ip TEXT,
    outcome TEXT NOT NULL CHECK (outcome IN ('success', 'failure')),
    details TEXT NOT NULL DEFAULT '{}'
) STRICT;
CREATE INDEX audit_log_subject ON audit_log(subject_id, at);
CREATE INDEX audit_log_action ON audit_log(action, at);
CREATE INDEX audit_log_at ON audit_log(at);
CREATE TRIGGER audit_log_append_only BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;

-- Messages to send. A worker delivers due rows with retries; the body is cleared once sent,
-- because it may carry a single-use link.
CREATE TABLE outbox (
    id INTEGER PRIMARY KEY,
    channel TEXT NOT NULL CHECK (channel IN ('email', 'sms')),
    recipient TEXT NOT NULL,
    subject TEXT NOT NULL,
    body_text TEXT NOT NULL,
    body_html TEXT,
    created_at INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    sent_at INTEGER,
    failed_at INTEGER,
    last_error TEXT
) STRICT;
CREATE INDEX outbox_due ON outbox(next_attempt_at) WHERE sent_at IS NULL AND failed_at IS NULL;
