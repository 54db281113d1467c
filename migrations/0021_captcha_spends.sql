-- 0021: spent captcha challenges, shared by every node (SPEC section 14). A challenge is
-- accepted once: the first INSERT of its id wins. Rows are kept until the challenge would
-- have expired anyway, then deleted.
CREATE TABLE captcha_spends (
    id TEXT PRIMARY KEY,
    expires_at INTEGER NOT NULL
) STRICT;
CREATE INDEX captcha_spends_expires_at ON captcha_spends(expires_at);
