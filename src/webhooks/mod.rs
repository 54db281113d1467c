//! Webhooks (SPEC section 13): campus apps hear at once when a student is verified, changes,
//! is disabled or deleted, or when their driver state changes, instead of polling.
//!
//! - [`events`]: the event types and the body of each (`data` holds ids, the campus id and
//!   states, never a name, an email, a phone number or a licence field).
//! - [`queue_in`]: a feature queues an event in the transaction of the change that causes it,
//!   so a crash never loses one and a rolled-back change never sends one.
//! - [`endpoints`]: the rules of registration (admins only: `gatehouse webhook ...`,
//!   `/api/v1/admin/webhooks`, the admin page Webhooks); [`signing`]: Standard Webhooks
//!   signatures (`webhook-id`, `webhook-timestamp`, `webhook-signature`, `whsec_` secrets).
//! - [`delivery`]: the job that posts due deliveries, at least once, with the same
//!   `webhook-id` on every try, backoff from 5 s doubling to an hour for about a day.

pub mod api;
pub mod delivery;
mod endpoint;
pub mod endpoints;
pub mod events;
pub mod personal_data;
pub mod signing;
mod store;
#[cfg(test)]
mod store_tests;

pub use endpoints::{Endpoint, NewEndpoint, Registered, WebhookError};
pub use events::{Event, EventType};
pub use personal_data::WebhookData;

/// Queues `event` for every endpoint that takes its type, in the caller's transaction (any
/// connection or transaction: [`crate::db::conn::AsConn`]). Returns how many deliveries were
/// queued.
pub fn queue_in(
    conn: &impl crate::db::conn::AsConn,
    event: &Event,
    now: i64,
) -> crate::db::conn::SqlResult<usize> {
    store::queue(conn, event, now)
}
