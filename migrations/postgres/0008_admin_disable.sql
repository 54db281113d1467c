-- PostgreSQL twin of migrations/0008_admin_disable.sql (see README.md in this folder).
-- 0008: admins can disable an account. A disabled account cannot sign in, and its sessions and
-- API tokens stop working (disabling also deletes them). NULL: enabled.
ALTER TABLE users ADD COLUMN disabled_at BIGINT;
CREATE INDEX users_disabled ON users(disabled_at) WHERE disabled_at IS NOT NULL;
