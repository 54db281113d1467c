-- 0012: per-account caps on what costs money or machine time, counted here so they hold across
-- restarts (issue 20).
--
-- A code requested by a signed-in account (to link a phone) records that account: link codes
-- are capped per account per day, whatever numbers they go to (SMS toll fraud). Sign-in codes
-- have no requester (NULL). Retention keeps code rows a day past their expiry, so the day's
-- codes are all still here when they are counted.
ALTER TABLE phone_codes ADD COLUMN requested_by TEXT REFERENCES users(id) ON DELETE CASCADE;
CREATE INDEX phone_codes_requested_by ON phone_codes(requested_by, created_at)
    WHERE requested_by IS NOT NULL;

-- Every licence upload that got past the hourly cap, whatever its outcome: a refused or failed
-- upload was decoded, read by the barcode reader and perhaps OCR'd all the same. Rows older
-- than the cap's window are deleted when the account uploads again.
CREATE TABLE driver_upload_attempts (
    id INTEGER PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    at INTEGER NOT NULL
) STRICT;
CREATE INDEX driver_upload_attempts_user ON driver_upload_attempts(user_id, at);
