//! The rules of phone sign-in codes. A request for an unknown phone does the same database
//! work as one for a known phone (a code row and an audit row) and gets the same answer; only
//! the SMS is not queued. Codes are never logged; the audit log records outcomes only.

use std::sync::Arc;

use tokio::sync::Notify;

use super::caps;
use super::error::PhoneCodeError;
use super::store;
use crate::accounts::service::{SignedIn, field};
use crate::accounts::{self as users, User};
use crate::accounts::{AccountError, Accounts};
use crate::audit::RequestMeta;
use crate::audit::{self, AuditEvent, actions};
use crate::clock::Clock;
use crate::crypto;
use crate::db::Db;
use crate::db::conn::Conn;
use crate::error::FieldError;
use crate::identity::Amr;
use crate::identity::Principal;
use crate::mfa::totp;
use crate::notify;
use crate::pii::FieldCipher;
use crate::sessions::Sessions;

pub const CODE_SECONDS: i64 = 600;
pub const MAX_ATTEMPTS: i64 = 5;

pub struct PhoneCodeSettings {
    /// Answer code requests with the code (development mode only; validated at start-up).
    pub dev_echo: bool,
    /// A code for a phone no account has creates a phone-only account (`auth.phone_signup`).
    pub phone_signup: bool,
    /// Verifications are counted per IPv6 network of this prefix (`rate_limit.ipv6_prefix`),
    /// as the per-address rate limits count them.
    pub ipv6_prefix: u8,
}

/// What a verified code did.
pub enum Verified {
    SignedIn(SignedIn),
    Linked(User),
    /// The account has two-step sign-in on: the code was the first factor, and the pending
    /// sign-in (`mfa_token`) is finished at `POST /api/v1/auth/login/mfa`, as after a password.
    SecondFactor {
        mfa_token: String,
    },
}

pub struct PhoneCodes {
    db: Db,
    clock: Arc<dyn Clock>,
    accounts: Arc<Accounts>,
    outbox_wake: Arc<Notify>,
    code_key: [u8; 32],
    dev_echo: bool,
    phone_signup: bool,
    ipv6_prefix: u8,
}

/// 6 uniformly random digits (rejection sampling: 4,294,000,000 is a multiple of 10^6).
fn new_code() -> String {
    loop {
        let n: u32 = rand::random();
        if n < 4_294_000_000 {
            return format!("{:06}", n % 1_000_000);
        }
    }
}

fn checked_code(raw: &str) -> Result<&str, FieldError> {
    if raw.len() == 6 && raw.bytes().all(|b| b.is_ascii_digit()) {
        Ok(raw)
    } else {
        Err(field("code", "Enter the 6 digits of the code we sent by SMS."))
    }
}

impl PhoneCodes {
    pub fn new(
        db: Db,
        clock: Arc<dyn Clock>,
        accounts: Arc<Accounts>,
        outbox_wake: Arc<Notify>,
        session_secret: &[u8; 32],
        settings: PhoneCodeSettings,
    ) -> Self {
        let code_key: [u8; 32] = crypto::keyed_hash(session_secret, &[b"phone-code"])
            .try_into()
            .expect("HMAC-SHA256 is 32 bytes");
        Self {
            db,
            clock,
            accounts,
            outbox_wake,
            code_key,
            dev_echo: settings.dev_echo,
            phone_signup: settings.phone_signup,
            ipv6_prefix: settings.ipv6_prefix,
        }
    }

    /// The stored form of a code: bound to the phone, so a code row says nothing about others.
    fn code_hash(&self, phone_index: &[u8], code: &str) -> Vec<u8> {
        crypto::keyed_hash(&self.code_key, &[phone_index, code.as_bytes()])
    }

    /// Sends a new code to `raw_phone` when the phone is verified on an account, or when the
    /// caller is signed in (to link it; at most [`LINK_CODES_PER_DAY`] a day per account).
    /// Returns the code only with `dev_echo`.
    pub async fn request(
        &self,
        raw_phone: &str,
        signed_in: Option<&Principal>,
        meta: &RequestMeta,
    ) -> Result<Option<String>, PhoneCodeError> {
        let phone = self.accounts.e164(raw_phone, "phone")?;
        let index = self.accounts.phone_index(&phone);
        let code = new_code();
        let hash = self.code_hash(&index, &code);
        let body = format!(
            "Your Gatehouse code is {code}. It expires in 10 minutes. Never share it: Gatehouse \
             will never ask you for it."
        );
        let (now, ip, signup) = (self.clock.unix(), meta.ip.clone(), self.phone_signup);
        let caller = signed_in.map(|p| p.user_id.clone());
        let pii = self.accounts.pii().clone();
        let sent = self
            .db
            .run_conn(move |conn| {
                let tx = conn.transaction()?;
                caps::admit_request(&tx, &index, caller.as_deref(), now)?;
                let owner = users::find_by_verified_phone(&tx, &pii, &index)?.map(|u| u.id);
                store::kill_live_codes(&tx, &index, now)?;
                let code = store::NewCode {
                    phone_index: &index,
                    code_hash: &hash,
                    requested_by: caller.as_deref(),
                };
                store::insert_code(&tx, &code, now, now + CODE_SECONDS)?;
                let subject = caller.or(owner);
                // With phone sign-up on, an unknown phone gets its code too: it makes an account.
                let sent = subject.is_some() || signup;
                if sent {
                    notify::enqueue_sms(&tx, &pii, &phone, &body, now)?;
                }
                let event = AuditEvent {
                    at: now,
                    actor_id: subject.as_deref(),
                    action: actions::PHONE_CODE_REQUESTED,
                    subject_id: subject.as_deref(),
                    ip: ip.as_deref(),
                    success: sent,
                    details: serde_json::json!({"sms_sent": sent}),
                };
                audit::record(&tx, &event)?;
                tx.commit()?;
                Ok::<_, PhoneCodeError>(sent)
            })
            .await?;
        if sent {
            self.outbox_wake.notify_one();
        }
        Ok((sent && self.dev_echo).then_some(code))
    }

