-- 0006: account lockout. After 5 consecutive failed passwords an account is throttled for
-- 1 minute, doubling with each further lock up to 1 hour (lock_level counts the locks since
-- the last successful sign-in).
ALTER TABLE users ADD COLUMN failed_logins INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN lock_level INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN locked_until INTEGER;
