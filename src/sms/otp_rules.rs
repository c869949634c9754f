//! What the dispatcher does differently for an OTP message: its resend's job reflects the SMS.
//!
//! - The job is `processed` (200, `response_data: ""`) only once the gateway accepted the message,
//!   in the transaction that marks it sent.
//! - A message whose code is no longer the approval's current challenge (a newer resend committed
//!   while it waited) is never sent: `superseded`, its job failed 409 [`SUPERSEDED`]. The check
//!   reads the approvals projection, which is written in the resend event's own transaction; a
//!   newer code committed while a send is already in flight cannot stop that send.
//! - A message the gateway kept refusing until `EHEALTH_OTP_SEND_TIMEOUT` after it was queued is
//!   given up (`given_up`, never sent later), its job failed 500 [`SEND_FAILED`], as eHealth's
//!   resend answers when the OTP service cannot initialise. Retries are capped at that deadline;
//!   an attempt started before it may still succeed (within the gateway's own timeout).
//!
//! The recall SMS has no job and none of these rules: it is retried until delivered.

use serde_json::{json, Value};

use crate::store::JobEnd;

/// `sms_outbox.kind` (and template) of a resent code.
pub const OTP_KIND: &str = "otp";

/// eHealth's message when the OTP service could not send the code.
pub const SEND_FAILED: &str = "Failed to initialize otp verification";

/// Ours, for a code that a newer resend of the same approval replaced before it was sent.
pub const SUPERSEDED: &str = "The code was not sent: a newer code was issued for this approval";

/// What becomes of a due message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Send,
    /// A newer code exists: never sent.
    Superseded,
    /// Past the send deadline: never sent.
    GiveUp,
}

/// The verdict on a due message of `kind` with `params`: `current_salt` is the approval's current
/// challenge (for OTP messages), `overdue` whether the send deadline has passed.
pub fn verdict(kind: &str, params: &Value, current_salt: Option<&str>, overdue: bool) -> Verdict {
    if kind != OTP_KIND {
        return Verdict::Send;
    }
    let salt = params.get("salt").and_then(Value::as_str);
    if salt.is_none() || salt != current_salt {
        Verdict::Superseded
    } else if overdue {
        Verdict::GiveUp
    } else {
        Verdict::Send
    }
}

impl Verdict {
    /// How the job of a message that is not sent ends (`Send` ends nothing yet).
    pub fn job_end(self) -> Option<JobEnd> {
        match self {
            Verdict::Send => None,
            Verdict::Superseded => Some(JobEnd::Failed {
                status_code: 409,
                error: json!({ "type": "request_conflict", "message": SUPERSEDED }),
            }),
            Verdict::GiveUp => Some(JobEnd::Failed {
                status_code: 500,
                error: json!({ "type": "internal_error", "message": SEND_FAILED }),
            }),
        }
    }

    /// The final status of a message that is not sent.
    pub fn sms_status(self) -> &'static str {
        match self {
            Verdict::Send => "pending",
            Verdict::Superseded => "superseded",
            Verdict::GiveUp => "given_up",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(salt: &str) -> Value {
        json!({ "approval_id": "a", "salt": salt })
    }

    #[test]
    fn a_recall_sms_is_always_sent() {
        let v = verdict("service_request_recalled", &json!({}), None, true);
        assert_eq!(v, Verdict::Send);
    }

    #[test]
    fn a_code_that_is_still_the_current_challenge_is_sent_until_the_deadline() {
        assert_eq!(
            verdict(OTP_KIND, &params("s1"), Some("s1"), false),
            Verdict::Send
        );
        assert_eq!(
            verdict(OTP_KIND, &params("s1"), Some("s1"), true),
            Verdict::GiveUp
        );
    }

    #[test]
    fn a_code_replaced_by_a_newer_one_is_superseded_even_past_the_deadline() {
        for overdue in [false, true] {
            assert_eq!(
                verdict(OTP_KIND, &params("s1"), Some("s2"), overdue),
                Verdict::Superseded
            );
        }
        assert_eq!(
            verdict(OTP_KIND, &params("s1"), None, false),
            Verdict::Superseded
        );
        assert_eq!(
            verdict(OTP_KIND, &json!({}), None, false),
            Verdict::Superseded
        );
    }

    #[test]
    fn jobs_of_unsent_codes_fail_with_stable_errors() {
        let Some(JobEnd::Failed { status_code, error }) = Verdict::GiveUp.job_end() else {
            panic!("a given-up code fails its job");
        };
        assert_eq!(status_code, 500);
        assert_eq!(
            error,
            json!({ "type": "internal_error", "message": "Failed to initialize otp verification" })
        );
        let Some(JobEnd::Failed { status_code, error }) = Verdict::Superseded.job_end() else {
            panic!("a superseded code fails its job");
        };
        assert_eq!(status_code, 409);
        assert_eq!(error["type"], "request_conflict");
        assert_eq!(error["message"], SUPERSEDED);
        assert!(Verdict::Send.job_end().is_none());
    }
}
