//! The driver expiry job (daily: emails 7, 3 and 1 days before a licence expires, and on the
//! expiry day driving suspended until a new licence is approved) is registered with the
//! scheduler: its series are on /metrics from start-up, before its first run at 00:10. What a
//! run does is tested in tests/it/driver.rs, by calling the job directly on the manual clock.

use crate::support::harness::TestServer;

#[tokio::test]
async fn the_driver_expiry_job_is_scheduled_from_start_up() {
    let server = TestServer::start().await;
    let text = server.get("/metrics").await.text().await.unwrap();
    for series in [
        "gatehouse_job_runs_total{job=\"driver_expiry\",outcome=\"success\"} ",
        "gatehouse_job_runs_total{job=\"driver_expiry\",outcome=\"failure\"} 0",
        "gatehouse_job_last_success_timestamp_seconds{job=\"driver_expiry\"} ",
        "gatehouse_job_consecutive_failures{job=\"driver_expiry\"} 0",
    ] {
        assert!(text.lines().any(|l| l.starts_with(series)), "no {series:?} in:\n{text}");
    }
}