    /// Checks a code. Signed in: links the phone to the caller. Otherwise: signs in the
    /// account on which the phone is verified. Every attempt counts towards the limits.
    pub async fn verify(
        &self,
        raw_phone: &str,
        raw_code: &str,
        signed_in: Option<&Principal>,
        remember_me: bool,
        meta: &RequestMeta,
    ) -> Result<Verified, PhoneCodeError> {
        let phone = self.accounts.e164(raw_phone, "phone");
        let code = checked_code(raw_code);
        let (phone, code) = match (phone, code) {
            (Ok(phone), Ok(code)) => (phone, code),
            (phone, code) => {
                let mut errors = match phone {
                    Err(AccountError::Validation(errors)) => errors,
                    _ => Vec::new(),
                };
                errors.extend(code.err());
                return Err(PhoneCodeError::Validation(errors));
            }
        };
        let index = self.accounts.phone_index(&phone);
        let hash = self.code_hash(&index, code);
        let (now, meta, signup) = (self.clock.unix(), meta.clone(), self.phone_signup);
        // The address as the per-address limits count it: an IPv6 client by its network.
        let address = meta
            .ip
            .as_deref()
            .and_then(|ip| ip.parse().ok())
            .map(|ip| crate::ratelimit::address_key(ip, self.ipv6_prefix));
        let caller = signed_in.map(|p| p.user_id.clone());
        let pii = self.accounts.pii().clone();
        let outcome = self
            .db
            .run_conn(move |conn| {
                let tx = conn.transaction()?;
                caps::admit_check(&tx, &index, address.as_deref(), now)?;
                let outcome = check_and_apply(
                    &tx,
                    &pii,
                    &index,
                    &hash,
                    &phone,
                    caller,
                    Signing { remember_me, signup },
                    now,
                    &meta,
                )?;
                tx.commit()?;
                Ok::<_, PhoneCodeError>(outcome)
            })
            .await?;
        match outcome {
            Applied::Failed(reason) => Err(reason),
            Applied::Linked(user) => {
                self.accounts.forget_user(&user.id);
                Ok(Verified::Linked(user))
            }
            Applied::SignedIn(user, session) => {
                let csrf = self.accounts.sessions().csrf_token(&session.token);
                Ok(Verified::SignedIn(SignedIn { user, session, csrf }))
            }
            Applied::SecondFactor { mfa_token } => Ok(Verified::SecondFactor { mfa_token }),
        }
    }
}

/// The display name of an account made by phone sign-up, until its owner sets one.
const NEW_PHONE_USER_NAME: &str = "New user";

/// What a verification did; failures are committed too (attempts, audit), then answered.
enum Applied {
    Failed(PhoneCodeError),
    Linked(User),
    SignedIn(User, crate::sessions::IssuedSession),
    SecondFactor { mfa_token: String },
}

fn verification_event<'a>(
    now: i64,
    subject: Option<&'a str>,
    ip: Option<&'a str>,
    outcome: &str,
) -> AuditEvent<'a> {
    AuditEvent {
        at: now,
        actor_id: subject,
        action: actions::PHONE_CODE_VERIFIED,
        subject_id: subject,
        ip,
        success: matches!(outcome, "signed_in" | "linked" | "second_factor_required"),
        details: serde_json::json!({"outcome": outcome}),
    }
}

/// How a successful code signs in: the session's lifetime, and whether an unknown phone gets a
/// new account.
struct Signing {
    remember_me: bool,
    signup: bool,
}

