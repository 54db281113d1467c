-- Writes as the application makes them, on a database migrated with migrations/postgres/:
-- the statements of src/ with `?N` turned into `$N` (as src/db/conn.rs does), prepared
-- without parameter types so that PostgreSQL infers them from the schema as it does for the
-- `postgres` client, then executed with values of the kinds the application binds (integers,
-- text, bytes, floats, NULL). Checks that defaults and CHECK constraints accept what the
-- application writes, refuse what they must, and that every inferred parameter type is one
-- src/db/postgres.rs can bind.
--
-- Run by scripts/postgres/compare-schemas.py after the migrations; on its own:
--   psql -X -v ON_ERROR_STOP=1 -d URL -f scripts/postgres/app-writes.sql
-- Everything happens in one transaction that is rolled back.
\set ON_ERROR_STOP 1
\set VERBOSITY terse
BEGIN;

-- src/campuses/store.rs:151 (last_insert_rowid becomes RETURNING id)
PREPARE campus_insert AS INSERT INTO campuses (name, created_at) VALUES ($1, $2) RETURNING id;
EXECUTE campus_insert('North', 1700000000) \gset north_
EXECUTE campus_insert('South', 1700000000) \gset south_
-- src/campuses/store.rs:121
PREPARE campus_domain_insert AS INSERT INTO campus_domains (domain, campus_id) VALUES ($1, $2);
EXECUTE campus_domain_insert('north.edu', :north_id);

-- src/accounts/store.rs:155
PREPARE user_insert AS
INSERT INTO users (id, email_index, email, display_name, legal_name, phone,
                   password_hash, campus_id, role, email_verified_at, created_at,
                   password_changed_at, phone_index)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11, $12);
EXECUTE user_insert('u1', '\x0101'::bytea, E'\x01c2VhbGVk', E'\x01bmFtZQ', NULL, NULL,
                    '$argon2id$v=19$m=19456,t=2,p=1$abc$def', :north_id, 'user', NULL, 1700000000,
                    NULL);
EXECUTE user_insert('u2', '\x0202'::bytea, E'\x01ZW1haWw', E'\x01bmFtZQ', E'\x01bGVnYWw',
                    E'\x01cGhvbmU', NULL, NULL, 'admin', 1700000001, 1700000001, '\x0a0a'::bytea);

-- src/accounts/store.rs:217 (phone-only account)
PREPARE phone_user_insert AS
INSERT INTO users (id, display_name, phone, phone_index, phone_verified_at, role, created_at)
VALUES ($1, $2, $3, $4, $5, 'user', $5);
EXECUTE phone_user_insert('u3', E'\x01bmFtZQ', E'\x01cGhvbmU', '\x0b0b'::bytea, 1700000002);

-- The defaults of the columns the inserts leave out.
DO $$
DECLARE u users;
BEGIN
    SELECT * INTO u FROM users WHERE id = 'u1';
    ASSERT u.failed_logins = 0 AND u.lock_level = 0 AND u.mfa_failures = 0
        AND u.mfa_pause_level = 0 AND u.password_changed_at = 1700000000
        AND u.locked_until IS NULL AND u.disabled_at IS NULL, 'users defaults';
    SELECT * INTO u FROM users WHERE id = 'u3';
    ASSERT u.role = 'user' AND u.email IS NULL AND u.email_index IS NULL, 'phone-only user';
END $$;

-- src/sessions/store.rs:47 (remember_me: a Rust bool, bound as the integer 0/1)
PREPARE session_insert AS
INSERT INTO sessions (id, token_hash, user_id, remember_me, created_at, last_seen_at,
                      expires_at, ip, user_agent, amr)
VALUES ($1, $2, $3, $4, $5, $5, $6, $7, $8, $9);
EXECUTE session_insert('s1', '\x51'::bytea, 'u1', 1, 1700000000, 1700086400, '192.0.2.1',
                       'Mozilla/5.0', 'pwd');
EXECUTE session_insert('s2', '\x52'::bytea, 'u2', 0, 1700000000, 1700086400, NULL, NULL, '');

