//! Who may see an entity. Each kind of entity names, in some of its fields, the legal entities
//! that may read it, its history, its past states and its Event Manager records: its *holders*.
//! A legal entity sees an entity when any holder names it; nobody else does.
//!
//! The rule of each kind is data ([`Visibility`]), so that the read side derives its SQL
//! conditions from the same declaration (`ehealth_projections::visibility`) that decides here, in
//! [`Visibility::admits`], for an entity's facts. A holder is named as the read model's column
//! that holds it.

use uuid::Uuid;

use crate::approval::ApprovalRecord;
use crate::care_plan_activity::CarePlanActivityRecord;
use crate::device_dispense::DeviceDispenseRecord;
use crate::merge_request::MergeRequestRecord;
use crate::service_request::ServiceRequestRecord;

/// A field of an entity that names legal entities that may see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holder {
    /// One legal entity, or none.
    One(&'static str),
    /// Any number of legal entities.
    Each(&'static str),
}

impl Holder {
    pub fn name(self) -> &'static str {
        match self {
            Holder::One(name) | Holder::Each(name) => name,
        }
    }
}

/// The visibility rule of one kind of entity.
#[derive(Debug, PartialEq, Eq)]
pub struct Visibility {
    /// The aggregate type, as the event log and the Event Manager name it.
    pub entity_type: &'static str,
    /// A legal entity named by any of them sees the entity.
    pub holders: &'static [Holder],
}

/// A service request: its requester's and its user's legal entities, and every legal entity
/// that released it (they changed it, so they keep reading it after their reservation is gone).
pub const SERVICE_REQUEST: Visibility = Visibility {
    entity_type: "ServiceRequest",
    holders: &[
        Holder::One("requester_legal_entity_id"),
        Holder::One("used_by_legal_entity_id"),
        Holder::Each("released_by_legal_entity_ids"),
    ],
};

/// A merge request: the legal entity where it was created.
pub const MERGE_REQUEST: Visibility = Visibility {
    entity_type: "MergeRequest",
    holders: &[Holder::One("legal_entity_id")],
};

/// A device dispense: the legal entity that performed it.
pub const DEVICE_DISPENSE: Visibility = Visibility {
    entity_type: "DeviceDispense",
    holders: &[Holder::One("performer_legal_entity_id")],
};

/// An approval: the legal entity of the employee it grants access to.
pub const APPROVAL: Visibility = Visibility {
    entity_type: "Approval",
    holders: &[Holder::One("legal_entity_id")],
};

/// A care plan activity: its care plan's managing legal entity, and every legal entity on whose
/// behalf it was changed (a recall that gave its quantity back).
pub const CARE_PLAN_ACTIVITY: Visibility = Visibility {
    entity_type: "CarePlanActivity",
    holders: &[
        Holder::One("legal_entity_id"),
        Holder::Each("changed_by_legal_entity_ids"),
    ],
};

/// Every rule, in the order the Event Manager lists entity types.
pub const ALL: [&Visibility; 5] = [
    &SERVICE_REQUEST,
    &MERGE_REQUEST,
    &DEVICE_DISPENSE,
    &APPROVAL,
    &CARE_PLAN_ACTIVITY,
];

/// The legal entities one entity names, holder by holder.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Facts {
    named: Vec<(&'static str, Vec<Uuid>)>,
}

impl Facts {
    pub fn new() -> Self {
        Self::default()
    }

    /// `holder` names `id` (nobody when `None`).
    pub fn one(mut self, holder: &'static str, id: Option<Uuid>) -> Self {
        self.named.push((holder, id.into_iter().collect()));
        self
    }

    /// `holder` names each of `ids`.
    pub fn each(mut self, holder: &'static str, ids: &[Uuid]) -> Self {
        self.named.push((holder, ids.to_vec()));
        self
    }

    /// The legal entities `holder` names (none when the facts do not mention it).
    pub fn named(&self, holder: &str) -> &[Uuid] {
        self.named
            .iter()
            .find(|(name, _)| *name == holder)
            .map_or(&[], |(_, ids)| ids.as_slice())
    }

    /// The holders the facts mention, in the order they were given.
    pub fn holders(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.named.iter().map(|(name, _)| *name)
    }
}

impl Visibility {
    /// Whether `legal_entity` may see an entity with these facts.
    pub fn admits(&self, facts: &Facts, legal_entity: Uuid) -> bool {
        self.holders
            .iter()
            .any(|holder| facts.named(holder.name()).contains(&legal_entity))
    }

