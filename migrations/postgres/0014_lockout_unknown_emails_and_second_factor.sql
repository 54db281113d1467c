-- PostgreSQL twin of migrations/0014_lockout_unknown_emails_and_second_factor.sql (see
-- README.md in this folder).
-- 0012: the lockout for emails no account has, and the per-account pause on wrong
-- second-factor codes (see src/accounts/lockout.rs).

-- An email without an account keeps the same lockout state an account keeps in `users`, so
-- that a locked account and an unknown email answer alike (429, then 428). Keyed by the
-- email's blind index (as `users.email_index`); the email itself is never stored. Rows whose
-- last failure is stale are purged by the retention job.
CREATE TABLE unknown_email_lockouts (
    email_index BYTEA PRIMARY KEY,
    failed_logins BIGINT NOT NULL DEFAULT 0,
    lock_level BIGINT NOT NULL DEFAULT 0,
    locked_until BIGINT,
    last_failure_at BIGINT NOT NULL
);
CREATE INDEX unknown_email_lockouts_last_failure ON unknown_email_lockouts(last_failure_at);

-- Failed passwords for unknown emails in the last hour, for the cap of 100 evaluated
-- failures an hour (an account's are counted from the audit log). Older rows are deleted.
-- (No primary key, as in SQLite; there the rows have a hidden rowid, which nothing uses.)
CREATE TABLE unknown_email_failures (
    email_index BYTEA NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX unknown_email_failures_by_index ON unknown_email_failures(email_index, at);
CREATE INDEX unknown_email_failures_at ON unknown_email_failures(at);

-- When the account's last failed password was: the retention job forgets a lockout series
-- after the same quiet time for accounts and unknown emails alike.
ALTER TABLE users ADD COLUMN last_failed_login_at BIGINT;

-- Wrong second-factor codes (TOTP or recovery codes, at sign-in, for a token, and at the
-- account's own checks): counted in a window of an hour from its first failure; 10 pause
-- second factors for an hour, doubling with each further pause up to a day. The pause level
-- counts pauses since the last successful sign-in (the owner is emailed at the first).
ALTER TABLE users ADD COLUMN mfa_failures BIGINT NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN mfa_window_start BIGINT;
ALTER TABLE users ADD COLUMN mfa_pause_level BIGINT NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN mfa_paused_until BIGINT;
