-- PostgreSQL twin of migrations/0016_oidc_clients.sql (see README.md in this folder).
-- OpenID Connect clients: campus apps that sign students in through Gatehouse, registered by
-- admins. A confidential client's secret is kept as its SHA-256 hash (it is 256 random bits,
-- so a slow hash adds nothing); a public client (a mobile or desktop app) has none.
CREATE TABLE oidc_clients (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    secret_hash BYTEA,
    public BIGINT NOT NULL CHECK (public IN (0, 1)),
    trusted BIGINT NOT NULL DEFAULT 0 CHECK (trusted IN (0, 1)),
    -- JSON arrays of exact URIs.
    redirect_uris TEXT NOT NULL,
    post_logout_redirect_uris TEXT NOT NULL DEFAULT '[]',
    backchannel_logout_uri TEXT,
    -- The scopes the client may ask for (JSON array).
    scopes TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    -- The admin who registered it (NULL: the command line).
    created_by TEXT,
    secret_rotated_at BIGINT,
    CHECK ((public = 1) = (secret_hash IS NULL))
);
