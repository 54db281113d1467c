//! An open-loop load generator: sends GET requests at a fixed arrival rate, whatever the
//! server's answers take, and measures each request's latency from the moment it was due to
//! be sent. A closed-loop client (wrk) sends the next request only after an answer, so while
//! the server stalls it stops asking and the stall shows in one sample instead of in every
//! request that would have arrived meanwhile (coordinated omission); here they all count.
//!
//!   open_loop URL RATE SECONDS [HEADER: VALUE]...
//!
//! Prints one line per figure (`name value`): requests due, answered, refused (429), errors
//! (any other answer that is not 2xx, or none), the achieved rate, and latency percentiles of
//! the answered requests in milliseconds. Requests still unanswered 5 s after the run count as
//! errors. With `SESSION_COOKIES` set (comma-separated), request i carries the session cookie
//! i modulo their number: many users' traffic, each user at a fraction of the rate.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [url, rate, seconds, headers @ ..] = args.as_slice() else {
        bail!("usage: open_loop URL RATE SECONDS [HEADER: VALUE]...");
    };
    let rate: f64 = rate.parse().context("RATE is requests per second")?;
    let seconds: f64 = seconds.parse().context("SECONDS is a number")?;
    anyhow::ensure!(rate > 0.0 && seconds > 0.0, "RATE and SECONDS must be positive");
    let mut header_map = reqwest::header::HeaderMap::new();
    for header in headers {
        let (name, value) = header.split_once(':').context("a header is NAME: VALUE")?;
        header_map.insert(
            reqwest::header::HeaderName::from_bytes(name.trim().as_bytes())?,
            reqwest::header::HeaderValue::from_str(value.trim())?,
        );
    }
    let cookies: Vec<reqwest::header::HeaderValue> = match std::env::var("SESSION_COOKIES") {
        Ok(list) => list
            .split(',')
            .map(|c| reqwest::header::HeaderValue::from_str(&format!("gatehouse_session={c}")))
            .collect::<Result<_, _>>()?,
        Err(_) => Vec::new(),
    };
    let _ = rustls::crypto::ring::default_provider().install_default();
    // One worker thread: the generator shares the machine with the server it measures.
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(run(url.clone(), rate, seconds, header_map, cookies))
}

async fn run(
    url: String,
    rate: f64,
    seconds: f64,
    headers: reqwest::header::HeaderMap,
    cookies: Vec<reqwest::header::HeaderValue>,
) -> anyhow::Result<()> {
    let client = reqwest::Client::builder()
        .default_headers(headers)
        .timeout(Duration::from_secs(5))
        .pool_max_idle_per_host(256)
        .build()?;
    let due = (rate * seconds).round() as u64;
    let interval = Duration::from_secs_f64(1.0 / rate);
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..due {
        let at = started + interval.mul_f64(i as f64);
        tokio::time::sleep_until(at.into()).await;
        let mut request = client.get(&url);
        if !cookies.is_empty() {
            request = request
                .header(reqwest::header::COOKIE, cookies[i as usize % cookies.len()].clone());
        }
        tasks.spawn(async move {
            let outcome = match request.send().await {
                Ok(response) if response.status() == reqwest::StatusCode::TOO_MANY_REQUESTS => {
                    Outcome::Refused
                }
                Ok(response) if response.status().is_success() => match response.bytes().await {
                    Ok(_) => Outcome::Answered,
                    Err(_) => Outcome::Error,
                },
                _ => Outcome::Error,
            };
            // From when the request was due, not from when it could be sent.
            (outcome, at.elapsed())
        });
    }
    let sent_for = started.elapsed();
    let mut latencies = Vec::with_capacity(due as usize);
    let (mut refused, mut errors) = (0u64, 0u64);
    while let Some(done) = tasks.join_next().await {
        match done? {
            (Outcome::Answered, latency) => latencies.push(latency),
            (Outcome::Refused, _) => refused += 1,
            (Outcome::Error, _) => errors += 1,
        }
    }
    latencies.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let percentile = |p: f64| {
        if latencies.is_empty() {
            return f64::NAN;
        }
        let rank = ((p / 100.0) * latencies.len() as f64).ceil() as usize;
        ms(latencies[rank.clamp(1, latencies.len()) - 1])
    };
    println!("due {due}");
    println!("answered {}", latencies.len());
    println!("refused {refused}");
    println!("errors {errors}");
    println!("rate_per_s {:.1}", due as f64 / sent_for.as_secs_f64());
    for (name, p) in [("p50_ms", 50.0), ("p90_ms", 90.0), ("p99_ms", 99.0), ("p999_ms", 99.9)] {
        println!("{name} {:.2}", percentile(p));
    }
    println!("max_ms {:.2}", latencies.last().map_or(f64::NAN, |d| ms(*d)));
    Ok(())
}

enum Outcome {
    Answered,
    Refused,
    Error,
}
