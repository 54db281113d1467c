//! SMS providers: `file` (one JSON line `{id, to, body, sent_at}` per message appended to
//! `<data_dir>/sms.jsonl`, the development default), `webhook` (POST JSON `{id, to, body}` signed
//! with `X-Gatehouse-Signature: sha256=<hex HMAC-SHA256 of the body>` so the receiver can tell
//! it came from us) and `twilio` (the Messages REST API with basic auth). Errors never quote
//! the provider's reply: it may echo the message, which holds a sign-in code.
//!
//! Delivery is at least once (a crash after sending and before the outbox row is marked sends
//! again), so the file and webhook messages carry `id` = `outbox-<row id>`, the same on every
//! attempt: a receiver drops repeats by it, as by an email's Message-ID. (Twilio's API has no
//! such field.)

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::config::{Secret, SmsConfig, SmsProvider};

pub const SIGNATURE_HEADER: &str = "X-Gatehouse-Signature";

#[derive(Debug, thiserror::Error)]
pub enum SmsError {
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
    #[error("the provider could not be reached")]
    Unreachable,
    #[error("the provider answered {0}")]
    Status(u16),
    #[error("sms file: {0}")]
    File(String),
}

enum Provider {
    File(PathBuf),
    Webhook { url: String, secret: Secret },
    Twilio { url: String, sid: String, token: Secret, from: String },
}

pub struct SmsSender {
    provider: Provider,
    http: reqwest::Client,
}

impl SmsSender {
    pub fn from_config(config: &SmsConfig, data_dir: &std::path::Path) -> Result<Self, SmsError> {
        // reqwest is built without a bundled crypto provider (aws-lc needs cmake); ring is the
        // one the rest of the binary uses. Installing it twice is harmless.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| SmsError::Client(e.to_string()))?;
        let provider = match config.provider {
            SmsProvider::File => Provider::File(data_dir.join("sms.jsonl")),
            SmsProvider::Webhook => Provider::Webhook {
                url: config.webhook_url.clone(),
                secret: config.webhook_secret.clone(),
            },
            SmsProvider::Twilio => Provider::Twilio {
                url: format!(
                    "{}/2010-04-01/Accounts/{}/Messages.json",
                    config.twilio_base_url.trim_end_matches('/'),
                    config.twilio_account_sid
                ),
                sid: config.twilio_account_sid.clone(),
                token: config.twilio_auth_token.clone(),
                from: config.twilio_from.clone(),
            },
        };
        Ok(Self { provider, http })
    }

    /// Sends one message; `outbox_id` names it the same way on every attempt.
    pub async fn send(&self, outbox_id: i64, to: &str, body: &str) -> Result<(), SmsError> {
        let id = format!("outbox-{outbox_id}");
        let request = match &self.provider {
            Provider::File(path) => {
                let line = serde_json::json!({
                    "id": id,
                    "to": to,
                    "body": body,
                    "sent_at": chrono::Utc::now().to_rfc3339(),
                })
                .to_string();
                let path = path.clone();
                return tokio::task::spawn_blocking(move || append_line(&path, &line))
                    .await
                    .map_err(|e| SmsError::File(e.to_string()))?;
            }
            Provider::Webhook { url, secret } => {
                let payload = serde_json::json!({"id": id, "to": to, "body": body}).to_string();
                let signature = signature(secret.expose().as_bytes(), payload.as_bytes());
                self.http
                    .post(url)
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .header(SIGNATURE_HEADER, format!("sha256={signature}"))
                    .body(payload)
            }
            Provider::Twilio { url, sid, token, from } => {
                let form = url::form_urlencoded::Serializer::new(String::new())
                    .append_pair("To", to)
                    .append_pair("From", from)
                    .append_pair("Body", body)
                    .finish();
                self.http
                    .post(url)
                    .basic_auth(sid, Some(token.expose()))
                    .header(reqwest::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                    .body(form)
            }
        };
        let response = request.send().await.map_err(|_| SmsError::Unreachable)?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(SmsError::Status(response.status().as_u16()))
        }
    }
}

/// Hex HMAC-SHA256 of `body` under `secret`: what a webhook receiver recomputes.
pub fn signature(secret: &[u8], body: &[u8]) -> String {
    let mut mac =
        <Hmac<Sha256> as KeyInit>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

fn append_line(path: &std::path::Path, line: &str) -> Result<(), SmsError> {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| SmsError::File(e.kind().to_string()))?;
    writeln!(file, "{line}").map_err(|e| SmsError::File(e.kind().to_string()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn signature_is_the_rfc_4231_hmac() {
        // RFC 4231 test case 2.
        assert_eq!(
            super::signature(b"Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
