-- OpenID Connect grants: what a campus app holds for a student, and the steps that lead to it.

-- A token family opened for a client is that client's grant (the first-party API's families
-- have no client). It remembers the scopes granted, the Gatehouse session it came from (`sid`
-- in ID tokens and logout tokens) and when the student signed in. Removing a client removes
-- its grants.
ALTER TABLE token_families ADD COLUMN client_id TEXT REFERENCES oidc_clients(id) ON DELETE CASCADE;
ALTER TABLE token_families ADD COLUMN scope TEXT;
ALTER TABLE token_families ADD COLUMN sid TEXT;
ALTER TABLE token_families ADD COLUMN auth_time INTEGER;
-- 1 when the grant was ended for a reason its client must hear of (a sign-out, a revoked
-- session, an admin action, "remove access") and the back-channel logout is not queued yet.
ALTER TABLE token_families ADD COLUMN logout_pending INTEGER NOT NULL DEFAULT 0;
CREATE INDEX token_families_sid ON token_families(sid) WHERE sid IS NOT NULL;
CREATE INDEX token_families_client ON token_families(client_id, user_id) WHERE client_id IS NOT NULL;
CREATE INDEX token_families_logout ON token_families(logout_pending) WHERE logout_pending = 1;

-- Authorization codes: single use, 60 seconds, bound to their client, redirect URI and PKCE
-- challenge. Kept as their hash; after use, the family they were exchanged for, so a second
-- use revokes it.
CREATE TABLE oidc_codes (
    code_hash BLOB PRIMARY KEY,
    client_id TEXT NOT NULL REFERENCES oidc_clients(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    session_id TEXT NOT NULL,
    redirect_uri TEXT NOT NULL,
    scope TEXT NOT NULL,
    nonce TEXT,
    code_challenge TEXT NOT NULL,
    auth_time INTEGER NOT NULL,
    amr TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at INTEGER,
    family_id TEXT
) STRICT;
CREATE INDEX oidc_codes_user ON oidc_codes(user_id);
CREATE INDEX oidc_codes_expiry ON oidc_codes(expires_at);

-- Consents a student gave an (untrusted) app: the scopes granted so far. A request within
-- them needs no new consent; "remove access" deletes the row and ends the app's grants.
CREATE TABLE oidc_consents (
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    client_id TEXT NOT NULL REFERENCES oidc_clients(id) ON DELETE CASCADE,
    scope TEXT NOT NULL,
    granted_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, client_id)
) STRICT;
CREATE INDEX oidc_consents_client ON oidc_consents(client_id);

-- Device authorization (RFC 8628): a lab machine or a command-line tool shows a user code,
-- the student approves it on the web page /device, the tool polls with its device code.
CREATE TABLE oidc_device_codes (
    device_code_hash BLOB PRIMARY KEY,
    user_code TEXT NOT NULL UNIQUE,
    client_id TEXT NOT NULL REFERENCES oidc_clients(id) ON DELETE CASCADE,
    scope TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    poll_interval INTEGER NOT NULL,
    last_polled_at INTEGER,
    -- Filled in by the approval.
    user_id TEXT REFERENCES users(id) ON DELETE CASCADE,
    session_id TEXT,
    auth_time INTEGER,
    amr TEXT,
    decision TEXT CHECK (decision IN ('approved', 'denied')),
    used_at INTEGER
) STRICT;
CREATE INDEX oidc_device_codes_user ON oidc_device_codes(user_id);
CREATE INDEX oidc_device_codes_expiry ON oidc_device_codes(expires_at);

-- Back-channel logout tokens waiting to be POSTed to clients (OpenID Connect Back-Channel
-- Logout 1.0), with retries. The token is signed when it is sent.
CREATE TABLE oidc_logouts (
    id INTEGER PRIMARY KEY,
    client_id TEXT NOT NULL REFERENCES oidc_clients(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    sid TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    sent_at INTEGER,
    failed_at INTEGER,
    last_error TEXT,
    UNIQUE (client_id, sid)
) STRICT;
CREATE INDEX oidc_logouts_due ON oidc_logouts(next_attempt_at) WHERE sent_at IS NULL AND failed_at IS NULL;
CREATE INDEX oidc_logouts_user ON oidc_logouts(user_id);

-- Per client: ID tokens RS256 (default) or EdDSA.
ALTER TABLE oidc_clients ADD COLUMN id_token_alg TEXT NOT NULL DEFAULT 'RS256'
    CHECK (id_token_alg IN ('RS256', 'EdDSA'));

-- When the profile (display name) last changed: the `updated_at` claim of the `profile` scope.
ALTER TABLE users ADD COLUMN profile_updated_at INTEGER;
