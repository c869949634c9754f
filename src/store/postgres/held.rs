//! The connection a group writer or reader keeps for itself.
//!
//! Kept: sqlx tests a connection with a round trip each time one returns to the pool, which per
//! group was as costly as the statement. Given back after a failure, so the next statement starts
//! on another. Closed at once when a statement outlives its deadline: on a link that stopped
//! carrying anything (a half-open link, a paused VM) the connection may never answer again, and a
//! closed socket is the only reset there is.

use std::time::Duration;

use sqlx::pool::PoolConnection;
use sqlx::{PgConnection, PgPool, Postgres};

pub(crate) struct Held {
    pool: PgPool,
    /// How long one statement (or the wait for a connection) may take.
    pub deadline: Duration,
    conn: Option<PoolConnection<Postgres>>,
}

impl Held {
    pub fn new(pool: PgPool, deadline: Duration) -> Self {
        Self {
            pool,
            deadline,
            conn: None,
        }
    }

    /// The pool the connection comes from.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// The kept connection, acquired first (within the deadline) if there is none.
    pub async fn conn(&mut self) -> Result<&mut PgConnection, sqlx::Error> {
        if self.conn.is_none() {
            let acquired = tokio::time::timeout(self.deadline, self.pool.acquire())
                .await
                .map_err(|_| sqlx::Error::PoolTimedOut)??;
            self.conn = Some(acquired);
        }
        match self.conn.as_mut() {
            Some(conn) => Ok(&mut **conn),
            None => Err(sqlx::Error::PoolTimedOut),
        }
    }

    /// After a failed statement: the connection goes back to the pool, which tests it.
    pub fn failed(&mut self) {
        self.conn = None;
    }

    /// After a statement outlived its deadline: the connection is closed, never pooled again.
    pub fn abandon(&mut self) {
        if let Some(conn) = self.conn.take() {
            drop(conn.detach());
        }
    }
}
