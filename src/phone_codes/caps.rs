//! The limits on sending and checking codes, counted from the rows in the transaction that
//! adds the next one. Each takes its turn on what it counts first ([`store::take_turn`]), so
//! two requests at the same moment cannot both see room for one more on PostgreSQL.

use super::error::PhoneCodeError;
use super::store::{self, CapKey, Window};
use crate::db::conn::Conn;

/// Seconds between two codes for one phone.
pub const COOLDOWN: i64 = 60;
/// The window of the request and verification limits.
pub const WINDOW: i64 = 900;
pub const REQUESTS_PER_WINDOW: i64 = 3;
pub const CHECKS_PER_WINDOW: i64 = 10;
/// Codes one signed-in account may have sent in a day to link phones, whatever the numbers.
/// A person links one phone, and may mistype it or change it; more than 5 in a day is someone
/// sending SMS at the campus's cost to numbers they choose (SMS toll fraud). Counted from the
/// code rows, which retention keeps a day past their expiry.
pub const LINK_CODES_PER_DAY: i64 = 5;
const DAY: i64 = 86_400;

/// Seconds until a full window frees a slot, at least 1.
pub fn wait(oldest: Option<i64>, span: i64, now: i64) -> u64 {
    oldest.map_or(1, |t| (t + span - now).max(1) as u64)
}

fn limited(w: &Window, max: i64, now: i64) -> Option<u64> {
    (w.count >= max).then(|| wait(w.oldest, WINDOW, now))
}

/// Whether a code may be sent to the phone `index` now (asked for by `caller` when signed
/// in); the caller inserts it in the same transaction `tx`.
pub fn admit_request(
    tx: &Conn,
    index: &[u8],
    caller: Option<&str>,
    now: i64,
) -> Result<(), PhoneCodeError> {
    if let Some(caller) = caller {
        store::take_turn(tx, CapKey::Account(caller))?;
    }
    store::take_turn(tx, CapKey::Phone(index))?;
    if let Some(caller) = caller {
        let today = store::link_codes_since(tx, caller, now - DAY)?;
        if today.count >= LINK_CODES_PER_DAY {
            return Err(PhoneCodeError::RateLimited { retry_after: wait(today.oldest, DAY, now) });
        }
    }
    let recent = store::codes_since(tx, index, now - WINDOW)?;
    if let Some(last) = recent.newest.filter(|t| now - t < COOLDOWN) {
        return Err(PhoneCodeError::RateLimited { retry_after: wait(Some(last), COOLDOWN, now) });
    }
    if let Some(retry_after) = limited(&recent, REQUESTS_PER_WINDOW, now) {
        return Err(PhoneCodeError::RateLimited { retry_after });
    }
    Ok(())
}

/// Counts a verification of the phone `index` from `address`, or refuses it when either has
/// had its checks for the window. The phone's turn is held until `tx` ends, which keeps a
/// check and the code's attempts, use and death in step with any other for that phone.
pub fn admit_check(
    tx: &Conn,
    index: &[u8],
    address: Option<&str>,
    now: i64,
) -> Result<(), PhoneCodeError> {
    store::take_turn(tx, CapKey::Phone(index))?;
    if let Some(address) = address {
        store::take_turn(tx, CapKey::Address(address))?;
    }
    let by_phone = store::checks_by_phone(tx, index, now - WINDOW)?;
    let mut wait = limited(&by_phone, CHECKS_PER_WINDOW, now);
    if let Some(address) = address {
        let by_ip = store::checks_by_ip(tx, address, now - WINDOW)?;
        wait = wait.max(limited(&by_ip, CHECKS_PER_WINDOW, now));
    }
    if let Some(retry_after) = wait {
        return Err(PhoneCodeError::RateLimited { retry_after });
    }
    store::insert_check(tx, index, address, now)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::wait;

    #[test]
    fn waits_are_what_is_left_of_the_window_and_at_least_one_second() {
        assert_eq!(wait(Some(100), 900, 400), 600);
        assert_eq!(wait(Some(100), 60, 200), 1);
        assert_eq!(wait(None, 900, 400), 1);
    }
}
