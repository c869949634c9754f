//! Black-box tests of the operations commands: `projections rebuild` (also under concurrent
//! writes), `projections verify` (also finding hand-made differences) and `audit verify` (also
//! finding hand-altered events), on a fresh PostgreSQL database per test. The commands run as the
//! real binary, or in-process where the test must run them alongside the service.

#[path = "../support/mod.rs"]
mod support;

mod generate;
mod process;
mod state;

mod audit;
mod feed;
mod rate;
mod rebuild;
mod verify;
