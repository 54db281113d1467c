//! Registration and email verification.

use super::*;
use crate::policies;

impl Accounts {
    pub async fn register(
        &self,
        input: Registration,
        meta: &RequestMeta,
    ) -> Result<(), AccountError> {
        let email = email::normalize(&input.email);
        let mut errors = Vec::new();
        if let Some(problem) = email::problem(&email) {
            errors.push(field("email", problem));
        }
        let display_name = clean_name(&input.display_name, 100)
            .map_err(|m| errors.push(field("display_name", m)))
            .ok();
        let legal_name = match input.legal_name.as_deref().map(str::trim).filter(|s| !s.is_empty())
        {
            Some(name) => {
                clean_name(name, 200).map_err(|m| errors.push(field("legal_name", m))).ok()
            }
            None => None,
        };
        let phone = match input.phone.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            Some(phone) => {
                self.phone_regions.to_e164(phone).map_err(|m| errors.push(field("phone", m))).ok()
            }
            None => None,
        };
        if let Some(problem) =
            input.password.as_deref().and_then(|p| password::policy_violation(p, &email))
        {
            errors.push(field("password", problem));
        }
        let policy = self.db.run_conn(|c| policies::current(c).map_err(DbError::from)).await?;
        if let Some(problem) =
            policies::refusal(policy.as_ref(), input.accepted_policy_version.as_deref())
        {
            errors.push(field("accepted_policy_version", problem));
        }
        if !errors.is_empty() {
            return Err(AccountError::Validation(errors));
        }
        let policy_id = policy.map(|p| p.id);
        let domain = email::domain_of(&email).to_string();
        let campus =
            self.db.run_conn(move |c| campus_for_domain(c, &domain).map_err(DbError::from)).await?;
        let Some((campus_id, campus_name)) = campus else {
            return Err(AccountError::CampusDomainNotAllowed);
        };

        // Both paths hash the password, so both take the same time. Without one, the account
        // will sign in with a passkey added after its email is verified (`verify_email`).
        let password_hash = match &input.password {
            Some(password) => Some(self.hasher.hash(password).await?),
            None => None,
        };
        let now = self.now();
        let (token, token_hash) = crypto::new_token();
        let verify_url = self.link("verify-email", &token);
        let reset_url = format!("{}/forgot-password", self.public_url);
        let index = self.email_index(&email);
        let phone_index = phone.as_deref().map(|p| self.phone_index(p));
        let user_id = uuid::Uuid::new_v4().to_string();
        let ip = meta.ip.clone();
        let display_name = display_name.unwrap_or_default();
        let hours = self.verify_hours;
        let pii = self.pii().clone();
        self.db
            .run_conn(move |conn| {
                let tx = conn.transaction()?;
                let created = store::insert(
                    &tx,
                    &pii,
                    &store::NewUser {
                        id: &user_id,
                        email_index: &index,
                        email: &email,
                        display_name: &display_name,
                        legal_name: legal_name.as_deref(),
                        phone: phone.as_deref(),
                        phone_index: phone_index.as_deref(),
                        password_hash: password_hash.as_deref(),
                        campus_id: Some(campus_id),
                        role: "user",
                        email_verified_at: None,
                        now,
                    },
                )?;
                let brand = templates::Brand { product: PRODUCT, campus: Some(&campus_name) };
                if created {
                    if let Some(policy_id) = policy_id {
                        policies::accept(&tx, &user_id, policy_id, now)?;
                    }
                    let expires = now + hours * 3600;
                    store::insert_email_token(
                        &tx,
                        &token_hash,
                        &user_id,
                        store::VERIFY_EMAIL,
                        now,
                        expires,
                    )?;
                    let mail =
                        templates::verify_email(&brand, &email, &display_name, &verify_url, hours);
                    notify::enqueue_email(&tx, &pii, &mail, now)?;
                    audit::record(
                        &tx,
                        &AuditEvent::by_user(
                            now,
                            &user_id,
                            actions::USER_REGISTERED,
                            ip.as_deref(),
                        ),
                    )?;
                } else if let Some(owner) = store::find_by_email_index(&tx, &pii, &index)? {
                    notice_duplicate_signup(
                        &tx,
                        &pii,
                        &owner,
                        &brand,
                        &reset_url,
                        now,
                        ip.as_deref(),
                    )?;
                }
                tx.commit().map_err(DbError::from)
            })
            .await?;
        self.wake_outbox();
        Ok(())
    }

    /// Verifies the email of the link's account. An account made without a password, which
    /// has no passkey yet either, gets a setup token (a password-reset link's, valid for
    /// [`RESET_TOKEN_SECONDS`]): with it the verification page adds a passkey, or sets a
    /// password, without the student waiting for another email.
    pub async fn verify_email(
        &self,
        token: &str,
        meta: &RequestMeta,
    ) -> Result<Option<String>, AccountError> {
        let hash = token_hash(token)?;
        let now = self.now();
        let ip = meta.ip.clone();
        let (setup, setup_hash) = crypto::new_token();
        let (user_id, setup) = self
            .db
            .run_conn(move |conn| {
                let tx = conn.transaction()?;
                let token = usable_token(&tx, &hash, store::VERIFY_EMAIL, now)?;
                if !store::consume_email_token(&tx, &hash, now)? {
                    return Err(AccountError::TokenUsed);
                }
                crate::accounts::events::email_verified_in(&tx, &token.user_id, now)?;
                audit::record(
                    &tx,
                    &AuditEvent::by_user(
                        now,
                        &token.user_id,
                        actions::EMAIL_VERIFIED,
                        ip.as_deref(),
                    ),
                )?;
                let no_way_in = store::password_hash_of(&tx, &token.user_id)?.is_none()
                    && crate::mfa::passkey_store::count_for_user(&tx, &token.user_id)? == 0;
                let setup = if no_way_in {
                    store::retire_email_tokens(&tx, &token.user_id, store::RESET_PASSWORD, now)?;
                    store::insert_email_token(
                        &tx,
                        &setup_hash,
                        &token.user_id,
                        store::RESET_PASSWORD,
                        now,
                        now + RESET_TOKEN_SECONDS,
                    )?;
                    Some(setup)
                } else {
                    None
                };
                tx.commit()?;
                Ok((token.user_id, setup))
            })
            .await?;
        self.forget_user(&user_id);
        Ok(setup)
    }
}