    /// The rule of the aggregate type `entity_type`.
    pub fn of(entity_type: &str) -> Option<&'static Visibility> {
        ALL.into_iter().find(|rule| rule.entity_type == entity_type)
    }
}

/// An entity record with a visibility rule.
pub trait Visible {
    const VISIBILITY: &'static Visibility;

    /// The legal entities this entity names in each holder of its rule.
    fn facts(&self) -> Facts;

    /// Whether `legal_entity` may see this entity.
    fn seen_by(&self, legal_entity: Uuid) -> bool {
        Self::VISIBILITY.admits(&self.facts(), legal_entity)
    }
}

impl Visible for ServiceRequestRecord {
    const VISIBILITY: &'static Visibility = &SERVICE_REQUEST;
    fn facts(&self) -> Facts {
        Facts::new()
            .one("requester_legal_entity_id", self.requester_legal_entity)
            .one("used_by_legal_entity_id", self.used_by_legal_entity)
            .each("released_by_legal_entity_ids", &self.released_by)
    }
}

impl Visible for MergeRequestRecord {
    const VISIBILITY: &'static Visibility = &MERGE_REQUEST;
    fn facts(&self) -> Facts {
        Facts::new().one("legal_entity_id", Some(self.legal_entity_id))
    }
}

impl Visible for DeviceDispenseRecord {
    const VISIBILITY: &'static Visibility = &DEVICE_DISPENSE;
    fn facts(&self) -> Facts {
        Facts::new().one(
            "performer_legal_entity_id",
            Some(self.performer_legal_entity),
        )
    }
}

impl Visible for ApprovalRecord {
    const VISIBILITY: &'static Visibility = &APPROVAL;
    fn facts(&self) -> Facts {
        Facts::new().one("legal_entity_id", self.legal_entity_id)
    }
}

impl Visible for CarePlanActivityRecord {
    const VISIBILITY: &'static Visibility = &CARE_PLAN_ACTIVITY;
    fn facts(&self) -> Facts {
        Facts::new()
            .one("legal_entity_id", Some(self.legal_entity_id))
            .each(
                "changed_by_legal_entity_ids",
                &self.changed_by_legal_entities,
            )
    }
}

#[cfg(test)]
mod tests {
    use serde::de::DeserializeOwned;
    use serde_json::{json, Value};

    use super::*;

    const ME: Uuid = Uuid::from_u128(0x1e00_0000_0000_4000_8000_0000_0000_0001);
    const OTHER: Uuid = Uuid::from_u128(0x1e00_0000_0000_4000_8000_0000_0000_0002);
    const THIRD: Uuid = Uuid::from_u128(0x1e00_0000_0000_4000_8000_0000_0000_0003);

    fn record<R: DeserializeOwned>(fields: Value) -> R {
        let mut base = json!({
            "id": Uuid::from_u128(1), "patient_id": Uuid::from_u128(2),
            "care_plan_id": Uuid::from_u128(3), "master_person_id": Uuid::from_u128(4),
            "merge_person_id": Uuid::from_u128(5), "inserted_by": Uuid::from_u128(6),
            "updated_by": Uuid::from_u128(6), "legal_entity_id": OTHER,
            "performer_legal_entity": OTHER, "status_history": [], "signed_content_links": [],
            "inserted_at": "2024-01-01T00:00:00Z", "updated_at": "2024-01-01T00:00:00Z",
            "other": {},
        });
        for (key, value) in fields.as_object().unwrap() {
            base[key] = value.clone();
        }
        serde_json::from_value(base).unwrap()
    }

    fn service_request(mut fields: Value) -> ServiceRequestRecord {
        fields["status"] = json!("active");
        record(fields)
    }

    #[test]
    fn a_legal_entity_named_by_any_holder_sees_the_entity_and_nobody_else_does() {
        // Given a rule of two holders,
        let rule = Visibility {
            entity_type: "X",
            holders: &[Holder::One("a"), Holder::Each("b")],
        };
        // when the facts name one legal entity in each,
        let facts = Facts::new().one("a", Some(ME)).each("b", &[OTHER]);
        // then both see it, and a third does not.
        assert!(rule.admits(&facts, ME));
        assert!(rule.admits(&facts, OTHER));
        assert!(!rule.admits(&facts, THIRD));
    }

