//! Every feature's personal data as the wiring lists it (`startup::build`), for the privacy
//! tests, built without the wiring: a feature does not reach up into it. The parts' own
//! database is a SQLite file in `dir` that the tests never use: they hand each method the
//! connection under test (either engine).

use std::path::Path;
use std::sync::Arc;

use tokio::sync::Notify;

use crate::accounts::password::PasswordHasherPool;
use crate::accounts::service::{AccountKeys, AccountSettings, Credentials};
use crate::accounts::{Accounts, AccountsData};
use crate::clock::{Clock, SystemClock};
use crate::config::{Config, KeysConfig};
use crate::contact::phone::PhoneRegions;
use crate::db::BlockingPool;
use crate::drivers::uploads::FileUploadStore;
use crate::drivers::{Drivers, DriversData, DriversParts};
use crate::mfa::MfaData;
use crate::notify::NotifyData;
use crate::oidc::OidcData;
use crate::phone_codes::PhoneCodesData;
use crate::pii::{Erasure, FieldCipher};
use crate::policies::{PendingPolicies, PoliciesData};
use crate::sessions::{Sessions, SessionsData};
use crate::tokens::key_files::KeyFiles;
use crate::tokens::live_keys::LiveJwtKeys;
use crate::tokens::{Tokens, TokensData};
use crate::webhooks::WebhookData;

/// The registry (the accounts' part apart, as in the wiring), sealing with `pii`.
pub fn erasure(dir: &Path, pii: &FieldCipher) -> Erasure {
    let db = crate::db::open(&dir.join("gatehouse.db")).unwrap();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let mut config = Config::default();
    config.storage.data_dir = dir.to_path_buf();
    let config = Arc::new(config);
    let files = KeyFiles::new(&KeysConfig::default(), dir);
    crate::keys::create_key(&dir.join("keys"), &files.signing_path()).unwrap();
    let jwt = LiveJwtKeys::open(files, "https://id.north.edu", "north").unwrap();
    let tokens = Arc::new(Tokens::new(db.clone(), clock.clone(), jwt));
    let (sessions, _touches) = Sessions::new(db.clone(), clock.clone(), [1; 32], tokens.clone());
    let sessions = Arc::new(sessions);
    let accounts = Arc::new(Accounts::new(
        db.clone(),
        clock.clone(),
        PasswordHasherPool::new(BlockingPool::new("test-hashing", 1), [2; 32]),
        Credentials { sessions: sessions.clone(), tokens: tokens.clone() },
        Arc::new(Notify::new()),
        AccountKeys { pii: pii.clone(), index_root: [3; 32] },
        AccountSettings {
            public_url: "https://id.north.edu".into(),
            verify_hours: 24,
            phone_regions: PhoneRegions::new("US", &[]),
            lockout: true,
        },
    ));
    let uploads = FileUploadStore::open(dir, pii.clone()).unwrap();
    let parts = DriversParts {
        db: db.clone(),
        clock: clock.clone(),
        pii: pii.clone(),
        outbox_wake: Arc::new(Notify::new()),
    };
    let drivers = Arc::new(Drivers::new(config, parts, Arc::new(uploads)));
    let pending = Arc::new(PendingPolicies::new(db.clone()));
    Erasure::new(
        db,
        clock.clone(),
        dir,
        &[4; 32],
        Arc::new(AccountsData { accounts }),
        vec![
            Arc::new(SessionsData { sessions }),
            Arc::new(TokensData { tokens }),
            Arc::new(MfaData),
            Arc::new(PhoneCodesData),
            Arc::new(NotifyData { pii: pii.clone() }),
            Arc::new(DriversData { drivers }),
            Arc::new(PoliciesData { pending }),
            Arc::new(OidcData),
            Arc::new(WebhookData { clock }),
        ],
    )
}
