-- gatehouse: foreign_keys=off
-- 0005: accounts may have no email (phone-only accounts, with auth.phone_signup = true). SQLite
-- cannot drop NOT NULL in place, so the table is rebuilt (the runner turns foreign keys off
-- for this file and checks them before it commits). Every account keeps a way to sign in: an
-- email or a verified phone.
CREATE TABLE users_new (
    id TEXT PRIMARY KEY,
    -- Keyed HMAC of the normalised email: lookups and uniqueness without reading the email.
    email_index BLOB UNIQUE,
    email TEXT,
    display_name TEXT NOT NULL,
    legal_name TEXT,
    phone TEXT,
    password_hash TEXT,
    campus_id INTEGER REFERENCES campuses(id) ON DELETE SET NULL,
    role TEXT NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'reviewer', 'admin')),
    email_verified_at INTEGER,
    created_at INTEGER NOT NULL,
    password_changed_at INTEGER,
    phone_index BLOB,
    phone_verified_at INTEGER,
    CHECK ((email IS NULL) = (email_index IS NULL)),
    CHECK (email_index IS NOT NULL OR phone_verified_at IS NOT NULL)
) STRICT;
INSERT INTO users_new (id, email_index, email, display_name, legal_name, phone, password_hash,
                       campus_id, role, email_verified_at, created_at, password_changed_at,
                       phone_index, phone_verified_at)
SELECT id, email_index, email, display_name, legal_name, phone, password_hash, campus_id, role,
       email_verified_at, created_at, password_changed_at, phone_index, phone_verified_at
FROM users;
DROP TABLE users;
ALTER TABLE users_new RENAME TO users;
CREATE INDEX users_role ON users(role);
CREATE UNIQUE INDEX users_verified_phone ON users(phone_index) WHERE phone_verified_at IS NOT NULL;
