//! Black-box fault tests that run in CI: the ordered feed under out-of-order commits (two
//! transactions opened by hand), N concurrent conflicting actions on one entity, and bad input of
//! every kind — each refused with a clear 4xx in eHealth's envelope, never a 5xx or a panic.
//!
//! The process-level faults (SIGKILL, a PostgreSQL restart, two instances) need a server of their
//! own and live in `ehealth-faults` (`scripts/faults.sh`).

#[path = "../support/mod.rs"]
mod support;

mod bad_input;
mod concurrency;
mod feed;
mod http;
mod link;
mod outage;