#[allow(clippy::too_many_arguments)]
fn check_and_apply(
    tx: &Conn,
    pii: &FieldCipher,
    index: &[u8],
    hash: &[u8],
    phone: &str,
    caller: Option<String>,
    signing: Signing,
    now: i64,
    meta: &RequestMeta,
) -> Result<Applied, PhoneCodeError> {
    let remember_me = signing.remember_me;
    let ip = meta.ip.as_deref();
    let owner = users::find_by_verified_phone(tx, pii, index)?;
    let subject = caller.clone().or_else(|| owner.as_ref().map(|u| u.id.clone()));
    let fail = |reason: &str, error: PhoneCodeError| -> Result<Applied, PhoneCodeError> {
        audit::record(tx, &verification_event(now, subject.as_deref(), ip, reason).failed())?;
        Ok(Applied::Failed(error))
    };
    let Some(code) = store::live_code(tx, index)? else {
        return fail("no_live_code", PhoneCodeError::InvalidCode);
    };
    if !crypto::constant_time_eq(&code.code_hash, hash) {
        store::wrong_attempt(tx, code.id, MAX_ATTEMPTS, now)?;
        return fail("wrong_code", PhoneCodeError::InvalidCode);
    }
    if now >= code.expires_at {
        return fail("expired", PhoneCodeError::InvalidCode);
    }
    if let Some(caller) = caller {
        if owner.as_ref().is_some_and(|o| o.id != caller) {
            return fail("phone_taken", PhoneCodeError::PhoneTaken);
        }
        if !store::consume_code(tx, code.id, now)? {
            return fail("already_used", PhoneCodeError::InvalidCode);
        }
        users::set_verified_phone(tx, pii, &caller, phone, index, now)?;
        let change = serde_json::json!({"changed": ["phone"], "phone_verified": true});
        users::queue_user_event(tx, crate::webhooks::EventType::UserUpdated, &caller, change, now)?;
        audit::record(tx, &verification_event(now, Some(&caller), ip, "linked"))?;
        audit::record(tx, &AuditEvent::by_user(now, &caller, actions::PHONE_LINKED, ip))?;
        let user = users::find_by_id(tx, pii, &caller)?.ok_or(PhoneCodeError::InvalidCode)?;
        return Ok(Applied::Linked(user));
    }
    let user = match owner {
        Some(user) => user,
        // Phone sign-up: the code proved the phone, which becomes a new account's only key.
        None if signing.signup => {
            if !store::consume_code(tx, code.id, now)? {
                return fail("already_used", PhoneCodeError::InvalidCode);
            }
            let id = uuid::Uuid::new_v4().to_string();
            users::insert_phone_user(tx, pii, &id, phone, index, NEW_PHONE_USER_NAME, now)?;
            audit::record(
                tx,
                &AuditEvent::by_user(now, &id, actions::USER_REGISTERED, ip)
                    .with_details(serde_json::json!({"method": "phone_code"})),
            )?;
            let user = users::find_by_id(tx, pii, &id)?.ok_or(PhoneCodeError::InvalidCode)?;
            let agent = meta.user_agent.as_deref();
            let session =
                Sessions::issue(tx, &user.id, remember_me, Amr::PHONE_CODE, now, ip, agent)?;
            audit::record(tx, &verification_event(now, Some(&user.id), ip, "signed_in"))?;
            return Ok(Applied::SignedIn(user, session));
        }
        // No account has this phone verified: no SMS was sent for it, so the code cannot be
        // right unless guessed. It is spent all the same.
        None => {
            store::consume_code(tx, code.id, now)?;
            return fail("unknown_phone", PhoneCodeError::InvalidCode);
        }
    };
    if !store::consume_code(tx, code.id, now)? {
        return fail("already_used", PhoneCodeError::InvalidCode);
    }
    if crate::accounts::is_disabled(tx, &user.id)? {
        return fail("account_disabled", PhoneCodeError::AccountDisabled);
    }
    // A phone code is one factor: an account with TOTP on finishes the sign-in with a code
    // from its authenticator app (or a recovery code), as after a password.
    if totp::enabled(tx, &user.id)? {
        let (mfa_token, mfa_hash) = crypto::new_token();
        totp::create_challenge(tx, &mfa_hash, &user.id, remember_me, Amr::PHONE_CODE, now)?;
        audit::record(tx, &verification_event(now, Some(&user.id), ip, "second_factor_required"))?;
        return Ok(Applied::SecondFactor { mfa_token });
    }
    let agent = meta.user_agent.as_deref();
    let session = Sessions::issue(tx, &user.id, remember_me, Amr::PHONE_CODE, now, ip, agent)?;
    audit::record(tx, &verification_event(now, Some(&user.id), ip, "signed_in"))?;
    let login = AuditEvent::by_user(now, &user.id, actions::LOGIN, ip)
        .with_details(serde_json::json!({"method": "phone_code", "remember_me": remember_me}));
    audit::record(tx, &login)?;
    Ok(Applied::SignedIn(user, session))
}

#[cfg(test)]
mod tests {
    use super::{checked_code, new_code};

    #[test]
    fn codes_are_six_digits_including_leading_zeros() {
        let codes: Vec<String> = (0..2000).map(|_| new_code()).collect();
        assert!(codes.iter().all(|c| checked_code(c).is_ok()));
        // P(no leading zero in 2000 codes) = 0.9^2000: never.
        assert!(codes.iter().any(|c| c.starts_with('0')));
        assert!(codes.iter().collect::<std::collections::HashSet<_>>().len() > 1900);
    }
}
