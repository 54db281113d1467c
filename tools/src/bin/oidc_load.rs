//! Authorization-code exchanges per second, for scripts/bench/oidc.sh: a signed-in student's
//! session cookie asks `/oauth/authorize` for codes (each with its own PKCE S256 verifier),
//! then the codes are exchanged at `/oauth/token` (client_secret_basic) over CONNECTIONS
//! connections. Only the exchanges are timed. Codes live 60 seconds, so they are made and
//! spent in batches (each about three seconds of exchanges) until the exchanges have taken
//! SECONDS in all. Prints `key value` lines: exchanges per second, the latency percentiles of
//! one exchange, the rate at which codes were made, how many requests failed (the first
//! failure goes to stderr; more than 100 end the run), and an access token from the last batch
//! (for the userinfo measurement that follows).
//!
//!     cargo build --release --workspace --bins
//! With SERVER_PID and CLK_TCK (`getconf CLK_TCK`) set, also the server's own CPU time per
//! exchange, read from /proc.
//!
//!     oidc_load URL SESSION_COOKIE CLIENT_ID CLIENT_SECRET REDIRECT_URI SECONDS [CONNECTIONS]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use gatehouse::crypto;

struct Bench {
    http: reqwest::Client,
    url: String,
    cookie: String,
    client_id: String,
    secret: String,
    redirect_uri: String,
}

/// `pairs` form-urlencoded.
fn encode(pairs: &[(&str, &str)]) -> String {
    let mut url = reqwest::Url::parse("http://x/").expect("a URL");
    url.query_pairs_mut().extend_pairs(pairs);
    url.query().unwrap_or_default().to_string()
}

impl Bench {
    /// One code and its verifier: an authorization request answered 303 to the app.
    async fn code(&self) -> anyhow::Result<(String, String)> {
        let (verifier, _) = crypto::new_token();
        let challenge = crypto::base64url(&crypto::hash_token(&verifier));
        let query = encode(&[
            ("client_id", &self.client_id),
            ("redirect_uri", &self.redirect_uri),
            ("response_type", "code"),
            ("scope", "openid email profile"),
            ("state", "bench"),
            ("nonce", "bench"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ]);
        let response = self
            .http
            .get(format!("{}/oauth/authorize?{query}", self.url))
            .header("cookie", format!("gatehouse_session={}", self.cookie))
            .send()
            .await?;
        let to = response.headers().get("location").and_then(|l| l.to_str().ok()).with_context(
            || format!("authorize answered {} without a redirect", response.status()),
        )?;
        let to = reqwest::Url::parse(to).with_context(|| format!("authorize sent us to {to}"))?;
        let code = to
            .query_pairs()
            .find(|(name, _)| name == "code")
            .map(|(_, code)| code.into_owned())
            .with_context(|| format!("no code in {to}"))?;
        Ok((code, verifier))
    }

    /// One exchange: its latency and the access token.
    async fn exchange(&self, code: &str, verifier: &str) -> anyhow::Result<(Duration, String)> {
        let body = encode(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", &self.redirect_uri),
            ("code_verifier", verifier),
        ]);
        let started = Instant::now();
        let response = self
            .http
            .post(format!("{}/oauth/token", self.url))
            .basic_auth(&self.client_id, Some(&self.secret))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await?;
        let status = response.status();
        let text = response.text().await?;
        let took = started.elapsed();
        if status != 200 {
            bail!("the exchange answered {status}: {text}");
        }
        let tokens: serde_json::Value = serde_json::from_str(&text)?;
        let access = tokens["access_token"].as_str().context("no access_token")?.to_string();
        Ok((took, access))
    }
}

/// Runs `work(i)` for i in 0..count on `connections` concurrent tasks; the results in order.
async fn run_all<T, F, Fut>(count: usize, connections: usize, work: F) -> Vec<anyhow::Result<T>>
where
    T: Send + 'static,
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = anyhow::Result<T>> + Send,
{
    let next = Arc::new(AtomicUsize::new(0));
    let work = Arc::new(work);
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let (next, work) = (next.clone(), work.clone());
        tasks.push(tokio::spawn(async move {
            let mut done = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= count {
                    return done;
                }
                done.push((i, work(i).await));
            }
        }));
    }
    let mut all = Vec::with_capacity(count);
    for task in tasks {
        all.extend(task.await.expect("a load task panicked"));
    }
    all.sort_by_key(|(i, _)| *i);
    all.into_iter().map(|(_, t)| t).collect()
}

