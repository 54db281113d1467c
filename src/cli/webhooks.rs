//! `gatehouse webhook add|list|remove|rotate-secret`: webhook endpoints, from the command line
//! (the same rules and audit as `/api/v1/admin/webhooks`).

use super::*;
use crate::audit::Actor;
use crate::db::conn::Conn;
use crate::pii::FieldCipher;
use crate::webhooks::{Endpoint, NewEndpoint, Registered, endpoints};

pub(super) fn webhook(file: Option<&Path>, command: WebhookCommand) -> anyhow::Result<()> {
    let config = load(file)?;
    let clock: std::sync::Arc<dyn crate::clock::Clock> =
        std::sync::Arc::new(crate::clock::SystemClock);
    // The whole app is built for its PII key, which seals the secrets.
    let (state, _, _) = startup::build(config, clock.clone())?;
    let now = clock.unix();
    state.db.blocking_conn(|conn| run(conn, &state.pii, command, now))
}

fn run(conn: &Conn, pii: &FieldCipher, command: WebhookCommand, now: i64) -> anyhow::Result<()> {
    let cli = Actor { user_id: None, ip: None };
    match command {
        WebhookCommand::Add { url, events, json } => {
            let new = NewEndpoint { url, events };
            let registered = endpoints::add(conn, pii, &new, &cli, now)?;
            print_registered("registered", &registered, json);
        }
        WebhookCommand::List { json } => {
            let list = endpoints::list(conn)?;
            if json {
                let list: Vec<serde_json::Value> = list.iter().map(as_json).collect();
                println!("{}", serde_json::Value::Array(list));
            } else if list.is_empty() {
                println!("no webhooks yet: add one with `gatehouse webhook add --url URL`");
            } else {
                for endpoint in &list {
                    println!("{}\t{}\t{}", endpoint.id, endpoint.url, endpoint.events.join(","));
                }
            }
        }
        WebhookCommand::Remove { id } => {
            let endpoint = endpoints::remove(conn, &id, &cli, now)?;
            println!("removed webhook {} ({})", endpoint.id, endpoint.url);
        }
        WebhookCommand::RotateSecret { id, json } => {
            let registered = endpoints::rotate_secret(conn, pii, &id, &cli, now)?;
            print_registered("new secret for", &registered, json);
            if !json {
                println!("  The old secret keeps signing beside it for 24 hours.");
            }
        }
    }
    Ok(())
}

fn as_json(endpoint: &Endpoint) -> serde_json::Value {
    serde_json::json!({"id": endpoint.id, "url": endpoint.url, "events": endpoint.events})
}

fn print_registered(what: &str, registered: &Registered, json: bool) {
    let endpoint = &registered.endpoint;
    if json {
        println!("{}", serde_json::json!({"id": endpoint.id, "secret": registered.secret}));
        return;
    }
    println!("{what} webhook {} ({})", endpoint.id, endpoint.url);
    println!("  secret: {}", registered.secret);
    println!("  The secret is shown this once: give it to the receiving app.");
    println!("  events: {}", endpoint.events.join(","));
}
