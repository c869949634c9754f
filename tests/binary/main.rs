//! Black-box tests of the real `ehealth-es` binary as a child process: its subcommands, and what
//! survives a crash (SIGKILL) or a graceful stop (SIGTERM), on a fresh PostgreSQL database.

#[path = "../support/mod.rs"]
mod support;

mod process;

mod cli;
mod crash;
mod embedded;
mod import;
mod logs;
mod migrate;
