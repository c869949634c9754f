//! Before the timed points: the run's database with the data set imported (or copied from a
//! template database that holds it), and the recalls signed through the running service.

use std::path::Path;
use std::time::Instant;

use serde_json::{json, Value};
use sqlx::postgres::PgPoolOptions;
use sqlx::{Connection, PgConnection, PgPool};

use crate::dataset::{self, Sizes};

/// The run's database, ready for the service.
pub struct Prepared {
    pub url: String,
    pub pool: PgPool,
    /// How the data set got there, for the report.
    pub origin: String,
}

pub fn database_url(admin: &str, db: &str) -> String {
    match admin.rsplit_once('/') {
        Some((base, _)) => format!("{base}/{db}"),
        None => format!("{admin}/{db}"),
    }
}

/// A database name as an SQL identifier.
pub fn quote_db(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

pub async fn connect(url: &str, size: u32) -> anyhow::Result<PgPool> {
    Ok(PgPoolOptions::new()
        .max_connections(size)
        .connect(url)
        .await?)
}

fn sizes_json(sizes: Sizes) -> Value {
    json!({
        "per_action": sizes.per_action, "recalls": sizes.recalls, "approvals": sizes.approvals,
        "violations": sizes.violations, "pool": sizes.pool
    })
}

async fn exists(admin: &mut PgConnection, db: &str) -> anyhow::Result<bool> {
    Ok(
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(db)
            .fetch_one(admin)
            .await?,
    )
}

/// Creates `db` and imports the data set into it through `ehealth-es import` (which applies the
/// migrations first), then vacuums it: the import wrote every table at once, and autovacuum's
/// passes over them would otherwise run during the first points. Returns a line for the report.
async fn import_into(
    binary: &Path,
    admin_url: &str,
    admin: &mut PgConnection,
    db: &str,
    sizes: Sizes,
    parallel: usize,
    work: &Path,
) -> anyhow::Result<String> {
    sqlx::query(&format!("CREATE DATABASE {}", quote_db(db)))
        .execute(&mut *admin)
        .await?;
    let url = database_url(admin_url, db);
    eprintln!(
        "importing the data set ({} one-shot entities per action, {} service requests in the release pool)…",
        sizes.per_action, sizes.pool
    );
    let t = Instant::now();
    let created = dataset::import(binary, &url, work, sizes, parallel).await?;
    let secs = t.elapsed().as_secs_f64();
    eprintln!("imported {created} entities in {secs:.1} s");
    let mut conn = PgConnection::connect(&url).await?;
    let t = Instant::now();
    sqlx::query("VACUUM (ANALYZE)").execute(&mut conn).await?;
    eprintln!("vacuumed in {:.1} s", t.elapsed().as_secs_f64());
    sqlx::query("CREATE TABLE bench_dataset (sizes jsonb NOT NULL)")
        .execute(&mut conn)
        .await?;
    sqlx::query("INSERT INTO bench_dataset VALUES ($1)")
        .bind(sizes_json(sizes))
        .execute(&mut conn)
        .await?;
    conn.close().await?;
    Ok(format!(
        "{created} entities imported by `ehealth-es import` ({parallel} processes) in {secs:.0} s ({:.0}/s)",
        created as f64 / secs.max(1e-9)
    ))
}

/// The run's database `db` with the data set in it: imported, or with `template`, copied from
/// that database (imported into it first when it does not exist yet).
pub async fn database(
    binary: &Path,
    admin_url: &str,
    db: &str,
    template: Option<&str>,
    sizes: Sizes,
    parallel: usize,
    work: &Path,
) -> anyhow::Result<Prepared> {
    let mut admin = PgConnection::connect(admin_url).await?;
    let origin = match template {
        None => import_into(binary, admin_url, &mut admin, db, sizes, parallel, work).await?,
        Some(template) => {
            let origin = if exists(&mut admin, template).await? {
                let mut conn = PgConnection::connect(&database_url(admin_url, template)).await?;
                let held: Option<Value> = sqlx::query_scalar("SELECT sizes FROM bench_dataset")
                    .fetch_optional(&mut conn)
                    .await
                    .ok()
                    .flatten();
                conn.close().await?;
                anyhow::ensure!(
                    held.as_ref() == Some(&sizes_json(sizes)),
                    "the template database {template} holds another data set ({held:?}): drop it or name another"
                );
                format!("copied from the template database {template}")
            } else {
                let line = import_into(
                    binary, admin_url, &mut admin, template, sizes, parallel, work,
                )
                .await?;
                format!("{line}, into the template database {template}, then copied")
            };
            // FILE_COPY copies the files (after a checkpoint) instead of writing the whole
            // database into the WAL.
            sqlx::query(&format!(
                "CREATE DATABASE {} TEMPLATE {} STRATEGY FILE_COPY",
                quote_db(db),
                quote_db(template)
            ))
            .execute(&mut admin)
            .await?;
            origin
        }
    };
    let url = database_url(admin_url, db);
    let pool = connect(&url, 16).await?;
    Ok(Prepared { url, pool, origin })
}
