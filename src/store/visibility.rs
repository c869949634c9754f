//! Which legal entity may see an entity, as the SQL of a read judges it: one declaration per
//! entity type, from which each backend writes its condition ([`super::postgres::audit`],
//! [`super::sqlite::audit`]). The same rules as the aggregates' `visible_to`, which the
//! single-entity reads apply to the stored state.

/// The legal entities that may see an entity of one type.
pub(crate) struct Visibility {
    /// The aggregate type (`entity_type` of its Event Manager records).
    pub entity_type: &'static str,
    /// Its projection table.
    pub table: &'static str,
    /// Columns each naming a legal entity that sees the row.
    pub owners: &'static [&'static str],
    /// A column listing more legal entities that see the row, and how PostgreSQL stores it.
    pub granted: Option<(&'static str, List)>,
}

/// How a list of legal entities is stored on PostgreSQL (on SQLite both are a JSON array).
pub(crate) enum List {
    /// A `jsonb` array of uuid strings.
    Jsonb,
    /// A `uuid[]`.
    UuidArray,
}

/// A service request: its requester and its user, and those that released it (they keep reading
/// it).
pub(crate) const SERVICE_REQUEST: Visibility = Visibility {
    entity_type: "ServiceRequest",
    table: "service_requests",
    owners: &["requester_legal_entity_id", "used_by_legal_entity_id"],
    granted: Some(("released_by_legal_entity_ids", List::Jsonb)),
};

/// A merge request: the legal entity it was created at.
pub(crate) const MERGE_REQUEST: Visibility = Visibility {
    entity_type: "MergeRequest",
    table: "merge_requests",
    owners: &["legal_entity_id"],
    granted: None,
};

/// A device dispense: the legal entity that performed it.
pub(crate) const DEVICE_DISPENSE: Visibility = Visibility {
    entity_type: "DeviceDispense",
    table: "device_dispenses",
    owners: &["performer_legal_entity_id"],
    granted: None,
};

/// An approval: the legal entity that owns it.
pub(crate) const APPROVAL: Visibility = Visibility {
    entity_type: "Approval",
    table: "approvals",
    owners: &["legal_entity_id"],
    granted: None,
};

/// A care plan activity: the legal entity that manages its care plan, and those that changed it.
pub(crate) const CARE_PLAN_ACTIVITY: Visibility = Visibility {
    entity_type: "CarePlanActivity",
    table: "care_plan_activities",
    owners: &["legal_entity_id"],
    granted: Some(("changed_by_legal_entity_ids", List::UuidArray)),
};

/// Every entity type with Event Manager records, in the order their conditions are written.
pub(crate) const ENTITIES: [&Visibility; 5] = [
    &SERVICE_REQUEST,
    &MERGE_REQUEST,
    &DEVICE_DISPENSE,
    &APPROVAL,
    &CARE_PLAN_ACTIVITY,
];
