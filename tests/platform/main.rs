//! Black-box tests of cross-cutting behaviour, in process on a real PostgreSQL: authentication and
//! scopes, tenancy, the response envelope, jobs, idempotency, concurrency, the ordered feed and the
//! HTTP SMS gateway, and the OpenAPI document.

#[path = "../support/mod.rs"]
mod support;

mod harness;

mod auth;
mod concurrency;
mod envelope;
mod feed;
mod idempotency;
mod instances;
mod jobs;
mod openapi;
mod operations;
mod otp_delivery;
mod otp_limit;
mod reference_cache;
mod rules_index;
mod sms_gateway;
mod tenancy;