-- src/audit/mod.rs:68, then the pseudonymisation of src/audit/mod.rs:164
PREPARE audit_insert AS
INSERT INTO audit_log (at, actor_id, action, subject_id, ip, outcome, details)
VALUES ($1, $2, $3, $4, $5, $6, $7);
EXECUTE audit_insert(1700000000, 'u1', 'login', 'u1', '192.0.2.1', 'success', '{}');
EXECUTE audit_insert(1700000001, NULL, 'login', 'u1', NULL, 'failure', '{"reason":"x"}');
PREPARE audit_pseudonymise AS
UPDATE audit_log SET
    actor_id = CASE WHEN actor_id = $1 THEN $2 ELSE actor_id END,
    subject_id = CASE WHEN subject_id = $1 THEN $2 ELSE subject_id END,
    ip = NULL
WHERE actor_id = $1 OR subject_id = $1;
EXECUTE audit_pseudonymise('u1', 'deleted:abc123');
DO $$
BEGIN
    ASSERT (SELECT count(*) FROM audit_log WHERE subject_id = 'deleted:abc123') = 2,
        'audit rows pseudonymised';
    BEGIN
        UPDATE audit_log SET action = 'other';
        RAISE EXCEPTION 'the audit log accepted an update of action';
    EXCEPTION WHEN integrity_constraint_violation THEN NULL;
    END;
    BEGIN
        UPDATE audit_log SET subject_id = 'someone-else';
        RAISE EXCEPTION 'the audit log accepted an update of subject_id';
    EXCEPTION WHEN integrity_constraint_violation THEN NULL;
    END;
END $$;

-- src/notify/mod.rs:40 and :97 (last_insert_rowid becomes RETURNING id)
PREPARE outbox_email AS
INSERT INTO outbox (channel, recipient, subject, body_text, body_html, created_at,
                    next_attempt_at)
VALUES ('email', $1, $2, $3, $4, $5, $5) RETURNING id;
EXECUTE outbox_email(E'\x01dG8', 'Verify', E'\x01Ym9keQ', NULL, 1700000000) \gset email_
PREPARE outbox_sms AS
INSERT INTO outbox (channel, recipient, subject, body_text, created_at, next_attempt_at)
VALUES ('sms', $1, '', $2, $3, $3) RETURNING id;
EXECUTE outbox_sms(E'\x01dG8', E'\x01Ym9keQ', 1700000000) \gset sms_
SELECT set_config('check.outbox_ids_ascend', (:email_id < :sms_id)::text, true) \gset
DO $$
BEGIN
    ASSERT (SELECT count(*) FROM outbox WHERE attempts = 0 AND sent_at IS NULL) = 2,
        'outbox defaults';
    ASSERT current_setting('check.outbox_ids_ascend')::boolean, 'outbox ids ascend';
END $$;

-- src/drivers/store/mod.rs:170 (name_score: f64), :202, :123, :459
PREPARE licence_insert AS
INSERT INTO driver_licences (user_id, status, source, family_name, given_names,
    licence_number, expiry_date, birth_date, issuer, name_score, review_notes, created_at,
    front_check, front_mismatches)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING id;
EXECUTE licence_insert('u1', 'pending_review', 'barcode', E'\x01Zg', E'\x01Zw', E'\x01bg',
                       '2031-03-15', '1999-01-02', 'ON', 0.93, '', 1700000000, 'agrees', '') \gset lic1_
EXECUTE licence_insert('u1', 'approved', 'none', NULL, NULL, NULL, NULL, NULL, NULL, NULL,
                       'no barcode', 1700000001, 'no_barcode', 'expiry name') \gset lic2_
PREPARE upload_insert AS
INSERT INTO driver_uploads (licence_id, side, path, size, sha256, content_type, width,
                            height, key_id)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9);
EXECUTE upload_insert(:lic1_id, 'front', 'a/b.jpg', 12345,
                      'ab12', 'image/jpeg', 800, 600, 1);
