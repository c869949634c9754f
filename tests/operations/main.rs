//! Black-box tests of the operations commands: `projections rebuild` (also under concurrent
//! writes), `projections verify` (also finding hand-made differences) and `audit verify` (also
//! finding hand-altered events), on a fresh database per test of the backend under test
//! (PostgreSQL, or a SQLite file of its own with `EHEALTH_TEST_BACKEND=sqlite`). The commands run
//! as the real binary, or in-process where the test must run them alongside the service.

#[path = "../support/mod.rs"]
mod support;

mod generate;
mod process;
mod state;
mod upgrade;

mod audit;
mod care_plan;
mod feed;
mod rate;
mod rebuild;
mod rebuild_beside;
mod schema;
mod verify;
