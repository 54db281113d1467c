-- PostgreSQL twin of migrations/0011_sealed_uploads.sql (see README.md in this folder).
-- Licence images are sealed under a PII key when written (see src/driver/uploads.rs). The key
-- id of each file is kept beside it, so start-up finds the files still stored plain (NULL:
-- written before this migration) and key rotation finds what each key still seals, without
-- opening every file.
ALTER TABLE driver_uploads ADD COLUMN key_id BIGINT;
