-- PostgreSQL twin of migrations/0012_sign_in_methods.sql (see README.md in this folder).
-- 0012: how each sign-in was proved (RFC 8176 `amr` values separated by spaces, e.g.
-- "pwd otp mfa"), on sessions and API token families, so that admin operations can ask that the
-- session itself used a second factor. Rows from before hold '' (no second factor proved).
-- A pending two-step sign-in remembers its first factor: a password, or a phone code.

ALTER TABLE sessions ADD COLUMN amr TEXT NOT NULL DEFAULT '';
ALTER TABLE token_families ADD COLUMN amr TEXT NOT NULL DEFAULT '';
ALTER TABLE mfa_challenges ADD COLUMN first_factor TEXT NOT NULL DEFAULT 'pwd';
