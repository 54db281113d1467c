//! Emails to a driver about their licence, queued in the transaction of the change they tell
//! of (the outbox sends them after commit): every decision with its reason, and the expiry
//! alerts (sent from [`super::expiry`]). On either engine: every function takes any connection
//! or transaction ([`AsConn`]).

use chrono::NaiveDate;

use crate::accounts;
use crate::db::conn::AsConn;
use crate::notify::{self, Email, templates};
use crate::pii::FieldCipher;

/// A reviewer's (or the automatic) decision on a licence.
pub enum Decision<'a> {
    Approved { expiry: NaiveDate, automatic: bool },
    Rejected { reason: &'a str, still_valid_until: Option<NaiveDate> },
}

/// Queues the email telling `user_id` of `decision`; nothing when the account has no email.
pub fn queue_decision(
    conn: &impl AsConn,
    pii: &FieldCipher,
    user_id: &str,
    decision: &Decision<'_>,
    base_url: &str,
    now: i64,
) -> rusqlite::Result<()> {
    queue(conn, pii, user_id, now, |brand, to, name| {
        let url = driver_page(base_url);
        match decision {
            Decision::Approved { expiry, automatic } => {
                templates::licence_approved(brand, to, name, &day(*expiry), *automatic, &url)
            }
            Decision::Rejected { reason, still_valid_until } => templates::licence_rejected(
                brand,
                to,
                name,
                reason,
                still_valid_until.map(day).as_deref(),
                &url,
            ),
        }
    })
}

/// Composes an email for the account `user_id` (its address, name and campus) and queues it.
pub fn queue(
    conn: &impl AsConn,
    pii: &FieldCipher,
    user_id: &str,
    now: i64,
    compose: impl FnOnce(&templates::Brand<'_>, &str, &str) -> Email,
) -> rusqlite::Result<()> {
    let Some(user) = accounts::find_by_id(conn, pii, user_id)? else { return Ok(()) };
    let Some(to) = &user.email else { return Ok(()) };
    let brand = templates::Brand { product: "Gatehouse", campus: user.campus_name.as_deref() };
    let email = compose(&brand, to, &user.display_name);
    notify::enqueue_email(conn, pii, &email, now)?;
    Ok(())
}

pub fn driver_page(base_url: &str) -> String {
    format!("{}/driver", base_url.trim_end_matches('/'))
}

pub fn day(date: NaiveDate) -> String {
    date.format("%Y-%m-%d").to_string()
}

#[cfg(test)]
#[path = "notices_tests.rs"]
mod tests;