const ACTION: &str = "signup.duplicate";

/// Tells an account's owner that someone tried to sign up with their address, at most once an
/// hour, so the form cannot be used to flood their inbox.
fn notice_duplicate_signup(
    conn: &Conn,
    pii: &FieldCipher,
    owner: &User,
    brand: &templates::Brand<'_>,
    reset_url: &str,
    now: i64,
    ip: Option<&str>,
) -> SqlResult<()> {
    // Two sign-ups with one address at once (on two nodes) must not both find no notice in
    // the last hour: the second waits for the first's audit row.
    conn.serialize_on(&format!("{ACTION}:{}", owner.id))?;
    let recent: bool = conn.query_row(
        "SELECT EXISTS(SELECT 1 FROM audit_log WHERE action = ?1 AND subject_id = ?2 AND at > ?3)",
        rusqlite::params![ACTION, owner.id, now - 3600],
        |r| r.get(0),
    )?;
    let event = AuditEvent { actor_id: None, ..AuditEvent::by_user(now, &owner.id, ACTION, ip) };
    audit::record(conn, &event)?;
    if !recent {
        let mail: Email = templates::already_registered(
            brand,
            owner.email.as_deref().unwrap_or_default(),
            &owner.display_name,
            reset_url,
        );
        notify::enqueue_email(conn, pii, &mail, now)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::conn_tests::{drop_schema, on_both_engines, postgres_client, race_on_postgres};

    const BRAND: templates::Brand<'static> = templates::Brand { product: PRODUCT, campus: None };

    fn notices(conn: &Conn) -> (i64, i64) {
        let count = |sql| conn.query_row(sql, [] as [i64; 0], |r| r.get(0)).unwrap();
        (
            count("SELECT count(*) FROM outbox"),
            count("SELECT count(*) FROM audit_log WHERE action = 'signup.duplicate'"),
        )
    }

    /// The account whose address a second sign-up tries (its email sealed, as `notice` opens it).
    fn insert_owner(conn: &Conn, pii: &FieldCipher) {
        let owner = store::NewUser {
            email_index: &[1],
            email_verified_at: Some(0),
            now: 0,
            ..store::NewUser::ada("u1")
        };
        assert!(store::insert(conn, pii, &owner).unwrap());
    }

    fn notice(conn: &Conn, pii: &FieldCipher, now: i64) {
        let owner = store::find_by_id(conn, pii, "u1").unwrap().unwrap();
        notice_duplicate_signup(conn, pii, &owner, &BRAND, "https://x/reset", now, None).unwrap();
    }

    #[test]
    fn a_duplicate_signup_emails_the_owner_once_an_hour_on_both_engines() {
        let (_keys, pii) = crate::pii::cipher::test_cipher();
        on_both_engines(|conn| {
            insert_owner(conn, &pii);
            notice(conn, &pii, 10_000);
            assert_eq!(notices(conn), (1, 1));
            notice(conn, &pii, 10_000 + 3599);
            assert_eq!(notices(conn), (1, 2), "audited, not emailed again within the hour");
            // Every attempt is audited, so the hour runs from the last one.
            notice(conn, &pii, 10_000 + 3599 + 3600);
            assert_eq!(notices(conn), (2, 3));
        });
    }

    /// Two sign-ups with one taken address on two nodes at once: the second waits for the
    /// first's notice and sends none.
    #[test]
    fn two_duplicate_signups_on_postgres_at_once_email_once() {
        let (_keys, pii) = crate::pii::cipher::test_cipher();
        let Some((mut client, schema)) = postgres_client() else { return };
        crate::db::migrate_postgres(&mut client).unwrap();
        insert_owner(&Conn::Postgres(std::cell::RefCell::new(&mut client)), &pii);
        race_on_postgres(
            &schema,
            |first| notice(first, &pii, 10_000),
            |second| notice(second, &pii, 10_001),
            |_| {},
        );
        let sent = notices(&Conn::Postgres(std::cell::RefCell::new(&mut client)));
        drop_schema(&mut client, &schema);
        assert_eq!(sent, (1, 2), "both found no notice in the last hour");
    }
}
