//! Black-box tests of four actions (see tests/support): Release service request (async), Reject
//! merge request (sync), Stop device dispense (async) and Resend SMS on approval (async, with an
//! OTP SMS). Recall has its own binary (tests/recall).

#[path = "../support/mod.rs"]
mod support;

mod dedup;
mod reject;
mod release;
mod resend;
mod resend_method;
mod resend_ownership;
mod stop;
