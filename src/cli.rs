//! The command line: `serve`, `migrate`, `import FILE`, `token`, and the operations
//! commands `projections rebuild|verify` and `audit verify` (docs/operations.md).

use std::path::PathBuf;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use tokio::sync::Notify;
use uuid::Uuid;

use crate::auth::TokenKeys;
use crate::commands::CommandBus;
use crate::config::{DatabaseArgs, ServeArgs};
use crate::db::Db;
use crate::store::Store;

#[derive(Debug, Parser)]
#[command(
    name = "ehealth-es",
    version,
    about = "Event-sourced command service for five eHealth (ESOZ) actions"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Apply pending migrations, then serve HTTP until SIGINT/SIGTERM.
    Serve {
        #[command(flatten)]
        db: DatabaseArgs,
        // Boxed: the serve settings are most of the command's size.
        #[command(flatten)]
        serve: Box<ServeArgs>,
    },
    /// Apply pending migrations and exit.
    Migrate {
        #[command(flatten)]
        db: DatabaseArgs,
    },
    /// Load reference data and existing entities from a JSON file (idempotent).
    Import {
        file: PathBuf,
        #[command(flatten)]
        db: DatabaseArgs,
    },
    /// Print a bearer token signed with the configured key.
    Token {
        #[arg(long)]
        user: Uuid,
        #[arg(long)]
        client: Uuid,
        #[arg(long, value_parser = crate::config::non_empty_scope)]
        scope: String,
        #[arg(long, default_value_t = 3600)]
        ttl: i64,
        #[arg(long, env = "EHEALTH_JWT_SECRET", hide_env_values = true, value_parser = crate::config::non_empty_secret)]
        jwt_secret: Option<String>,
        /// Without EHEALTH_JWT_SECRET: the database whose generated key (`jwt.key` beside a SQLite
        /// file) signs the token.
        #[arg(long, env = "DATABASE_URL", default_value = crate::config::EMBEDDED_DATABASE_URL)]
        database_url: String,
    },
    /// Rebuild or verify the projections from the event log (the service may keep running).
    Projections {
        #[command(subcommand)]
        command: ProjectionsCommand,
    },
    /// Check the event log's hash chains.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum ProjectionsCommand {
    /// Rebuild every projection aside from the event log, then swap it in; prints events/s.
    Rebuild {
        #[command(flatten)]
        db: DatabaseArgs,
    },
    /// Rebuild aside and compare with the live tables; exits non-zero on any difference.
    Verify {
        #[command(flatten)]
        db: DatabaseArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Walk every aggregate's hash chain; exits non-zero naming the first event that does not match.
    Verify {
        #[command(flatten)]
        db: DatabaseArgs,
    },
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler can be installed");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

/// The operations of the database of `url` (see [`Db::for_operations`]).
async fn operations(url: &str) -> anyhow::Result<std::sync::Arc<dyn crate::store::Operations>> {
    Ok(Store::new(&Db::for_operations(url).await?).operations)
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve { db, mut serve } => {
            let (secret, first_start) =
                crate::embedded::jwt_secret(&db.database_url, serve.jwt_secret.take(), true)?;
            serve.jwt_secret = Some(secret.clone());
            let database =
                Db::connect_with_deadline(&db.database_url, db.db_pool_size, serve.request_timeout)
                    .await?;
            database.migrate().await?;
            tracing::info!(backend = database.backend(), "database ready");
            if serve.demo {
                let demo: serde_json::Value = serde_json::from_str(crate::embedded::DEMO_DATA)?;
                let bus = Arc::new(CommandBus::new(database.clone(), Arc::new(Notify::new())));
                let report = crate::import::import(&database, &bus, &demo).await?;
                println!(
                    "demo data: {} entities created, {} already present",
                    report.created, report.already_present
                );
            }
            let running = crate::app::start(database, &serve).await?;
            println!("ehealth-es listening on http://{}", running.addr);
            if first_start || serve.demo {
                println!(
                    "{}",
                    crate::embedded::banner(running.addr, &secret, serve.demo)
                );
            }
            shutdown_signal().await;
            tracing::info!("shutting down: finishing in-flight requests");
            running.shutdown.cancel();
            running.handle.await?;
        }
        Command::Migrate { db } => {
            let database = Db::connect(&db.database_url, 2).await?;
            database.migrate().await?;
            println!("migrations applied");
        }
        Command::Import { file, db } => {
            let text = std::fs::read_to_string(&file)
                .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
            let json: serde_json::Value = serde_json::from_str(&text)
                .map_err(|e| anyhow::anyhow!("{} is not valid JSON: {e}", file.display()))?;
            let database = Db::connect(&db.database_url, 4).await?;
            database.migrate().await?;
            let bus = Arc::new(CommandBus::new(database.clone(), Arc::new(Notify::new())));
            let report = crate::import::import(&database, &bus, &json).await?;
            println!(
                "imported: {} reference rows, {} entities created, {} already present",
                report.reference_rows, report.created, report.already_present
            );
        }
        Command::Projections {
            command: ProjectionsCommand::Rebuild { db },
        } => {
            let report = operations(&db.database_url)
                .await?
                .rebuild_projections()
                .await?;
            println!(
                "rebuilt the projections from {} events in {:.2} s ({:.0} events/s); appends were held for {} ms",
                report.events,
                report.elapsed.as_secs_f64(),
                report.events_per_second(),
                report.locked.as_millis()
            );
        }
        Command::Projections {
            command: ProjectionsCommand::Verify { db },
        } => {
            let report = operations(&db.database_url)
                .await?
                .verify_projections()
                .await?;
            for difference in &report.differences {
                println!("{difference}");
            }
            for (table, live, rebuilt) in &report.tables {
                println!("{table}: {live} live rows, {rebuilt} rebuilt rows");
            }
            println!(
                "verified the projections against {} events in {:.2} s: {} difference(s)",
                report.events,
                report.elapsed.as_secs_f64(),
                report.differences.len()
            );
            if !report.differences.is_empty() {
                anyhow::bail!(
                    "the projections differ from the event log in {} row(s)",
                    report.differences.len()
                );
            }
        }
        Command::Audit {
            command: AuditCommand::Verify { db },
        } => {
            let report = operations(&db.database_url).await?.verify_audit().await?;
            for broken in &report.broken {
                println!("{broken}");
            }
            println!(
                "checked {} events in {} chains: {} broken chain(s)",
                report.events,
                report.chains,
                report.broken.len()
            );
            if let Some(first) = report.broken.first() {
                anyhow::bail!(
                    "the event log does not match its hashes from event global_position={} ({}/{} sequence {})",
                    first.global_position,
                    first.aggregate_type,
                    first.aggregate_id,
                    first.sequence
                );
            }
        }
        Command::Token {
            user,
            client,
            scope,
            ttl,
            jwt_secret,
            database_url,
        } => {
            let (secret, _) = crate::embedded::jwt_secret(&database_url, jwt_secret, false)?;
            println!(
                "{}",
                TokenKeys::new(secret.as_bytes()).mint(user, client, &scope, ttl)
            );
        }
    }
    Ok(())
}
