-- PostgreSQL twin of migrations/0006_lockout.sql (see README.md in this folder).
-- 0006: account lockout. After 5 consecutive failed passwords an account is throttled for
-- 1 minute, doubling with each further lock up to 1 hour (lock_level counts the locks since
-- the last successful sign-in).
ALTER TABLE users ADD COLUMN failed_logins BIGINT NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN lock_level BIGINT NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN locked_until BIGINT;
