//! `gatehouse client add|list|remove|rotate-secret`: the OpenID Connect clients, from the
//! command line (the same rules and audit as `/api/v1/admin/clients`).

use super::*;
use crate::audit::Actor;
use crate::db::conn::Conn;
use crate::oidc::{Client, NewClient, Registered, clients};

pub(super) fn client(file: Option<&Path>, command: ClientCommand) -> anyhow::Result<()> {
    let config = load(file)?;
    startup::prepare_data_dir(&config.storage.data_dir)?;
    let db = startup::open_storage(&config.storage)?;
    let now = chrono::Utc::now().timestamp();
    db.blocking_conn(|conn| run(conn, command, now))
}

fn run(conn: &Conn, command: ClientCommand, now: i64) -> anyhow::Result<()> {
    let cli = Actor { user_id: None, ip: None };
    match command {
        ClientCommand::Add {
            name,
            redirect_uris,
            public,
            trusted,
            scopes,
            post_logout_redirect_uris,
            backchannel_logout_uri,
            id_token_alg,
            json,
        } => {
            let new = NewClient {
                name,
                redirect_uris,
                public,
                trusted,
                scopes,
                post_logout_redirect_uris,
                backchannel_logout_uri,
                id_token_alg,
            };
            let registered = clients::add(conn, &new, &cli, now)?;
            print_registered("registered", &registered, json);
        }
        ClientCommand::List { json } => {
            let list = clients::list(conn)?;
            if json {
                let list: Vec<serde_json::Value> = list.iter().map(as_json).collect();
                println!("{}", serde_json::Value::Array(list));
            } else if list.is_empty() {
                println!(
                    "no clients yet: add one with `gatehouse client add --name NAME \
                     --redirect-uri URI`"
                );
            }
            if !json {
                for client in &list {
                    let kind = if client.public { "public" } else { "confidential" };
                    println!(
                        "{}\t{}\t{kind}{}\t{}\t{}",
                        client.id,
                        client.name,
                        if client.trusted { ", trusted" } else { "" },
                        client.scopes.join(" "),
                        client.redirect_uris.join(" ")
                    );
                }
            }
        }
        ClientCommand::Remove { client_id } => {
            let client = clients::remove(conn, &client_id, &cli, now)?;
            println!("removed client {} ({})", client.id, client.name);
        }
        ClientCommand::RotateSecret { client_id, json } => {
            let registered = clients::rotate_secret(conn, &client_id, &cli, now)?;
            print_registered("new secret for", &registered, json);
        }
    }
    Ok(())
}

fn as_json(client: &Client) -> serde_json::Value {
    serde_json::json!({
        "client_id": client.id,
        "name": client.name,
        "public": client.public,
        "trusted": client.trusted,
        "redirect_uris": client.redirect_uris,
        "post_logout_redirect_uris": client.post_logout_redirect_uris,
        "backchannel_logout_uri": client.backchannel_logout_uri,
        "scopes": client.scopes,
        "id_token_alg": client.id_token_alg,
    })
}

fn print_registered(what: &str, registered: &Registered, json: bool) {
    let client = &registered.client;
    if json {
        let mut out = serde_json::json!({"client_id": client.id});
        if let Some(secret) = &registered.secret {
            out["client_secret"] = secret.clone().into();
        }
        println!("{out}");
        return;
    }
    println!("{what} client {} ({})", client.id, client.name);
    println!("  client_id:     {}", client.id);
    match &registered.secret {
        Some(secret) => {
            println!("  client_secret: {secret}");
            println!("  The secret is shown this once; it is stored only hashed.");
        }
        None => println!("  public client: no secret; the app must use PKCE (S256)."),
    }
    println!("  scopes:        {}", client.scopes.join(" "));
}
