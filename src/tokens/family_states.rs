//! Whether token families are revoked, cached for a minute on each node: every bearer check
//! asks. A revocation drops the state here and, through the database's notices, on the other
//! nodes within a second (see `crate::db::notices`).

use std::sync::{Arc, Mutex};

use crate::cache::Cache;
use crate::db::Db;
use crate::db::notices::Notice;

/// The notices' topic.
const TOPIC: &str = "token_family";

pub struct FamilyStates {
    cache: Cache<String, bool>,
    /// Counts revocations, so a state read before one is never cached after it.
    revocations: Arc<Mutex<u64>>,
}

impl FamilyStates {
    pub fn new(db: &Db) -> Self {
        let cache = crate::cache::with_ttl(100_000, std::time::Duration::from_secs(60));
        let revocations = Arc::<Mutex<u64>>::default();
        let (dropped, generation) = (cache.clone(), revocations.clone());
        db.on_notice(TOPIC, move |notice| match notice {
            Notice::Key(family) => drop(&dropped, &generation, Some(&[family.into()])),
            Notice::Everything => drop(&dropped, &generation, None),
        });
        Self { cache, revocations }
    }

    pub fn get(&self, family: &str) -> Option<bool> {
        self.cache.get(family)
    }

    /// The revocation count, read before a database lookup that will fill the cache.
    pub fn generation(&self) -> u64 {
        *self.revocations.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Caches a family's state read after `generation` was taken, unless a revocation came
    /// in between.
    pub fn note(&self, family: &str, revoked: bool, generation: u64) {
        let current = self.revocations.lock().unwrap_or_else(|e| e.into_inner());
        if *current == generation {
            self.cache.insert(family.to_string(), revoked);
        }
    }

    /// Drops families revoked in a committed transaction, here and on the other nodes.
    pub fn forget(&self, db: &Db, families: &[String]) {
        drop(&self.cache, &self.revocations, Some(families));
        db.announce_soon(TOPIC, families.to_vec());
    }
}

/// Drops `families` from `cache` (None: all of it, as notices were missed), counting a
/// revocation first.
fn drop(cache: &Cache<String, bool>, revocations: &Mutex<u64>, families: Option<&[String]>) {
    let mut generation = revocations.lock().unwrap_or_else(|e| e.into_inner());
    *generation += 1;
    match families {
        Some(families) => families.iter().for_each(|family| cache.invalidate(family)),
        None => cache.invalidate_all(),
    }
}