/// Counts the failures of `results` (printing the first one to stderr); the successes.
fn successes<T>(results: Vec<anyhow::Result<T>>, failures: &mut usize) -> Vec<T> {
    let mut ok = Vec::with_capacity(results.len());
    for result in results {
        match result {
            Ok(t) => ok.push(t),
            Err(e) => {
                if *failures == 0 {
                    eprintln!("oidc_load: first failure: {e:#}");
                }
                *failures += 1;
            }
        }
    }
    ok
}

/// The server's CPU time so far (user + system, all threads), when SERVER_PID and CLK_TCK
/// name it: what the server itself spent, which another process's share of the cores does not
/// move.
fn server_cpu() -> Option<Duration> {
    let pid = std::env::var("SERVER_PID").ok()?;
    let tick: f64 = std::env::var("CLK_TCK").ok()?.parse().ok()?;
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(Duration::from_secs_f64(ticks / tick))
}

fn percentile_ms(sorted: &[Duration], p: f64) -> f64 {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1].as_secs_f64() * 1000.0
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 7 {
        bail!(
            "usage: oidc_load URL COOKIE CLIENT_ID CLIENT_SECRET REDIRECT_URI SECONDS [CONNECTIONS]"
        );
    }
    let seconds: f64 = args[6].parse().context("SECONDS")?;
    let connections: usize = args.get(7).map_or(Ok(8), |c| c.parse()).context("CONNECTIONS")?;
    // reqwest is built without a TLS provider of its own; plain HTTP here, but it asks for one.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(connections)
        .build()?;
    let bench = Arc::new(Bench {
        http,
        url: args[1].trim_end_matches('/').to_string(),
        cookie: args[2].clone(),
        client_id: args[3].clone(),
        secret: args[4].clone(),
        redirect_uri: args[5].clone(),
    });

    let (mut latencies, mut exchanging, mut authorizing) =
        (Vec::new(), Duration::ZERO, Duration::ZERO);
    let (mut access, mut codes_made, mut server_cpu_used) = (String::new(), 0, Duration::ZERO);
    // The first batch is a warm-up, not counted; its rate sets the size of the next ones
    // (three seconds of exchanges each).
    let (mut batch, mut warm_up) = (100, true);
    let (mut failed_codes, mut failed_exchanges, mut timed_failures) = (0, 0, 0);
    while exchanging.as_secs_f64() < seconds {
        let started = Instant::now();
        let b = bench.clone();
        let made = run_all(batch, connections, move |_| {
            let b = b.clone();
            async move { b.code().await }
        })
        .await;
        let codes = Arc::new(successes(made, &mut failed_codes));
        authorizing += started.elapsed();
        codes_made += codes.len();

        let (started, cpu_before) = (Instant::now(), server_cpu());
        let b = bench.clone();
        let done = run_all(codes.len(), connections, move |i| {
            let (b, codes) = (b.clone(), codes.clone());
            async move { b.exchange(&codes[i].0, &codes[i].1).await }
        })
        .await;
        let took = started.elapsed();
        let tried = done.len();
        let done = successes(done, &mut failed_exchanges);
        if failed_codes + failed_exchanges > 100 {
            bail!("more than 100 requests failed");
        }
        if let Some((_, token)) = done.last() {
            access = token.clone();
        }
        if !std::mem::take(&mut warm_up) {
            timed_failures += tried - done.len();
            exchanging += took;
            if let (Some(before), Some(after)) = (cpu_before, server_cpu()) {
                server_cpu_used += after - before;
            }
            latencies.extend(done.into_iter().map(|(l, _)| l));
        }
        let rate = tried.max(1) as f64 / took.as_secs_f64();
        let left = (seconds - exchanging.as_secs_f64()).max(0.5);
        batch = (rate * left.min(3.0)).clamp(50.0, 20_000.0) as usize;
    }
    latencies.sort();
    let n = latencies.len();
    if n == 0 {
        bail!("no exchange succeeded");
    }
    println!("connections {connections}");
    println!("exchanges {n}");
    println!("failed_exchanges {timed_failures}");
    println!("failed_codes {failed_codes}");
    println!("exchange_seconds {:.2}", exchanging.as_secs_f64());
    println!("exchanges_per_s {:.1}", n as f64 / exchanging.as_secs_f64());
    println!("exchange_p50_ms {:.2}", percentile_ms(&latencies, 50.0));
    println!("exchange_p99_ms {:.2}", percentile_ms(&latencies, 99.0));
    println!("exchange_max_ms {:.2}", latencies[n - 1].as_secs_f64() * 1000.0);
    if server_cpu().is_some() {
        println!(
            "server_cpu_ms_per_exchange {:.3}",
            server_cpu_used.as_secs_f64() * 1000.0 / n as f64
        );
    }
    println!("codes_per_s {:.1}", codes_made as f64 / authorizing.as_secs_f64());
    println!("access_token {access}");
    Ok(())
}
