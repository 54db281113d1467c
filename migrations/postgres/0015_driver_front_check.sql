-- PostgreSQL twin of migrations/0015_driver_front_check.sql (see README.md in this folder).
-- The front of each licence is compared with its barcode (the printed licence number, expiry
-- and name read by OCR against the barcode's): the outcome and which fields differed. Neither
-- holds personal data: the outcome is a word, the fields are field names.
-- Licences stored before the comparison existed were never compared: 'not_available'.
ALTER TABLE driver_licences ADD COLUMN front_check TEXT NOT NULL DEFAULT 'not_available'
    CHECK (front_check IN ('agrees', 'disagrees', 'unreadable', 'not_available', 'no_barcode'));
ALTER TABLE driver_licences ADD COLUMN front_mismatches TEXT NOT NULL DEFAULT '';
