-- PostgreSQL twin of migrations/0007_mfa_captcha.sql (see README.md in this folder).
-- 0007: second factors. A TOTP credential per account (RFC 6238), its single-use recovery
-- codes, and the pending sign-ins that wait for a second factor.

-- The TOTP secret: 20 random bytes, sealed with the PII key (context
-- `totp_credentials.secret`, see src/privacy/sealed.rs).
CREATE TABLE totp_credentials (
    user_id TEXT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    secret BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    -- NULL while enrolment waits for its first code; TOTP is on once set.
    confirmed_at BIGINT,
    -- The last time step whose code was accepted: a code of this step or an earlier one is
    -- refused, so each code works once.
    last_step BIGINT
);

-- Keyed hashes (HMAC-SHA256) of the recovery codes; a used code keeps its row with used_at.
CREATE TABLE recovery_codes (
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    code_hash BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    used_at BIGINT,
    PRIMARY KEY (user_id, code_hash)
);

-- A sign-in whose password was right and that waits for a TOTP or recovery code
-- (`mfa_token`, stored as its SHA-256). Short-lived, few attempts, single use.
CREATE TABLE mfa_challenges (
    token_hash BYTEA PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    remember_me BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX mfa_challenges_user ON mfa_challenges(user_id);
CREATE INDEX mfa_challenges_expiry ON mfa_challenges(expires_at);
