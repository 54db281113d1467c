//! What each feature keeps about a person, so that an account deletion and retention reach all
//! of it without one feature reading another's tables. Every feature that stores personal data
//! implements [`PersonalData`] in its own `personal_data.rs`; `startup.rs` hands the list to
//! [`super::Erasure`] and to retention. `tests/it/personal_data.rs` fails when a table holding
//! personal data is in no feature's [`PersonalData::tables`].

use std::collections::BTreeMap;

use crate::config::RetentionConfig;
use crate::db::conn::{Conn, SqlResult};

/// The person an account deletion erases, as the accounts read them before their row goes.
#[derive(Debug, Clone)]
pub struct Person {
    pub id: String,
    /// What replaces the id in the rows that are kept (the audit log, decisions by the person).
    pub pseudonym: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    /// The blind index of the phone, unless another account has the same phone (codes sent to
    /// it are then that account's too, and are kept).
    pub unshared_phone_index: Option<Vec<u8>>,
    /// Another account has the same phone: messages to it are that account's too.
    pub phone_shared: bool,
}

/// Work to do once the deletion has committed: dropping cached copies and removing files.
/// (Before the commit, a concurrent read could cache a row again.)
#[derive(Default)]
pub struct AfterErase(Vec<Box<dyn FnOnce() + Send>>);

impl AfterErase {
    pub fn then(&mut self, work: impl FnOnce() + Send + 'static) {
        self.0.push(Box::new(work));
    }

    /// Runs the work, in the order it was added.
    pub fn run(self) {
        for work in self.0 {
            work();
        }
    }
}

/// How many rows a retention run removed, by what they were (`"sessions"`, ...).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Purged(BTreeMap<&'static str, usize>);

impl Purged {
    pub fn add(&mut self, what: &'static str, rows: usize) {
        *self.0.entry(what).or_default() += rows;
    }

    pub fn get(&self, what: &str) -> usize {
        self.0.get(what).copied().unwrap_or_default()
    }
}

/// One feature's personal data: its tables, its part of an account deletion, its retention.
/// Every method runs inside the caller's transaction on either engine ([`Conn`]), so its SQL
/// is in the dialect both accept.
pub trait PersonalData: Send + Sync {
    /// The feature, for logs.
    fn feature(&self) -> &'static str;

    /// The tables this feature owns that hold personal data (or rows tied to a person).
    fn tables(&self) -> &'static [&'static str];

    /// The person behind `user_id`, read inside the deletion's transaction. Only the owner of
    /// accounts answers; the others keep the default.
    fn person_in(&self, _tx: &Conn, _user_id: &str) -> SqlResult<Option<Person>> {
        Ok(None)
    }

    /// Erases what this feature holds about `person`, inside the deletion's transaction. Work
    /// that must wait for the commit goes in `after`.
    fn erase_in(&self, tx: &Conn, person: &Person, after: &mut AfterErase) -> SqlResult<()>;

    /// Removes what retention says is old (expired codes and links, idle sessions, old audit
    /// rows, ...), inside the run's transaction.
    fn purge_in(
        &self,
        _tx: &Conn,
        _now: i64,
        _retention: &RetentionConfig,
        _purged: &mut Purged,
    ) -> SqlResult<()> {
        Ok(())
    }

    /// People whose whole account retention ends (accounts never verified), at most `limit`.
    fn lapsed_in(
        &self,
        _tx: &Conn,
        _now: i64,
        _retention: &RetentionConfig,
        _limit: usize,
    ) -> SqlResult<Vec<String>> {
        Ok(Vec::new())
    }
}
