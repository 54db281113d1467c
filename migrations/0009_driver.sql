-- 0009: driver verification (SPEC section 7). A user's driver state is one row in
-- driver_profiles; each uploaded licence is a row in driver_licences with the fields read from
-- it; its two images are rows in driver_uploads (where the file is, its size, hash and type:
-- never the image bytes). Expiry alerts sent are remembered so each goes out once.
CREATE TABLE driver_profiles (
    user_id TEXT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    status TEXT NOT NULL DEFAULT 'none'
        CHECK (status IN ('none', 'pending_review', 'approved', 'rejected', 'suspended')),
    -- The licence that makes the driver approved (or made them, once suspended).
    licence_id INTEGER REFERENCES driver_licences(id) ON DELETE SET NULL,
    -- Driving switched on by the driver (POST /driver/enable), and available for rides now.
    enabled INTEGER NOT NULL DEFAULT 0 CHECK (enabled IN (0, 1)),
    available INTEGER NOT NULL DEFAULT 0 CHECK (available IN (0, 1)),
    -- Set once a reviewer has approved this driver: later licences may be approved
    -- automatically.
    ever_approved INTEGER NOT NULL DEFAULT 0 CHECK (ever_approved IN (0, 1)),
    -- Why the driver was last rejected or suspended, for the driver to read.
    reason TEXT,
    updated_at INTEGER NOT NULL
) STRICT;

CREATE TABLE driver_licences (
    id INTEGER PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    status TEXT NOT NULL
        CHECK (status IN ('pending_review', 'approved', 'rejected', 'superseded')),
    -- Where the fields came from.
    source TEXT NOT NULL CHECK (source IN ('barcode', 'ocr', 'none')),
    family_name TEXT,
    given_names TEXT,
    licence_number TEXT,
    expiry_date TEXT,      -- YYYY-MM-DD; the licence is not valid from this day on
    birth_date TEXT,       -- YYYY-MM-DD
    issuer TEXT,
    name_score REAL,       -- 0..1 against the profile's legal name at upload time
    -- Why a person must look at it (empty when every check passed).
    review_notes TEXT NOT NULL DEFAULT '',
    decision_reason TEXT,
    decided_by TEXT REFERENCES users(id) ON DELETE SET NULL,
    decided_at INTEGER,
    created_at INTEGER NOT NULL
) STRICT;
CREATE INDEX driver_licences_user ON driver_licences(user_id, id);
CREATE INDEX driver_licences_pending ON driver_licences(status) WHERE status = 'pending_review';

CREATE TABLE driver_uploads (
    licence_id INTEGER NOT NULL REFERENCES driver_licences(id) ON DELETE CASCADE,
    side TEXT NOT NULL CHECK (side IN ('front', 'back')),
    path TEXT NOT NULL,
    size INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    content_type TEXT NOT NULL CHECK (content_type IN ('image/jpeg', 'image/png')),
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    PRIMARY KEY (licence_id, side)
) STRICT;

CREATE TABLE driver_expiry_alerts (
    licence_id INTEGER NOT NULL REFERENCES driver_licences(id) ON DELETE CASCADE,
    days_before INTEGER NOT NULL CHECK (days_before IN (1, 3, 7)),
    sent_at INTEGER NOT NULL,
    PRIMARY KEY (licence_id, days_before)
) STRICT;
