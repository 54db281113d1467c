//! The outbox and its transports: a real SMTP conversation with a local sink, retries with
//! backoff when the relay is down, nothing lost across a restart.

use std::time::Duration;

use gatehouse::config::{MailTransport, SmtpTls};

use crate::support::harness::{Mail, TestServer};
use crate::support::smtp_sink::SmtpSink;

fn smtp(config: &mut gatehouse::config::Config, port: u16) {
    config.mail.transport = MailTransport::Smtp;
    config.mail.smtp_host = "127.0.0.1".into();
    config.mail.smtp_port = port;
    config.mail.smtp_tls = SmtpTls::None;
    config.mail.from = "North Gatehouse <gatehouse@north.edu>".into();
}

/// A loopback port nothing listens on (a relay that is down).
fn unused_port() -> u16 {
    let reserved = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    reserved.local_addr().unwrap().port()
}

async fn wait_for<T>(mut check: impl FnMut() -> Option<T>) -> T {
    for _ in 0..300 {
        if let Some(value) = check() {
            return value;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("timed out");
}

#[tokio::test]
async fn verification_mail_goes_through_a_real_smtp_conversation() {
    let sink = SmtpSink::start("127.0.0.1:0").await;
    let port = sink.addr.port();
    let server = TestServer::start_with(|c| smtp(c, port)).await;
    server.add_campus("North Campus", &["north.edu"]);
    assert_eq!(server.register("ada@north.edu").await.status(), 202);
    let message = wait_for(|| sink.messages().into_iter().next()).await;
    assert!(message.from.contains("gatehouse@north.edu"), "{message:?}");
    assert_eq!(message.to, vec!["<ada@north.edu>"]);
    let mail = Mail::parse(message.data.as_bytes());
    assert!(
        mail.subject.contains("Confirm your email address")
            && mail.subject.contains("North Campus")
    );
    assert!(mail.text.contains(&format!("{}/verify-email?token=", server.base)));
    assert!(!mail.html.is_empty(), "an HTML alternative is sent");
    assert!(message.data.contains("Message-ID: <outbox-1@north.edu>"), "{}", message.data);
    // Once sent, the single-use link no longer sits in the database.
    wait_for(|| {
        (server
            .query_i64("SELECT count(*) FROM outbox WHERE sent_at IS NOT NULL AND body_text = ''")
            == 1)
            .then_some(())
    })
    .await;
}

#[tokio::test]
async fn a_relay_that_is_down_is_retried_with_backoff_until_it_answers() {
    let port = unused_port();
    let server = TestServer::start_with(|c| smtp(c, port)).await;
    server.add_campus("North", &["north.edu"]);
    server.register("ada@north.edu").await;
    wait_for(|| (server.query_i64("SELECT attempts FROM outbox") >= 1).then_some(())).await;
    assert_eq!(
        server.query_i64("SELECT count(*) FROM outbox WHERE sent_at IS NULL AND failed_at IS NULL"),
        1
    );
    let error_recorded =
        server.query_i64("SELECT count(*) FROM outbox WHERE last_error IS NOT NULL");
    assert_eq!(error_recorded, 1);

    let sink = SmtpSink::start(&format!("127.0.0.1:{port}")).await;
    // Not yet due: the retry waits for its backoff.
    server.state.outbox_wake.notify_one();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(sink.messages().is_empty());
    server.clock.advance(chrono::Duration::seconds(11));
    server.state.outbox_wake.notify_one();
    wait_for(|| sink.messages().into_iter().next()).await;
    // The row is marked sent just after the relay accepted the message.
    wait_for(|| {
        (server.query_i64("SELECT count(*) FROM outbox WHERE sent_at IS NOT NULL") == 1)
            .then_some(())
    })
    .await;
}

#[tokio::test]
async fn queued_mail_survives_a_restart() {
    let port = unused_port();
    let server = TestServer::start_with(|c| smtp(c, port)).await;
    server.add_campus("North", &["north.edu"]);
    server.register("ada@north.edu").await;
    wait_for(|| (server.query_i64("SELECT attempts FROM outbox") >= 1).then_some(())).await;
    let dir = server.stop_keep_dir().await;

    // Back up with the maildir transport: the same message is delivered there.
    let server = TestServer::start_in(dir, |_| {}).await;
    server.clock.advance(chrono::Duration::minutes(5));
    let mail = server.mail_to("ada@north.edu", "Confirm your email").await;
    assert!(mail.text.contains("/verify-email?token="));
}
