//! Campus accounts: registration restricted to campus domains, email verification, sign-in with
//! a password or a passkey, password change and reset, profiles. `api.rs` is the HTTP face, `service.rs`
//! the rules, `store.rs` the SQL, `password.rs` the policy and hashing.

pub mod api;
pub mod bootstrap;
mod events;
pub mod lockout;
pub mod password;
pub mod personal_data;
pub mod service;
mod store;

pub use events::queue_user_event;
pub use personal_data::AccountsData;
pub use service::{AccountError, Accounts};

/// The account rows other features read and write, inside their own transactions.
pub use store::{
    EMAIL, NewUser, PHONE, User, find_by_email_index, find_by_id, find_by_verified_phone, insert,
    insert_phone_user, is_disabled, password_hash_of, role_of, set_role, set_verified_phone,
    upgrade_password_hash,
};
