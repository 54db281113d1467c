//! An open-loop load generator: sends GET requests at a fixed arrival rate, whatever the
//! server's answers take, and measures each request's latency from the moment it was due to
//! be sent. A closed-loop client (wrk) sends the next request only after an answer, so while
//! the server stalls it stops asking and the stall shows in one sample instead of in every
//! request that would have arrived meanwhile (coordinated omission); here they all count.
//!
//!   open_loop URL RATE SECONDS [HEADER: VALUE]...
//!
//! Prints one line per figure (`name value`): requests due, answered, errors (not 2xx or no
//! answer), the achieved rate, and latency percentiles in milliseconds. Requests still
//! unanswered 5 s after the run count as errors.

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
    let _ = rustls::crypto::ring::default_provider().install_default();
    // One worker thread: the generator shares the machine with the server it measures.
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(run(url.clone(), rate, seconds, header_map))
}

async fn run(
    url: String,
    rate: f64,
    seconds: f64,
    headers: reqwest::header::HeaderMap,
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
        let (client, url) = (client.clone(), url.clone());
        tasks.spawn(async move {
            let answer = client.get(&url).send().await;
            let ok = match answer {
                Ok(response) => {
                    let ok = response.status().is_success();
                    ok && response.bytes().await.is_ok()
                }
                Err(_) => false,
            };
            // From when the request was due, not from when it could be sent.
            (ok, at.elapsed())
        });
    }
    let sent_for = started.elapsed();
    let mut latencies = Vec::with_capacity(due as usize);
    let mut errors = 0u64;
    while let Some(done) = tasks.join_next().await {
        let (ok, latency) = done?;
        if ok {
            latencies.push(latency);
        } else {
            errors += 1;
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
    println!("errors {errors}");
    println!("rate_per_s {:.1}", due as f64 / sent_for.as_secs_f64());
    for (name, p) in [("p50_ms", 50.0), ("p90_ms", 90.0), ("p99_ms", 99.0), ("p999_ms", 99.9)] {
        println!("{name} {:.2}", percentile(p));
    }
    println!("max_ms {:.2}", latencies.last().map_or(f64::NAN, |d| ms(*d)));
    Ok(())
}
