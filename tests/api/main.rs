//! Black-box tests of the HTTP API on a real PostgreSQL (see tests/support).

#[path = "../support/mod.rs"]
mod support;

mod release;
mod sms_gateway;
