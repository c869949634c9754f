//! Where the database time of a service point went: `pg_stat_statements`, reset before the point
//! and read right after it, per statement and per action (`--statements N`): how many statements
//! (round trips) an action costs, and which take the database's time. Planning time is shown
//! where `pg_stat_statements.track_planning` is on (scripts/bench.sh's server has it): a
//! statement planned anew at every execution shows there.

use sqlx::PgConnection;

pub async fn reset(conn: &mut PgConnection) {
    let _ = sqlx::query("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        .execute(&mut *conn)
        .await;
    if let Err(e) = sqlx::query("SELECT pg_stat_statements_reset()")
        .execute(&mut *conn)
        .await
    {
        eprintln!("  pg_stat_statements is not available ({e}); no statement profile");
    }
}

pub async fn print(conn: &mut PgConnection, clients: usize, top: usize, actions: usize) {
    let rows: Vec<(i64, f64, f64, i64, String)> = match sqlx::query_as(
        "SELECT calls, total_exec_time, total_plan_time, rows, regexp_replace(query, '\\s+', ' ', 'g') \
         FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) \
         ORDER BY total_exec_time + total_plan_time DESC",
    )
    .fetch_all(&mut *conn)
    .await
    {
        Ok(rows) => rows,
        Err(_) => return,
    };
    let calls: i64 = rows.iter().map(|r| r.0).sum();
    let ms: f64 = rows.iter().map(|r| r.1).sum();
    let planning: f64 = rows.iter().map(|r| r.2).sum();
    let per = actions.max(1) as f64;
    eprintln!(
        "  c={clients}: {calls} statements ({:.1} per action), {ms:.0} ms of execution ({:.3} ms per action), {planning:.0} ms of planning ({:.3} ms per action)",
        calls as f64 / per,
        ms / per,
        planning / per
    );
    eprintln!("  calls/action | exec ms | plan ms | rows/call | statement");
    for (calls, total, plan, rows, query) in rows.iter().take(top) {
        let text: String = query.chars().take(110).collect();
        eprintln!(
            "  {:>12.2} | {:>7.0} | {:>7.0} | {:>9.1} | {text}",
            *calls as f64 / per,
            total,
            plan,
            *rows as f64 / (*calls).max(1) as f64
        );
    }
}
