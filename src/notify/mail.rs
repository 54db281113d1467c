//! Mail transports: `smtp` (lettre, STARTTLS or TLS through rustls, optional auth), `maildir`
//! (one RFC 5322 file per message in `<data_dir>/mail/new/`, the development default) and `log`
//! (recipient and subject only). Each message carries a Message-ID derived from its outbox row,
//! so a message sent twice after a crash can be recognised as the same one.

use std::path::PathBuf;
use std::time::Duration;

use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::config::{MailConfig, MailTransport, SmtpTls};

/// A message as the outbox hands it over.
pub struct OutgoingMail<'a> {
    pub outbox_id: i64,
    pub to: &'a str,
    pub subject: &'a str,
    pub text: &'a str,
    pub html: Option<&'a str>,
}

pub enum Mailer {
    Smtp(Box<AsyncSmtpTransport<Tokio1Executor>>),
    Maildir(PathBuf),
    Log,
}

pub struct MailSender {
    from: Mailbox,
    mailer: Mailer,
}

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("invalid address: {0}")]
    Address(String),
    #[error("cannot build the message: {0}")]
    Build(String),
    #[error("SMTP: {0}")]
    Smtp(String),
    #[error("maildir: {0}")]
    Maildir(String),
}

impl MailSender {
    pub fn from_config(config: &MailConfig, data_dir: &std::path::Path) -> Result<Self, MailError> {
        let from: Mailbox =
            config.from.parse().map_err(|e| MailError::Address(format!("mail.from: {e}")))?;
        let mailer = match config.transport {
            MailTransport::Log => Mailer::Log,
            MailTransport::Maildir => Mailer::Maildir(data_dir.join("mail")),
            MailTransport::Smtp => {
                let host = config.smtp_host.as_str();
                let builder = match config.smtp_tls {
                    SmtpTls::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host),
                    SmtpTls::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host)
                        .map_err(|e| MailError::Smtp(e.to_string()))?,
                    SmtpTls::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(host)
                        .map_err(|e| MailError::Smtp(e.to_string()))?,
                };
                let mut builder =
                    builder.port(config.smtp_port).timeout(Some(Duration::from_secs(30)));
                if !config.smtp_username.is_empty() {
                    builder = builder.credentials(Credentials::new(
                        config.smtp_username.clone(),
                        config.smtp_password.expose().to_string(),
                    ));
                }
                Mailer::Smtp(Box::new(builder.build()))
            }
        };
        Ok(Self { from, mailer })
    }

    fn build(&self, mail: &OutgoingMail<'_>) -> Result<Message, MailError> {
        let to: Mailbox = mail.to.parse().map_err(|e| MailError::Address(format!("{e}")))?;
        let domain = self.from.email.domain().to_string();
        let builder = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(mail.subject)
            .message_id(Some(format!("<outbox-{}@{domain}>", mail.outbox_id)));
        let message = match mail.html {
            Some(html) => builder.multipart(MultiPart::alternative_plain_html(
                mail.text.to_string(),
                html.to_string(),
            )),
            None => builder.body(mail.text.to_string()),
        };
        message.map_err(|e| MailError::Build(e.to_string()))
    }

    pub async fn send(&self, mail: &OutgoingMail<'_>) -> Result<(), MailError> {
        let message = self.build(mail)?;
        match &self.mailer {
            Mailer::Log => {
                tracing::info!(
                    outbox_id = mail.outbox_id,
                    subject = mail.subject,
                    "mail (log transport)"
                );
                Ok(())
            }
            Mailer::Smtp(transport) => {
                transport.send(message).await.map(drop).map_err(|e| MailError::Smtp(e.to_string()))
            }
            Mailer::Maildir(dir) => {
                let dir = dir.clone();
                let name = format!(
                    "{}.outbox-{}.gatehouse",
                    chrono::Utc::now().timestamp_micros(),
                    mail.outbox_id
                );
                let bytes = message.formatted();
                tokio::task::spawn_blocking(move || write_maildir(&dir, &name, &bytes))
                    .await
                    .map_err(|e| MailError::Maildir(e.to_string()))?
            }
        }
    }
}

/// Maildir delivery: write into `tmp/`, then rename into `new/`, so a reader never sees half a
/// message.
fn write_maildir(dir: &std::path::Path, name: &str, bytes: &[u8]) -> Result<(), MailError> {
    let fail = |e: std::io::Error| MailError::Maildir(e.to_string());
    for sub in ["tmp", "new", "cur"] {
        std::fs::create_dir_all(dir.join(sub)).map_err(fail)?;
    }
    let tmp = dir.join("tmp").join(name);
    std::fs::write(&tmp, bytes).map_err(fail)?;
    std::fs::rename(&tmp, dir.join("new").join(name)).map_err(fail)
}
