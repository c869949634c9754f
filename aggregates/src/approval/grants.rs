//! What an approval grants: the care plans it lets its employee write. Recall accepts a user who
//! is not the service request's requester when the service request is based on a care plan and
//! one of the user's employees holds such an approval.

use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

use super::{ApprovalRecord, ApprovalStatus};
use crate::ids::CarePlanId;

impl ApprovalRecord {
    /// The care plans this approval lets its `granted_to` employee write at `at`: it is `active`,
    /// its `access_level` is `write`, it has not expired, and each care plan is one of its
    /// `granted_resources` (references whose code is `care_plan`).
    pub fn writable_care_plans(&self, at: DateTime<Utc>) -> Vec<CarePlanId> {
        let writes = self.other.get("access_level").and_then(Value::as_str) == Some("write");
        if self.status != ApprovalStatus::Active || !writes || self.expired(at) {
            return Vec::new();
        }
        let Some(resources) = self
            .other
            .get("granted_resources")
            .and_then(Value::as_array)
        else {
            return Vec::new();
        };
        resources
            .iter()
            .filter(|r| {
                r.pointer("/identifier/type/coding")
                    .and_then(Value::as_array)
                    .is_some_and(|codings| {
                        codings
                            .iter()
                            .any(|c| c.get("code").and_then(Value::as_str) == Some("care_plan"))
                    })
            })
            .filter_map(|r| r.pointer("/identifier/value").and_then(Value::as_str))
            .filter_map(|v| Uuid::parse_str(v).ok())
            .map(CarePlanId::new)
            .collect()
    }

    /// `expires_at` has passed: eHealth gives it as Unix seconds (the API) or an RFC 3339 instant.
    fn expired(&self, at: DateTime<Utc>) -> bool {
        match self.other.get("expires_at") {
            Some(Value::Number(n)) => n.as_i64().is_some_and(|secs| secs <= at.timestamp()),
            Some(Value::String(s)) => {
                DateTime::parse_from_rfc3339(s).is_ok_and(|t| t.with_timezone(&Utc) <= at)
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use serde_json::{json, Map};

    use super::*;

    const PLAN: Uuid = Uuid::from_u128(0xca);

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 6, 10, 0, 0).unwrap()
    }

    fn approval(status: ApprovalStatus, other: Value) -> ApprovalRecord {
        let other: Map<String, Value> = other.as_object().cloned().unwrap_or_default();
        ApprovalRecord {
            id: Uuid::from_u128(1),
            patient_id: Uuid::from_u128(2),
            status,
            reason_service_request: None,
            granted_to: Some(Uuid::from_u128(3)),
            legal_entity_id: Some(Uuid::from_u128(4)),
            authorize_with: None,
            inserted_at: now(),
            inserted_by: None,
            updated_at: now(),
            updated_by: None,
            otp: None,
            other,
        }
    }

    fn granting(code: &str, access: &str, expires_at: Value) -> Value {
        json!({
            "access_level": access,
            "expires_at": expires_at,
            "granted_resources": [
                { "identifier": { "type": { "coding": [ { "system": "eHealth/resources", "code": code } ] }, "value": PLAN.to_string() } }
            ]
        })
    }

    #[test]
    fn given_an_active_write_approval_on_a_care_plan_when_asked_then_it_grants_that_plan() {
        let a = approval(
            ApprovalStatus::Active,
            granting("care_plan", "write", json!(1_900_000_000)),
        );
        assert_eq!(a.writable_care_plans(now()), vec![CarePlanId::new(PLAN)]);
        let a = approval(
            ApprovalStatus::Active,
            granting("care_plan", "write", json!("2030-01-01T00:00:00Z")),
        );
        assert_eq!(a.writable_care_plans(now()), vec![CarePlanId::new(PLAN)]);
    }

    #[test]
    fn given_a_read_a_new_an_expired_or_another_resources_approval_when_asked_then_it_grants_nothing(
    ) {
        let cases = [
            (
                "read",
                ApprovalStatus::Active,
                "care_plan",
                "read",
                1_900_000_000,
            ),
            (
                "new",
                ApprovalStatus::New,
                "care_plan",
                "write",
                1_900_000_000,
            ),
            (
                "expired",
                ApprovalStatus::Active,
                "care_plan",
                "write",
                1_700_000_000,
            ),
            (
                "on an episode of care",
                ApprovalStatus::Active,
                "episode_of_care",
                "write",
                1_900_000_000,
            ),
        ];
        for (case, status, code, access, expires_at) in cases {
            let a = approval(status, granting(code, access, json!(expires_at)));
            assert!(a.writable_care_plans(now()).is_empty(), "{case} approval");
        }
    }
}