    #[test]
    fn a_holder_that_names_nobody_grants_nothing() {
        let facts = Facts::new()
            .one("requester_legal_entity_id", None)
            .one("used_by_legal_entity_id", None)
            .each("released_by_legal_entity_ids", &[]);
        assert!(!SERVICE_REQUEST.admits(&facts, ME));
        assert!(!SERVICE_REQUEST.admits(&facts, Uuid::nil()));
    }

    #[test]
    fn facts_a_rule_does_not_declare_grant_nothing() {
        let facts = Facts::new().one("inserted_by", Some(ME));
        assert!(ALL.iter().all(|rule| !rule.admits(&facts, ME)));
    }

    #[test]
    fn each_service_request_holder_grants_sight_on_its_own() {
        for fields in [
            json!({ "requester_legal_entity": ME }),
            json!({ "used_by_legal_entity": ME }),
            json!({ "released_by": [OTHER, ME] }),
        ] {
            let sr = service_request(fields.clone());
            assert!(sr.seen_by(ME), "{fields}");
            assert!(!sr.seen_by(THIRD), "{fields}");
            assert_eq!(sr.seen_by(ME), sr.visible_to(ME));
        }
        let nobody = service_request(json!({}));
        assert!(!nobody.seen_by(ME) && !nobody.visible_to(ME));
    }

    #[test]
    fn merge_requests_dispenses_and_approvals_are_seen_by_their_one_legal_entity() {
        let mr: MergeRequestRecord = record(json!({ "status": "NEW", "legal_entity_id": ME }));
        let dd: DeviceDispenseRecord = record(json!({
            "status": "in_progress", "performer_legal_entity": ME, "performer": null,
            "inserted_by": null, "updated_by": null,
        }));
        let approval: ApprovalRecord = record(json!({
            "status": "active", "legal_entity_id": ME, "reason_service_request": null,
            "granted_to": null, "authorize_with": null, "inserted_by": null, "updated_by": null,
            "otp": null,
        }));
        assert!(mr.seen_by(ME) && !mr.seen_by(OTHER));
        assert!(dd.seen_by(ME) && !dd.seen_by(OTHER));
        assert!(approval.seen_by(ME) && !approval.seen_by(OTHER));
        assert_eq!(approval.seen_by(OTHER), approval.visible_to(OTHER));
        let unowned: ApprovalRecord = record(json!({
            "status": "active", "legal_entity_id": null, "reason_service_request": null,
            "granted_to": null, "authorize_with": null, "inserted_by": null, "updated_by": null,
            "otp": null,
        }));
        assert!(!unowned.seen_by(ME) && !unowned.visible_to(ME));
    }

    #[test]
    fn a_care_plan_activity_is_seen_by_its_manager_and_by_who_changed_it() {
        let activity: CarePlanActivityRecord = record(json!({
            "status": "scheduled", "legal_entity_id": OTHER, "quantity": null,
            "remaining_quantity": null, "inserted_by": null, "updated_by": null,
            "changed_by_legal_entities": [ME],
        }));
        for (legal_entity, sees) in [(OTHER, true), (ME, true), (THIRD, false)] {
            assert_eq!(activity.seen_by(legal_entity), sees);
            assert_eq!(activity.visible_to(legal_entity), sees);
        }
    }

    #[test]
    fn every_record_states_exactly_the_holders_of_its_rule() {
        fn holders<R: Visible>(record: &R) {
            let stated: Vec<&str> = record.facts().holders().collect();
            let declared: Vec<&str> = R::VISIBILITY.holders.iter().map(|h| h.name()).collect();
            assert_eq!(stated, declared, "{}", R::VISIBILITY.entity_type);
        }
        holders(&service_request(json!({})));
        holders(&record::<MergeRequestRecord>(json!({ "status": "NEW" })));
        holders(&record::<DeviceDispenseRecord>(json!({
            "status": "in_progress", "performer": null, "inserted_by": null, "updated_by": null,
        })));
        holders(&record::<ApprovalRecord>(json!({
            "status": "new", "reason_service_request": null, "granted_to": null,
            "authorize_with": null, "inserted_by": null, "updated_by": null, "otp": null,
        })));
        holders(&record::<CarePlanActivityRecord>(json!({
            "status": "scheduled", "quantity": null, "remaining_quantity": null,
            "inserted_by": null, "updated_by": null,
        })));
    }

    #[test]
    fn every_entity_type_has_one_rule() {
        for rule in ALL {
            assert_eq!(Visibility::of(rule.entity_type), Some(rule));
        }
        assert_eq!(Visibility::of("Person"), None);
    }
}
