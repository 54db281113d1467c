-- PostgreSQL twin of migrations/0019_passkeys.sql (see README.md in this folder).
-- Passkeys (SPEC section 12): WebAuthn credentials that sign in on their own (discoverable,
-- user-verified), and the single-use challenges of their ceremonies.

CREATE TABLE passkeys (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    -- The authenticator's credential id: how a sign-in with no email finds the passkey.
    credential_id BYTEA NOT NULL UNIQUE,
    -- The owner's name for it ("Phone"), sealed with the PII key (passkeys.name).
    name TEXT NOT NULL,
    -- webauthn-rs's Passkey as JSON: the public key, the signature counter, backup flags. No
    -- secret: the private key never leaves the authenticator.
    credential TEXT NOT NULL,
    -- The passkey can be synced between devices (backup eligible): amr `swk`, else `hwk`.
    synced BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT
);

CREATE INDEX passkeys_user ON passkeys(user_id);

CREATE TABLE passkey_challenges (
    -- SHA-256 of the challenge id handed to the client.
    id_hash BYTEA PRIMARY KEY,
    -- `register` (signed in or an emailed link) or `sign_in`.
    purpose TEXT NOT NULL,
    -- The account a registration is for; NULL for a sign-in (the passkey says whose it is).
    user_id TEXT REFERENCES users(id) ON DELETE CASCADE,
    -- webauthn-rs's ceremony state as JSON (it holds the challenge).
    state TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);

CREATE INDEX passkey_challenges_expiry ON passkey_challenges(expires_at);
