//! What the privacy policies keep about a person: the versions they accepted, and, for an
//! admin, the versions they published.

use std::sync::Arc;

use poem_openapi::Object;
use rusqlite::params;

use super::PendingPolicies;
use crate::clock::rfc3339;
use crate::db::conn::{Conn, SqlResult};
use crate::pii::{AfterErase, Person, PersonalData};

pub struct PoliciesData {
    pub pending: Arc<PendingPolicies>,
}

impl PersonalData for PoliciesData {
    fn feature(&self) -> &'static str {
        "policies"
    }

    fn tables(&self) -> &'static [&'static str] {
        &["policy_acceptances", "privacy_policies"]
    }

    /// Acceptances go; a published version stays (it was the campus's policy) with its
    /// publisher's id replaced by the pseudonym.
    fn erase_in(&self, tx: &Conn, person: &Person, after: &mut AfterErase) -> SqlResult<()> {
        tx.execute("DELETE FROM policy_acceptances WHERE user_id = ?1", [&person.id])?;
        tx.execute(
            "UPDATE privacy_policies SET published_by = ?2 WHERE published_by = ?1",
            params![person.id, person.pseudonym],
        )?;
        let (pending, id) = (self.pending.clone(), person.id.clone());
        after.then(move || pending.forget_user(&id));
        Ok(())
    }
}

#[derive(Debug, Object, serde::Serialize)]
pub struct ExportPolicyAcceptance {
    pub version: String,
    pub accepted_at: String,
}

/// The policy acceptances of the account export, oldest first.
pub fn export_acceptances(conn: &Conn, user_id: &str) -> SqlResult<Vec<ExportPolicyAcceptance>> {
    Ok(super::acceptances_of(conn, user_id)?
        .into_iter()
        .map(|a| ExportPolicyAcceptance { version: a.version, accepted_at: rfc3339(a.accepted_at) })
        .collect())
}
