//! What the phone codes keep about a person: codes sent to their phone and the checks made
//! against it (by the phone's blind index; never a code).

use poem_openapi::Object;

use super::store;
use crate::clock::{rfc3339, rfc3339_opt};
use crate::config::RetentionConfig;
use crate::db::conn::{Conn, SqlResult};
use crate::pii::{AfterErase, Person, PersonalData, Purged};

const DAY: i64 = 86_400;

pub struct PhoneCodesData;

impl PersonalData for PhoneCodesData {
    fn feature(&self) -> &'static str {
        "phone_codes"
    }

    fn tables(&self) -> &'static [&'static str] {
        &["phone_codes", "phone_code_checks"]
    }

    /// Codes for a phone verified on another account too are that account's business.
    fn erase_in(&self, tx: &Conn, person: &Person, _after: &mut AfterErase) -> SqlResult<()> {
        if let Some(index) = &person.unshared_phone_index {
            store::delete_for_phone(tx, index)?;
        }
        Ok(())
    }

    /// Codes expired more than a day ago (the per-day sending limits count them until then)
    /// and checks older than a day.
    fn purge_in(
        &self,
        tx: &Conn,
        now: i64,
        _retention: &RetentionConfig,
        purged: &mut Purged,
    ) -> SqlResult<()> {
        let (codes, checks) = store::purge(tx, now - DAY)?;
        purged.add("phone_codes", codes);
        purged.add("phone_code_checks", checks);
        Ok(())
    }
}

#[derive(Debug, Object, serde::Serialize)]
#[oai(skip_serializing_if_is_none)]
pub struct ExportPhoneCode {
    pub created_at: String,
    pub expires_at: String,
    pub attempts: i64,
    pub used_at: Option<String>,
}

/// Codes sent to the account's phone, for the account export (state only; never a code).
pub fn export_phone_codes(
    conn: &Conn,
    phone_index: Option<&[u8]>,
) -> SqlResult<Vec<ExportPhoneCode>> {
    let Some(phone_index) = phone_index else { return Ok(Vec::new()) };
    conn.query_map(
        "SELECT created_at, expires_at, attempts, used_at FROM phone_codes
         WHERE phone_index = ?1 ORDER BY created_at",
        [phone_index],
        |r| {
            Ok(ExportPhoneCode {
                created_at: rfc3339(r.get(0)?),
                expires_at: rfc3339(r.get(1)?),
                attempts: r.get(2)?,
                used_at: rfc3339_opt(r.get(3)?),
            })
        },
    )
}
