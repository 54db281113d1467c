-- 0010: privacy by construction.
--
-- Personal data is sealed with AES-256-GCM (src/privacy/cipher.rs): the users' email, names and
-- phone and the outbox's recipient and bodies keep their TEXT columns but hold sealed text
-- (the byte 0x01, then base64). Values stored in plain text before this migration are sealed by
-- the server at start-up (src/privacy/migrate.rs), which holds the key; no plain value can start
-- with 0x01. (The tables are not rebuilt, so columns other branches add to them survive.)

-- Retention deletes accounts never verified.
CREATE INDEX users_unverified ON users(created_at) WHERE email_verified_at IS NULL;

-- One row per PII key id ever used: a value sealed under the key, opened at start-up to prove
-- the key file is the right one before any data is touched. retired_at: the key file was
-- deleted after nothing was sealed under it any more.
CREATE TABLE pii_keys (
    id INTEGER PRIMARY KEY,
    check_value BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    retired_at INTEGER
) STRICT;

-- Accounts that were deleted: only the id (no personal data), so that a second deletion or a
-- request with a still-valid access token gets a clear answer.
CREATE TABLE deleted_accounts (
    id TEXT PRIMARY KEY,
    deleted_at INTEGER NOT NULL,
    reason TEXT NOT NULL CHECK (reason IN ('self', 'admin', 'retention'))
) STRICT;

-- Privacy-policy versions, in publication order (the newest is current).
CREATE TABLE privacy_policies (
    id INTEGER PRIMARY KEY,
    version TEXT NOT NULL UNIQUE,
    text TEXT NOT NULL,
    published_at INTEGER NOT NULL,
    published_by TEXT
) STRICT;

CREATE TABLE policy_acceptances (
    id INTEGER PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    policy_id INTEGER NOT NULL REFERENCES privacy_policies(id),
    accepted_at INTEGER NOT NULL,
    UNIQUE (user_id, policy_id)
) STRICT;

-- The audit log stays append-only, with one exception: deleting an account pseudonymises its
-- rows (ids replaced by 'deleted:<keyed hash>', the IP address erased). Nothing else may change.
DROP TRIGGER audit_log_append_only;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE ON audit_log
WHEN NOT (NEW.id = OLD.id AND NEW.at = OLD.at AND NEW.action = OLD.action
          AND NEW.outcome = OLD.outcome AND NEW.details = OLD.details
          AND (NEW.actor_id IS OLD.actor_id OR NEW.actor_id LIKE 'deleted:%')
          AND (NEW.subject_id IS OLD.subject_id OR NEW.subject_id LIKE 'deleted:%')
          AND (NEW.ip IS OLD.ip OR NEW.ip IS NULL))
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;
CREATE INDEX audit_log_actor ON audit_log(actor_id);
