//! A small HTTP server that records what it receives: an SMS provider or an app's back-channel
//! logout endpoint, in the tests.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// One request the sink received.
#[derive(Debug, Clone)]
pub struct Received {
    pub head: String,
    pub body: String,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<String> {
        self.head.lines().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.eq_ignore_ascii_case(name).then(|| value.trim().to_string())
        })
    }
}

/// A server on 127.0.0.1:0 that answers 500 to the first `failures` requests, then `ok`;
/// returns its base URL and what it received.
pub async fn http_sink(failures: usize, ok: u16) -> (String, Arc<Mutex<Vec<Received>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let received = Arc::new(Mutex::new(Vec::new()));
    let log = received.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else { return };
            let mut bytes = Vec::new();
            let mut buf = [0u8; 4096];
            let request = loop {
                let n = stream.read(&mut buf).await.unwrap_or(0);
                if n == 0 {
                    break None;
                }
                bytes.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&bytes).to_string();
                if let Some((head, body)) = text.split_once("\r\n\r\n") {
                    let received = Received { head: head.to_string(), body: body.to_string() };
                    let length: usize =
                        received.header("content-length").and_then(|l| l.parse().ok()).unwrap_or(0);
                    if body.len() >= length {
                        break Some(received);
                    }
                }
            };
            let Some(request) = request else { continue };
            let status = {
                let mut log = log.lock().unwrap();
                log.push(request);
                if log.len() <= failures { 500 } else { ok }
            };
            let reply = format!(
                "HTTP/1.1 {status} X\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{{}}"
            );
            let _ = stream.write_all(reply.as_bytes()).await;
            let _ = stream.shutdown().await;
        }
    });
    (base, received)
}

/// Waits (up to 10 s) until the sink has received `n` requests; returns them all.
pub async fn wait_for(received: &Arc<Mutex<Vec<Received>>>, n: usize) -> Vec<Received> {
    for _ in 0..400 {
        let got = received.lock().unwrap().clone();
        if got.len() >= n {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the sink got {} requests, not {n}", received.lock().unwrap().len());
}
