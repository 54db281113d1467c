//! Time, injected: the app reads the time only through a [`Clock`], so tests can move it to an
//! expiry day without waiting.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, Utc};

pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;

    /// Seconds since the Unix epoch: what the database stores.
    fn unix(&self) -> i64 {
        self.now().timestamp()
    }
}

/// The real time.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that stands still until a test moves it.
#[derive(Clone)]
pub struct ManualClock(Arc<AtomicI64>);

impl ManualClock {
    pub fn new(start: DateTime<Utc>) -> Self {
        Self(Arc::new(AtomicI64::new(start.timestamp_millis())))
    }

    pub fn advance(&self, by: chrono::Duration) {
        self.0.fetch_add(by.num_milliseconds(), Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(self.0.load(Ordering::SeqCst)).unwrap_or_default()
    }
}

/// Formats a stored Unix time for API answers (RFC 3339, UTC).
pub fn rfc3339_opt(unix: Option<i64>) -> Option<String> {
    unix.map(rfc3339)
}

pub fn rfc3339(unix: i64) -> String {
    Rfc3339(unix).to_string()
}

/// A stored Unix time as API answers write it: RFC 3339 in UTC with a `+00:00` offset
/// (`2026-12-03T08:00:00+00:00`), exactly as chrono's `to_rfc3339` writes it. Written without
/// chrono or an allocation for the years 0 to 9999: the session check, the hottest answer,
/// wrote three per request, and chrono's formatter cost a tenth of that request's CPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rfc3339(pub i64);

impl Rfc3339 {
    /// The 25 bytes of the text, when the year has four digits.
    fn four_digit_year(self) -> Option<[u8; 25]> {
        let days = self.0.div_euclid(86_400);
        let second_of_day = self.0.rem_euclid(86_400);
        let (year, month, day) = civil_from_days(days);
        if !(0..=9999).contains(&year) {
            return None;
        }
        let mut out = *b"0000-00-00T00:00:00+00:00";
        let mut put = |at: usize, value: i64, digits: usize| {
            let mut value = value;
            for i in (at..at + digits).rev() {
                out[i] = b'0' + (value % 10) as u8;
                value /= 10;
            }
        };
        put(0, year, 4);
        put(5, month, 2);
        put(8, day, 2);
        put(11, second_of_day / 3600, 2);
        put(14, second_of_day / 60 % 60, 2);
        put(17, second_of_day % 60, 2);
        Some(out)
    }
}

/// Year, month (1..=12) and day (1..=31) of a count of days since 1970-01-01, in the
/// proleptic Gregorian calendar (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 { shifted_month + 3 } else { shifted_month - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

impl std::fmt::Display for Rfc3339 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.four_digit_year() {
            // The buffer is ASCII digits and punctuation.
            Some(text) => f.write_str(std::str::from_utf8(&text).map_err(|_| std::fmt::Error)?),
            None => {
                f.write_str(&DateTime::from_timestamp(self.0, 0).unwrap_or_default().to_rfc3339())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chrono_rfc3339(unix: i64) -> String {
        DateTime::from_timestamp(unix, 0).unwrap_or_default().to_rfc3339()
    }

    /// Every day from 1600 to 2500 (leap years, centuries, 2000), at times across the day,
    /// and the edges of the fast path, against chrono.
    #[test]
    fn writes_what_chrono_writes() {
        let first = -11_676_096_000; // 1600-01-01
        let last = 16_725_225_600; // 2500-01-01
        let mut unix = first;
        let mut step = 0;
        while unix < last {
            let at = unix + (step * 7919) % 86_400;
            assert_eq!(rfc3339(at), chrono_rfc3339(at), "{at}");
            unix += 86_400;
            step += 1;
        }
        for at in [0, -1, 1, 86_399, 86_400, 951_782_400, 253_402_300_799, -62_167_219_200] {
            assert_eq!(rfc3339(at), chrono_rfc3339(at), "{at}");
        }
    }

    /// Outside the years 0 to 9999 the text is chrono's (a signed, wider year), and out of
    /// chrono's range it is the epoch, as before.
    #[test]
    fn unusual_years_fall_back_to_chrono() {
        for at in [253_402_300_800, -62_167_219_201, i64::MAX, i64::MIN] {
            assert_eq!(rfc3339(at), chrono_rfc3339(at), "{at}");
        }
    }
}