PREPARE profile_upsert AS
INSERT INTO driver_profiles (user_id, status, licence_id, enabled, available,
                             ever_approved, reason, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
ON CONFLICT (user_id) DO UPDATE SET status = $2, licence_id = $3, enabled = $4,
    available = $5, ever_approved = $6, reason = $7, updated_at = $8;
EXECUTE profile_upsert('u1', 'pending_review', NULL, 0, 0, 0, NULL, 1700000000);
EXECUTE profile_upsert('u1', 'approved', :lic2_id, 1, 1, 1, NULL,
                       1700000001);
PREPARE expiry_alert AS
INSERT INTO driver_expiry_alerts (licence_id, days_before, sent_at) VALUES ($1, $2, $3)
ON CONFLICT DO NOTHING;
EXECUTE expiry_alert(:lic2_id, 7, 1700000000);
EXECUTE expiry_alert(:lic2_id, 7, 1700000001);
DO $$
BEGIN
    ASSERT (SELECT count(*) FROM driver_expiry_alerts) = 1, 'expiry alert once';
    ASSERT (SELECT front_check FROM driver_licences ORDER BY id LIMIT 1) = 'agrees', 'front_check';
    ASSERT (SELECT enabled + available + ever_approved FROM driver_profiles) = 3, 'flags';
END $$;

-- src/oidc/store/clients.rs:45 (public, trusted: Rust bools, bound as 0/1)
PREPARE client_insert AS
INSERT INTO oidc_clients (id, name, secret_hash, public, trusted, redirect_uris,
    post_logout_redirect_uris, backchannel_logout_uri, scopes, created_at, created_by,
    id_token_alg)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12);
EXECUTE client_insert('c1', 'App', '\xabcd'::bytea, 0, 1, '["https://a.edu/cb"]', '[]',
                      'https://a.edu/logout', '["openid"]', 1700000000, 'u2', 'RS256');
EXECUTE client_insert('c2', 'Mobile', NULL, 1, 0, '["edu.a:/cb"]', '[]', NULL,
                      '["openid","profile"]', 1700000000, NULL, 'EdDSA');

-- src/tokens/store.rs:34 and :58
PREPARE family_insert AS
INSERT INTO token_families (id, user_id, created_at, amr, client_id, scope, sid, auth_time)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8);
EXECUTE family_insert('f1', 'u1', 1700000000, 'pwd', 'c1', 'openid', 's1', 1700000000);
EXECUTE family_insert('f2', 'u1', 1700000000, 'pwd', NULL, NULL, NULL, NULL);
PREPARE refresh_insert AS
INSERT INTO refresh_tokens (token_hash, family_id, created_at, expires_at) VALUES ($1, $2, $3, $4);
EXECUTE refresh_insert('\x01'::bytea, 'f1', 1700000000, 1702592000);

-- src/oidc/store/logouts.rs:29 (parameters in an INSERT ... SELECT)
PREPARE logout_queue AS
INSERT INTO oidc_logouts (client_id, user_id, sid, created_at, next_attempt_at)
SELECT id, $2, $3, $4, $4 FROM oidc_clients
WHERE id = $1 AND backchannel_logout_uri IS NOT NULL
ON CONFLICT (client_id, sid) DO NOTHING;
EXECUTE logout_queue('c1', 'u1', 's1', 1700000000);
EXECUTE logout_queue('c1', 'u1', 's1', 1700000001);
EXECUTE logout_queue('c2', 'u1', 's1', 1700000000);
DO $$
BEGIN
    ASSERT (SELECT count(*) FROM oidc_logouts) = 1, 'one logout queued';
    ASSERT (SELECT logout_pending FROM token_families WHERE id = 'f1') = 0, 'logout_pending';
END $$;

-- src/oidc/store/codes.rs:25, device_codes.rs:57, consents.rs:23
PREPARE code_insert AS
INSERT INTO oidc_codes (code_hash, client_id, user_id, session_id, redirect_uri, scope,
    nonce, code_challenge, auth_time, amr, created_at, expires_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12);
EXECUTE code_insert('\x0c'::bytea, 'c1', 'u1', 's1', 'https://a.edu/cb', 'openid', NULL,
                    'challenge', 1700000000, 'pwd', 1700000000, 1700000060);
