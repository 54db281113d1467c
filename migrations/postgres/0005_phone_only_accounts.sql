-- PostgreSQL twin of migrations/0005_phone_only_accounts.sql (see README.md in this folder).
-- 0005: accounts may have no email (phone-only accounts, with auth.phone_signup = true). Every
-- account keeps a way to sign in: an email or a verified phone.
--
-- SQLite rebuilds the table (users_new, copy, drop, rename) because it cannot drop NOT NULL in
-- place, and so its file starts with the `foreign_keys=off` line. PostgreSQL alters the
-- table in place: the rows, the foreign keys that point at users and the indexes users_role
-- and users_verified_phone (which SQLite recreates after the rebuild) all stay as they are,
-- so no rows move and no marker line is needed. The end state is the same as SQLite's.
ALTER TABLE users ALTER COLUMN email_index DROP NOT NULL;
ALTER TABLE users ALTER COLUMN email DROP NOT NULL;
ALTER TABLE users ADD CONSTRAINT users_email_pair_check
    CHECK ((email IS NULL) = (email_index IS NULL));
ALTER TABLE users ADD CONSTRAINT users_sign_in_check
    CHECK (email_index IS NOT NULL OR phone_verified_at IS NOT NULL);
