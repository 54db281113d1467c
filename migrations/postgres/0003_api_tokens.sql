-- PostgreSQL twin of migrations/0003_api_tokens.sql (see README.md in this folder).
-- 0003: API tokens. A family is one sign-in of an API client; each refresh spends its token
-- and adds the next one to the family. Presenting a spent token revokes the whole family.

CREATE TABLE token_families (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT,
    revoked_reason TEXT
);
CREATE INDEX token_families_user ON token_families(user_id);

CREATE TABLE refresh_tokens (
    token_hash BYTEA PRIMARY KEY,
    family_id TEXT NOT NULL REFERENCES token_families(id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    spent_at BIGINT
);
CREATE INDEX refresh_tokens_family ON refresh_tokens(family_id);
CREATE INDEX refresh_tokens_expiry ON refresh_tokens(expires_at);