PREPARE device_insert AS
INSERT INTO oidc_device_codes (device_code_hash, user_code, client_id, scope,
    created_at, expires_at, poll_interval)
VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (user_code) DO NOTHING;
EXECUTE device_insert('\x0d'::bytea, 'ABCD-EFGH', 'c2', 'openid', 1700000000, 1700000600, 5);
PREPARE consent_upsert AS
INSERT INTO oidc_consents (user_id, client_id, scope, granted_at) VALUES ($1, $2, $3, $4)
ON CONFLICT (user_id, client_id) DO UPDATE SET scope = excluded.scope,
    granted_at = excluded.granted_at;
EXECUTE consent_upsert('u1', 'c1', 'openid', 1700000000);
EXECUTE consent_upsert('u1', 'c1', 'openid profile', 1700000001);

-- src/mfa/totp.rs:159, :204 (INSERT OR IGNORE as ON CONFLICT DO NOTHING), :257
PREPARE totp_upsert AS
INSERT INTO totp_credentials (user_id, secret, created_at) VALUES ($1, $2, $3)
ON CONFLICT (user_id) DO UPDATE
SET secret = excluded.secret, created_at = excluded.created_at, confirmed_at = NULL,
    last_step = NULL;
EXECUTE totp_upsert('u1', '\x0102'::bytea, 1700000000);
EXECUTE totp_upsert('u1', '\x0103'::bytea, 1700000001);
PREPARE recovery_insert AS
INSERT INTO recovery_codes (user_id, code_hash, created_at) VALUES ($1, $2, $3)
ON CONFLICT DO NOTHING;
EXECUTE recovery_insert('u1', '\xaa'::bytea, 1700000000);
EXECUTE recovery_insert('u1', '\xaa'::bytea, 1700000000);
PREPARE challenge_insert AS
INSERT INTO mfa_challenges (token_hash, user_id, remember_me, created_at, expires_at,
                            first_factor)
VALUES ($1, $2, $3, $4, $5, $6);
EXECUTE challenge_insert('\x0e'::bytea, 'u1', 1, 1700000000, 1700000300, 'pwd');

