-- 0004: phone sign-in codes. A phone is looked up by a keyed HMAC of its E.164 form (like
-- email_index); it signs in an account only once verified with a code.
ALTER TABLE users ADD COLUMN phone_index BLOB;
ALTER TABLE users ADD COLUMN phone_verified_at INTEGER;
-- One account per verified phone. An unverified phone typed at sign-up proves nothing, so
-- it may appear on several accounts.
CREATE UNIQUE INDEX users_verified_phone ON users(phone_index) WHERE phone_verified_at IS NOT NULL;

-- Codes sent by SMS, stored as an HMAC. A new code for a phone kills the older ones (dead_at);
-- a code is dead after 5 wrong attempts and spent once used.
CREATE TABLE phone_codes (
    id INTEGER PRIMARY KEY,
    phone_index BLOB NOT NULL,
    code_hash BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    used_at INTEGER,
    dead_at INTEGER
) STRICT;
CREATE INDEX phone_codes_phone ON phone_codes(phone_index, created_at);

-- Every verification attempt, for the per-phone and per-IP limits.
CREATE TABLE phone_code_checks (
    id INTEGER PRIMARY KEY,
    phone_index BLOB NOT NULL,
    ip TEXT,
    at INTEGER NOT NULL
) STRICT;
CREATE INDEX phone_code_checks_phone ON phone_code_checks(phone_index, at);
CREATE INDEX phone_code_checks_ip ON phone_code_checks(ip, at);
