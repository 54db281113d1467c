//! One node at a time per job (SPEC section 14). On PostgreSQL a job's run first takes a
//! session-level advisory lock named after the job (`pg_try_advisory_lock`) on a pooled
//! connection it keeps until the run ends; a node that finds the lock taken skips that run.
//! A node that dies mid-run loses its connection, and the server releases the lock with it.
//! On SQLite there is one node, and every run has its turn.

use super::postgres::PostgresManager;

/// The turn of one job run; dropping it gives the turn back.
pub struct JobLock {
    held: Option<(r2d2::PooledConnection<PostgresManager>, String)>,
}

impl JobLock {
    /// The turn on SQLite, which has one node.
    pub fn single_node() -> Self {
        Self { held: None }
    }

    /// Tries to take `job`'s turn on `conn`; None when another node holds it.
    pub(super) fn try_take(
        mut conn: r2d2::PooledConnection<PostgresManager>,
        job: &str,
    ) -> Result<Option<Self>, ::postgres::Error> {
        let key = lock_key(job);
        let taken: bool =
            conn.query_one("SELECT pg_try_advisory_lock(hashtext($1))", &[&key])?.get(0);
        Ok(taken.then(|| Self { held: Some((conn, key)) }))
    }
}

/// The lock's name: jobs' locks apart from the keys transactions take turns on
/// (`Conn::serialize_on`).
fn lock_key(job: &str) -> String {
    format!("job:{job}")
}

impl Drop for JobLock {
    fn drop(&mut self) {
        // The synchronous client must not run on an async worker, where a run ends.
        if let Some((mut conn, key)) = self.held.take() {
            let _ = std::thread::Builder::new().name("db-job-unlock".into()).spawn(move || {
                if let Err(error) = conn.execute("SELECT pg_advisory_unlock(hashtext($1))", &[&key])
                {
                    // The connection is most likely gone, and the lock with it.
                    tracing::warn!(%error, "cannot give a job's turn back");
                }
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    /// Two nodes on one PostgreSQL: while one runs a job the other's turn is refused, and
    /// it is given after the first run ends; another job is not held up.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn one_node_at_a_time_runs_a_job() {
        let Some((node_a, node_b)) = crate::db::conn_tests::two_postgres_nodes().await else {
            return;
        };
        let job = "test_job_locks";
        let turn = node_a.job_turn(job).await.unwrap().expect("the first node's turn");
        assert!(node_b.job_turn(job).await.unwrap().is_none(), "two nodes ran one job at once");
        assert!(node_b.job_turn("test_job_locks_other").await.unwrap().is_some());
        drop(turn);
        let released = Instant::now();
        loop {
            if node_b.job_turn(job).await.unwrap().is_some() {
                break;
            }
            assert!(released.elapsed() < Duration::from_secs(5), "the turn was never given back");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
