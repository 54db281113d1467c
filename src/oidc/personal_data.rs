//! What the OpenID Connect provider keeps about a person: which admin registered a client.
//! (Consents and grants join this list as they are built.)

use rusqlite::Connection;

use crate::pii::{AfterErase, Person, PersonalData};

pub struct OidcData;

impl PersonalData for OidcData {
    fn feature(&self) -> &'static str {
        "oidc"
    }

    fn tables(&self) -> &'static [&'static str] {
        &["oidc_clients"]
    }

    /// A client outlives the admin who registered it; their id goes.
    fn erase_in(
        &self,
        tx: &Connection,
        person: &Person,
        _after: &mut AfterErase,
    ) -> rusqlite::Result<()> {
        tx.execute(
            "UPDATE oidc_clients SET created_by = NULL WHERE created_by = ?1",
            [&person.id],
        )?;
        Ok(())
    }
}