-- src/mfa/passkey_store.rs:81, :153
PREPARE passkey_insert AS
INSERT INTO passkeys (id, user_id, credential_id, name, credential, synced, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (credential_id) DO NOTHING;
EXECUTE passkey_insert('p1', 'u1', '\x0f0f'::bytea, E'\x01UGhvbmU', '{}', 1, 1700000000);
PREPARE passkey_challenge_insert AS
INSERT INTO passkey_challenges (id_hash, purpose, user_id, state, created_at, expires_at)
VALUES ($1, $2, $3, $4, $5, $6);
EXECUTE passkey_challenge_insert('\x10'::bytea, 'sign_in', NULL, '{}', 1700000000, 1700000300);

-- src/accounts/lockout.rs:122 and :126. (In src the ON CONFLICT ... SET reads
-- `failed_logins + 1`, which PostgreSQL refuses as ambiguous: the column is qualified here.)
PREPARE unknown_failure AS INSERT INTO unknown_email_failures (email_index, at) VALUES ($1, $2);
EXECUTE unknown_failure('\x99'::bytea, 1700000000);
PREPARE unknown_lockout AS
INSERT INTO unknown_email_lockouts (email_index, failed_logins, last_failure_at)
VALUES ($1, 1, $2)
ON CONFLICT (email_index) DO UPDATE
SET failed_logins = unknown_email_lockouts.failed_logins + 1,
    last_failure_at = excluded.last_failure_at
RETURNING failed_logins, lock_level;
EXECUTE unknown_lockout('\x99'::bytea, 1700000000) \gset
EXECUTE unknown_lockout('\x99'::bytea, 1700000001) \gset
DO $$
BEGIN
    ASSERT (SELECT failed_logins FROM unknown_email_lockouts) = 2, 'unknown email lockout';
END $$;

-- src/phone_codes/store.rs:72, :152
PREPARE phone_code_insert AS
INSERT INTO phone_codes (phone_index, code_hash, requested_by, created_at, expires_at)
VALUES ($1, $2, $3, $4, $5);
EXECUTE phone_code_insert('\x0a0a'::bytea, '\x11'::bytea, 'u2', 1700000000, 1700000300);
EXECUTE phone_code_insert('\x0a0a'::bytea, '\x12'::bytea, NULL, 1700000000, 1700000300);
PREPARE phone_check_insert AS INSERT INTO phone_code_checks (phone_index, ip, at) VALUES ($1, $2, $3);
EXECUTE phone_check_insert('\x0a0a'::bytea, '192.0.2.7', 1700000000);

-- src/webhooks/store.rs:31, :93
PREPARE endpoint_insert AS
INSERT INTO webhook_endpoints (id, url, events, secret, created_at, created_by)
VALUES ($1, $2, $3, $4, $5, $6);
EXECUTE endpoint_insert('w1', 'https://hooks.a.edu/x', 'user.created user.deleted',
                        E'\x01c2VjcmV0', 1700000000, 'u2');
PREPARE delivery_insert AS
INSERT INTO webhook_deliveries (message_id, endpoint_id, event_type, payload,
    created_at, next_attempt_at)
VALUES ($1, $2, $3, $4, $5, $5);
EXECUTE delivery_insert('msg_1', 'w1', 'user.created', '{"type":"user.created"}', 1700000000);

-- src/policies/store.rs:75, :85; src/pii/start_checks.rs:90, :159; src/pii/erasure.rs:137
PREPARE policy_insert AS
INSERT INTO privacy_policies (version, text, published_at, published_by) VALUES ($1, $2, $3, $4);
EXECUTE policy_insert('2024-01', 'Text', 1700000000, 'u2');
SELECT max(id) AS policy_id FROM privacy_policies \gset
PREPARE acceptance_insert AS
INSERT INTO policy_acceptances (user_id, policy_id, accepted_at) VALUES ($1, $2, $3)
ON CONFLICT (user_id, policy_id) DO NOTHING;
EXECUTE acceptance_insert('u1', :policy_id, 1700000000);
EXECUTE acceptance_insert('u1', :policy_id, 1700000001);
PREPARE instance_upsert AS
INSERT INTO instance (key, value) VALUES ($1, $2)
ON CONFLICT (key) DO UPDATE SET value = excluded.value;
EXECUTE instance_upsert('plain_text_sealed_columns', 'users.email');
EXECUTE instance_upsert('plain_text_sealed_columns', 'users.email users.phone');
PREPARE pii_key_insert AS
INSERT INTO pii_keys (id, check_value, created_at) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING;
EXECUTE pii_key_insert(1, '\x0100'::bytea, 1700000000);
EXECUTE pii_key_insert(1, '\x0100'::bytea, 1700000000);
PREPARE deleted_insert AS
INSERT INTO deleted_accounts (id, deleted_at, reason) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING;
EXECUTE deleted_insert('u9', 1700000000, 'self');

-- The readiness probe's write, with the PostgreSQL spelling of SQLite's
-- strftime('%Y-%m-%dT%H:%M:%fZ', 'now').
UPDATE readiness_probe
SET checked_at = to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') WHERE id = 1;
DO $$
BEGIN
    ASSERT (SELECT checked_at ~ '^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$' FROM readiness_probe),
        'checked_at format';
END $$;

-- What the constraints must refuse.
DO $$
DECLARE
    refused text[] := ARRAY[]::text[];
    attempt text;
    attempts text[] := ARRAY[
        -- no way to sign in: no email and no verified phone
        $q$INSERT INTO users (id, display_name, role, created_at) VALUES ('x1', 'X', 'user', 0)$q$,
        -- an email without its index
        $q$INSERT INTO users (id, email, display_name, phone_index, phone_verified_at, created_at)
           VALUES ('x2', 'e', 'X', '\x01'::bytea, 1, 0)$q$,
        $q$UPDATE users SET role = 'root' WHERE id = 'u1'$q$,
        $q$UPDATE driver_profiles SET enabled = 2$q$,
        $q$UPDATE oidc_clients SET secret_hash = NULL WHERE id = 'c1'$q$,
        $q$UPDATE oidc_clients SET id_token_alg = 'HS256' WHERE id = 'c1'$q$,
        $q$UPDATE driver_licences SET front_check = 'maybe'$q$,
        $q$INSERT INTO driver_expiry_alerts (licence_id, days_before, sent_at)
           SELECT max(id), 2, 0 FROM driver_licences$q$,
        $q$UPDATE readiness_probe SET id = 2$q$,
        -- a second account on the same verified phone (users_verified_phone)
        $q$INSERT INTO users (id, display_name, phone_index, phone_verified_at, created_at)
           VALUES ('x3', 'X', '\x0b0b'::bytea, 5, 0)$q$,
        -- the same email twice
        $q$INSERT INTO users (id, email_index, email, display_name, created_at)
           VALUES ('x4', '\x0101'::bytea, 'e', 'X', 0)$q$,
        -- a session of no user
        $q$INSERT INTO sessions (id, token_hash, user_id, remember_me, created_at, last_seen_at,
           expires_at) VALUES ('x5', '\x99'::bytea, 'nobody', 0, 0, 0, 0)$q$
    ];
BEGIN
    FOREACH attempt IN ARRAY attempts LOOP
        BEGIN
            EXECUTE attempt;
            RAISE EXCEPTION 'accepted, but must be refused: %', attempt;
        EXCEPTION
            WHEN check_violation OR unique_violation OR foreign_key_violation THEN
                refused := refused || attempt;
        END;
    END LOOP;
END $$;

-- The same phone may stay on several accounts while unverified.
INSERT INTO users (id, display_name, phone_index, email_index, email, created_at)
VALUES ('x6', 'X', '\x0b0b'::bytea, '\x0606'::bytea, 'e', 0);

-- ON DELETE: a user's rows go with it, a deleted campus leaves its users without one.
DELETE FROM campuses WHERE name = 'North';
DO $$
BEGIN
    ASSERT (SELECT campus_id FROM users WHERE id = 'u1') IS NULL, 'campus ON DELETE SET NULL';
    ASSERT NOT EXISTS (SELECT 1 FROM campus_domains), 'campus_domains ON DELETE CASCADE';
END $$;
DELETE FROM users WHERE id = 'u1';
DO $$
BEGIN
    ASSERT NOT EXISTS (SELECT 1 FROM sessions WHERE user_id = 'u1'), 'sessions cascade';
    ASSERT NOT EXISTS (SELECT 1 FROM driver_licences), 'licences cascade';
    ASSERT NOT EXISTS (SELECT 1 FROM driver_uploads), 'uploads cascade';
    ASSERT NOT EXISTS (SELECT 1 FROM token_families WHERE user_id = 'u1'), 'families cascade';
    ASSERT NOT EXISTS (SELECT 1 FROM refresh_tokens), 'refresh tokens cascade';
    ASSERT EXISTS (SELECT 1 FROM phone_codes WHERE requested_by = 'u2'), 'other rows stay';
END $$;

-- Every parameter type PostgreSQL inferred is one src/db/postgres.rs binds, and the flags
-- and times are BIGINT (an INTEGER would still bind, a BOOLEAN would mean a schema mistake).
DO $$
DECLARE bad text;
BEGIN
    SELECT string_agg(name || ': ' || parameter_types::text, '; ') INTO bad
    FROM pg_prepared_statements
    WHERE NOT parameter_types <@ ARRAY['bigint', 'text', 'bytea', 'double precision']::regtype[];
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'unexpected parameter types: %', bad;
    END IF;
    ASSERT (SELECT parameter_types FROM pg_prepared_statements WHERE name = 'session_insert')
        = ARRAY['text', 'bytea', 'text', 'bigint', 'bigint', 'bigint', 'text', 'text', 'text']::regtype[],
        'session_insert parameter types';
    ASSERT (SELECT parameter_types FROM pg_prepared_statements WHERE name = 'licence_insert')
        = ARRAY['text', 'text', 'text', 'text', 'text', 'text', 'text', 'text', 'text',
                'double precision', 'text', 'bigint', 'text', 'text']::regtype[],
        'licence_insert parameter types';
END $$;

ROLLBACK;
\echo app writes: ok
