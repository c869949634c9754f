//! The fixture world every black-box test starts from: legal entities, people, and entities in
//! every state the specs' checks need. Ids are fixed (each test has its own database).

use serde_json::{json, Value};
use uuid::Uuid;

use super::TestApp;

const fn id(n: u128) -> Uuid {
    Uuid::from_u128(0x0000_0000_0000_4000_8000_0000_0000_0000 | n)
}

// Legal entities.
/// OUTPATIENT, ACTIVE, NHS-verified: where the test users work.
pub const LE_MAIN: Uuid = id(0x1001);
/// Another tenant, also OUTPATIENT and ACTIVE.
pub const LE_OTHER: Uuid = id(0x1002);
pub const LE_CLOSED: Uuid = id(0x1003);
/// Type PHARMACY: not in `me_allowed_transactions_le_types`.
pub const LE_PHARMACY: Uuid = id(0x1004);
pub const LE_UNVERIFIED: Uuid = id(0x1005);
/// PRIMARY_CARE: allowed for service requests, not for merge requests.
pub const LE_PRIMARY: Uuid = id(0x1006);
/// Not in the registry at all.
pub const LE_UNKNOWN: Uuid = id(0x1007);

// Users (token `sub`), each with one employee.
pub const DOCTOR_TAX_ID: &str = "1234567890";
pub const U_DOCTOR: Uuid = id(0x2001);
pub const E_DOCTOR: Uuid = id(0x3001);
pub const U_SPECIALIST: Uuid = id(0x2002);
pub const E_SPECIALIST: Uuid = id(0x3002);
pub const U_RECEPTIONIST: Uuid = id(0x2003);
pub const E_RECEPTIONIST: Uuid = id(0x3003);
/// A doctor of LE_OTHER.
pub const U_OTHER: Uuid = id(0x2004);
pub const E_OTHER: Uuid = id(0x3004);
/// A doctor whose tax id is a passport number written in Cyrillic (КА123456).
pub const U_PASSPORT: Uuid = id(0x2005);
pub const E_PASSPORT: Uuid = id(0x3005);
/// A dismissed doctor of LE_MAIN.
pub const U_DISMISSED: Uuid = id(0x2006);
pub const E_DISMISSED: Uuid = id(0x3006);
pub const DISMISSED_TAX_ID: &str = "6666666666";
/// A doctor of LE_MAIN whose party was refused verification (`NOT_VERIFIED`).
pub const U_UNVERIFIED_PARTY: Uuid = id(0x2007);
pub const E_UNVERIFIED_PARTY: Uuid = id(0x3007);
/// A doctor of LE_MAIN whose party has died.
pub const U_DECEASED_PARTY: Uuid = id(0x2008);
pub const E_DECEASED_PARTY: Uuid = id(0x3008);
/// A doctor of LE_MAIN whose party's verification is pending (`VERIFICATION_NEEDED`).
pub const U_PENDING_PARTY: Uuid = id(0x2009);
pub const E_PENDING_PARTY: Uuid = id(0x3009);

// Persons (patients).
pub const PHONE_OTP: &str = "+380931234585";
pub const PHONE_CONFIDANT: &str = "+380671112233";
pub const P_OTP: Uuid = id(0x4001);
pub const P_OFFLINE: Uuid = id(0x4002);
/// Authorizes through a THIRD_PERSON (P_CONFIDANT) whose own method is OTP.
pub const P_THIRD: Uuid = id(0x4003);
pub const P_CONFIDANT: Uuid = id(0x4004);
/// Authorizes through a THIRD_PERSON (P_OFFLINE) whose own method is OFFLINE.
pub const P_THIRD_OFFLINE: Uuid = id(0x4005);
pub const P_INACTIVE: Uuid = id(0x4006);
/// Not in the registry.
pub const P_UNKNOWN: Uuid = id(0x4007);

// Service requests (patient P_OTP, requested by E_DOCTOR of LE_MAIN unless said otherwise).
/// active, in_queue, used by E_DOCTOR / LE_MAIN: releasable.
pub const SR_QUEUED: Uuid = id(0x5001);
/// active, program_processing_status new.
pub const SR_PPS_NEW: Uuid = id(0x5002);
/// recalled (and in_queue).
pub const SR_RECALLED: Uuid = id(0x5003);
/// active, in_queue, used by LE_OTHER.
pub const SR_USED_BY_OTHER: Uuid = id(0x5004);
/// active, no program: recallable; approvals AP_SR_1..3 were made for it.
pub const SR_ACTIVE: Uuid = id(0x5005);
/// active, requested by E_PASSPORT.
pub const SR_PASSPORT: Uuid = id(0x5006);
pub const SR_COMPLETED: Uuid = id(0x5007);
/// Requested by LE_OTHER and not used: invisible to LE_MAIN.
pub const SR_OTHER_LE: Uuid = id(0x5008);
/// Requested by LE_OTHER (E_OTHER), used by LE_MAIN.
pub const SR_USED_BY_MAIN: Uuid = id(0x5009);
/// active with a performer: no recall SMS.
pub const SR_PERFORMER: Uuid = id(0x500a);
/// active, patient P_OFFLINE: no recall SMS.
pub const SR_OFFLINE_PATIENT: Uuid = id(0x500b);
/// active, in_queue, used by E_DOCTOR / LE_MAIN, but its expiration date has passed.
pub const SR_EXPIRED: Uuid = id(0x500c);
/// active, based on care plan CP_WRITABLE, requested by E_DISMISSED (LE_MAIN): U_DOCTOR may
/// recall it through AP_CARE_PLAN_WRITE.
pub const SR_CARE_PLAN: Uuid = id(0x500d);
/// active, based on care plan CP_OTHER (nobody holds an approval on it), requested by E_DISMISSED.
pub const SR_OTHER_CARE_PLAN: Uuid = id(0x500e);
/// active, requested by E_PENDING_PARTY.
pub const SR_PENDING_PARTY: Uuid = id(0x500f);
/// active, based on activity CPA_WRITABLE (of care plan CP_WRITABLE), requested by E_DISMISSED.
pub const SR_ACTIVITY_OF_WRITABLE_PLAN: Uuid = id(0x5011);
/// A care plan activity of CP_WRITABLE (LE_MAIN's care plan).
pub const CPA_WRITABLE: Uuid = id(0xc111);
/// active, in_queue, requested by LE_OTHER (E_OTHER) and used by E_DOCTOR / LE_MAIN: LE_MAIN may
/// release it, and sees it afterwards only because it released it.
pub const SR_QUEUED_FROM_OTHER: Uuid = id(0x5010);
pub const SR_REQUISITION: &str = "0000-1234-5678-AX";

// Care plans (only referenced).
pub const CP_WRITABLE: Uuid = id(0xc011);
pub const CP_OTHER: Uuid = id(0xc012);

// Merge requests (LE_MAIN, by U_SPECIALIST unless said otherwise).
pub const MR_NEW: Uuid = id(0x6001);
pub const MR_APPROVED: Uuid = id(0x6002);
pub const MR_REJECTED: Uuid = id(0x6003);
pub const MR_CANCELLED: Uuid = id(0x6004);
/// Created by U_RECEPTIONIST.
pub const MR_BY_RECEPTIONIST: Uuid = id(0x6005);
/// Created by U_SPECIALIST in LE_OTHER.
pub const MR_OTHER_LE: Uuid = id(0x6006);

// Device dispenses (patient P_OTP, performed by LE_MAIN unless said otherwise).
pub const DD_IN_PROGRESS: Uuid = id(0x7001);
pub const DD_COMPLETED: Uuid = id(0x7002);
pub const DD_OTHER_LE: Uuid = id(0x7003);

// Approvals (granted to E_DOCTOR, so owned by LE_MAIN, unless said otherwise).
pub const AP_OTP: Uuid = id(0x8001);
pub const AP_ACTIVE: Uuid = id(0x8002);
pub const AP_OFFLINE: Uuid = id(0x8003);
pub const AP_THIRD: Uuid = id(0x8004);
pub const AP_THIRD_OFFLINE: Uuid = id(0x8005);
pub const AP_INACTIVE_PERSON: Uuid = id(0x8006);
/// Granted to E_OTHER: owned by LE_OTHER.
pub const AP_OTHER_LE: Uuid = id(0x8007);
/// Made for SR_ACTIVE: new, active, cancelled.
pub const AP_SR_1: Uuid = id(0x8008);
pub const AP_SR_2: Uuid = id(0x8009);
pub const AP_SR_3: Uuid = id(0x800a);
/// active, `write` access to care plan CP_WRITABLE, granted to E_DOCTOR.
pub const AP_CARE_PLAN_WRITE: Uuid = id(0x800b);

// Care plans and their activities (patient P_OTP), and service requests based on them (active,
// requested by E_CARE_DOCTOR of LE_CARE, recallable by U_DOCTOR with a token of LE_CARE).
/// OUTPATIENT, ACTIVE, NHS-verified; nothing else of the world is its.
pub const LE_CARE: Uuid = id(0x10c1);
/// U_DOCTOR's employee in LE_CARE (the same party, so the doctor's certificate signs for it).
pub const E_CARE_DOCTOR: Uuid = id(0x30c1);
/// A care plan managed by LE_OTHER.
pub const CP_OTHER_LE: Uuid = id(0xc001);
/// Scheduled, in CP_OTHER_LE: 1 piece planned, 0.2 remaining.
pub const CPA_QUANTITY: Uuid = id(0xc101);
/// Scheduled, in CP_OTHER_LE, without quantity.
pub const CPA_NO_QUANTITY: Uuid = id(0xc102);
/// Based on CPA_QUANTITY, quantity 0.1 pieces.
pub const SR_ON_ACTIVITY: Uuid = id(0x5c01);
/// Based on CPA_NO_QUANTITY, quantity 1 piece.
pub const SR_ON_UNCOUNTED_ACTIVITY: Uuid = id(0x5c02);
pub const PIECES_SYSTEM: &str = "eHealth/ucum/units";
/// The scope of the care plan activity read endpoints.
pub const CARE_PLAN_READ: &str = "care_plan:read";

/// A reference to a care plan activity, as a service request's `based_on` holds it.
pub fn activity_reference(activity: Uuid) -> Value {
    json!({ "identifier": { "type": { "coding": [ { "system": "eHealth/resources", "code": "activity" } ] }, "value": activity } })
}

fn pieces(value: Value) -> Value {
    json!({ "value": value, "system": PIECES_SYSTEM, "code": "pc", "unit": "шт" })
}

/// Every scope the service knows.
pub const ALL_SCOPES: &str = "service_request:use service_request:recall service_request:read \
merge_request:write merge_request:read device_dispense:stop device_dispense:read approval:create \
approval:read job:read";

/// A fresh service with the world imported, and a token of LE_MAIN's doctor with every scope.
pub async fn doctor_app() -> (TestApp, String) {
    let app = TestApp::spawn().await;
    let token = app.token(U_DOCTOR, LE_MAIN, ALL_SCOPES);
    (app, token)
}

fn service_request(id: Uuid, extra: Value) -> Value {
    let mut sr = json!({
        "id": id,
        "patient_id": P_OTP,
        "status": "active",
        "intent": "order",
        "category": { "coding": [ { "system": "eHealth/SNOMED/service_request_categories", "code": "409063005" } ] },
        "code": { "identifier": { "type": { "coding": [ { "system": "eHealth/resources", "code": "service" } ] }, "value": "8b5e7f3a-5d2b-4e0e-9a7f-0c3f1c1d2e3f" } },
        "context": { "identifier": { "type": { "coding": [ { "system": "eHealth/resources", "code": "encounter" } ] }, "value": "2f6a2d1c-0b8e-4c55-9a55-8f7d8a9c0b1e" } },
        "authored_on": "2024-05-01T10:00:00Z",
        "expiration_date": "2099-05-01T10:00:00Z",
        "requisition": SR_REQUISITION,
        "note": "Консультація",
        "patient_instruction": null,
        "priority": "routine",
        "reason_reference": [],
        "requester_employee": E_DOCTOR,
        "requester_legal_entity": LE_MAIN,
        "inserted_at": "2024-05-01T10:00:00Z",
        "updated_at": "2024-05-01T10:00:00Z"
    });
    if let (Some(base), Some(extra)) = (sr.as_object_mut(), extra.as_object()) {
        for (k, v) in extra {
            base.insert(k.clone(), v.clone());
        }
    }
    sr
}

fn care_plan_reference(id: Uuid) -> Value {
    json!([ { "identifier": { "type": { "coding": [ { "system": "eHealth/resources", "code": "care_plan" } ] }, "value": id.to_string() } } ])
}

fn employee(id: Uuid, party: Uuid, le: Uuid, kind: &str, status: &str) -> Value {
    json!({ "id": id, "party_id": party, "legal_entity_id": le, "employee_type": kind, "status": status })
}

fn approval(id: Uuid, patient: Uuid, status: &str, extra: Value) -> Value {
    let mut ap = json!({
        "id": id, "patient_id": patient, "status": status, "access_level": "read",
        "granted_to": E_DOCTOR, "reason": null, "expires_at": 1_900_000_000,
        "granted_resources": [ { "identifier": { "type": { "coding": [ { "system": "eHealth/resources", "code": "episode_of_care" } ] }, "value": "d5a5d991-0bf7-476f-b3cf-bec73f044b2e" } } ]
    });
    if let (Some(base), Some(extra)) = (ap.as_object_mut(), extra.as_object()) {
        for (k, v) in extra {
            base.insert(k.clone(), v.clone());
        }
    }
    ap
}

/// The import file of the world (the format of docs/import.md).
pub fn import_file() -> Value {
    let party = |n: u128| id(0x9000 + n);
    json!({
        "config": { "me_allowed_transactions_le_types": ["PRIMARY_CARE", "OUTPATIENT", "EMERGENCY"] },
        "dictionaries": { "eHealth/service_request_recall_reasons": ["1", "2"] },
        "legal_entities": [
            { "id": LE_MAIN, "type": "OUTPATIENT", "status": "ACTIVE", "nhs_verified": true },
            { "id": LE_OTHER, "type": "OUTPATIENT", "status": "ACTIVE", "nhs_verified": true },
            { "id": LE_CLOSED, "type": "OUTPATIENT", "status": "CLOSED", "nhs_verified": true },
            { "id": LE_PHARMACY, "type": "PHARMACY", "status": "ACTIVE", "nhs_verified": true },
            { "id": LE_UNVERIFIED, "type": "OUTPATIENT", "status": "ACTIVE", "nhs_verified": false },
            { "id": LE_PRIMARY, "type": "PRIMARY_CARE", "status": "ACTIVE", "nhs_verified": true },
            { "id": LE_CARE, "type": "OUTPATIENT", "status": "ACTIVE", "nhs_verified": true }
        ],
        "parties": [
            { "id": party(1), "tax_id": DOCTOR_TAX_ID, "first_name": "Олена", "last_name": "Лікар" },
            { "id": party(2), "tax_id": "2222222222", "first_name": "Петро", "last_name": "Спеціаліст" },
            { "id": party(3), "tax_id": "3333333333", "first_name": "Ірина", "last_name": "Реєстратор" },
            { "id": party(4), "tax_id": "4444444444", "first_name": "Інший", "last_name": "Лікар" },
            { "id": party(5), "tax_id": "КА123456", "first_name": "Паспорт", "last_name": "Лікар" },
            { "id": party(6), "tax_id": DISMISSED_TAX_ID, "first_name": "Звільнений", "last_name": "Лікар" },
            { "id": party(7), "tax_id": "7777777777", "first_name": "Неперевірений", "last_name": "Лікар", "verification_status": "NOT_VERIFIED" },
            { "id": party(8), "tax_id": "8888888888", "first_name": "Померлий", "last_name": "Лікар", "verification_status": "VERIFIED", "death_date": "2024-01-15" },
            { "id": party(9), "tax_id": "9090909090", "first_name": "Очікує", "last_name": "Перевірки", "verification_status": "VERIFICATION_NEEDED" }
        ],
        "users": [
            { "id": U_DOCTOR, "party_id": party(1) },
            { "id": U_SPECIALIST, "party_id": party(2) },
            { "id": U_RECEPTIONIST, "party_id": party(3) },
            { "id": U_OTHER, "party_id": party(4) },
            { "id": U_PASSPORT, "party_id": party(5) },
            { "id": U_DISMISSED, "party_id": party(6) },
            { "id": U_UNVERIFIED_PARTY, "party_id": party(7) },
            { "id": U_DECEASED_PARTY, "party_id": party(8) },
            { "id": U_PENDING_PARTY, "party_id": party(9) }
        ],
        "employees": [
            employee(E_DOCTOR, party(1), LE_MAIN, "DOCTOR", "APPROVED"),
            employee(E_SPECIALIST, party(2), LE_MAIN, "SPECIALIST", "APPROVED"),
            employee(E_RECEPTIONIST, party(3), LE_MAIN, "RECEPTIONIST", "APPROVED"),
            employee(E_OTHER, party(4), LE_OTHER, "DOCTOR", "APPROVED"),
            employee(E_PASSPORT, party(5), LE_MAIN, "DOCTOR", "APPROVED"),
            employee(E_DISMISSED, party(6), LE_MAIN, "DOCTOR", "DISMISSED"),
            employee(E_UNVERIFIED_PARTY, party(7), LE_MAIN, "DOCTOR", "APPROVED"),
            employee(E_DECEASED_PARTY, party(8), LE_MAIN, "DOCTOR", "APPROVED"),
            employee(E_PENDING_PARTY, party(9), LE_MAIN, "DOCTOR", "APPROVED"),
            employee(E_CARE_DOCTOR, party(1), LE_CARE, "DOCTOR", "APPROVED")
        ],
        "persons": [
            { "id": P_OTP, "status": "active", "authentication_methods": [ { "type": "OTP", "phone_number": PHONE_OTP } ] },
            { "id": P_OFFLINE, "status": "active", "authentication_methods": [ { "type": "OFFLINE" } ] },
            { "id": P_THIRD, "status": "active", "authentication_methods": [ { "type": "THIRD_PERSON", "value": P_CONFIDANT.to_string() } ] },
            { "id": P_CONFIDANT, "status": "active", "authentication_methods": [ { "type": "OTP", "phone_number": PHONE_CONFIDANT } ] },
            { "id": P_THIRD_OFFLINE, "status": "active", "authentication_methods": [ { "type": "THIRD_PERSON", "value": P_OFFLINE.to_string() } ] },
            { "id": P_INACTIVE, "status": "inactive", "authentication_methods": [ { "type": "OTP", "phone_number": "+380500000000" } ] }
        ],
        "service_requests": [
            service_request(SR_QUEUED, json!({ "program_processing_status": "in_queue", "used_by_employee": E_DOCTOR, "used_by_legal_entity": LE_MAIN })),
            service_request(SR_PPS_NEW, json!({ "program_processing_status": "new" })),
            service_request(SR_RECALLED, json!({ "status": "recalled", "program_processing_status": "in_queue", "used_by_employee": E_DOCTOR, "used_by_legal_entity": LE_MAIN })),
            service_request(SR_USED_BY_OTHER, json!({ "program_processing_status": "in_queue", "used_by_employee": E_OTHER, "used_by_legal_entity": LE_OTHER })),
            service_request(SR_ACTIVE, json!({})),
            service_request(SR_PASSPORT, json!({ "requester_employee": E_PASSPORT })),
            service_request(SR_COMPLETED, json!({ "status": "completed" })),
            service_request(SR_OTHER_LE, json!({ "requester_employee": E_OTHER, "requester_legal_entity": LE_OTHER })),
            service_request(SR_USED_BY_MAIN, json!({ "requester_employee": E_OTHER, "requester_legal_entity": LE_OTHER, "used_by_employee": E_DOCTOR, "used_by_legal_entity": LE_MAIN })),
            service_request(SR_PERFORMER, json!({ "performer": { "identifier": { "type": { "coding": [ { "system": "eHealth/resources", "code": "employee" } ] }, "value": E_SPECIALIST.to_string() } } })),
            service_request(SR_OFFLINE_PATIENT, json!({ "patient_id": P_OFFLINE })),
            service_request(SR_ON_ACTIVITY, json!({ "requester_employee": E_CARE_DOCTOR, "requester_legal_entity": LE_CARE,
                "based_on": [activity_reference(CPA_QUANTITY)], "quantity": pieces(json!(0.1)) })),
            service_request(SR_ON_UNCOUNTED_ACTIVITY, json!({ "requester_employee": E_CARE_DOCTOR, "requester_legal_entity": LE_CARE,
                "based_on": activity_reference(CPA_NO_QUANTITY), "quantity": pieces(json!(1)) }))
        ],
        "merge_requests": [
            { "id": MR_NEW, "master_person_id": P_OTP, "merge_person_id": P_UNKNOWN, "status": "NEW", "legal_entity_id": LE_MAIN, "inserted_by": U_SPECIALIST, "inserted_at": "2024-04-20T19:14:13Z" },
            { "id": MR_APPROVED, "master_person_id": P_OTP, "merge_person_id": P_UNKNOWN, "status": "APPROVED", "legal_entity_id": LE_MAIN, "inserted_by": U_SPECIALIST, "inserted_at": "2024-04-20T19:14:13Z" },
            { "id": MR_REJECTED, "master_person_id": P_OTP, "merge_person_id": P_UNKNOWN, "status": "REJECTED", "legal_entity_id": LE_MAIN, "inserted_by": U_SPECIALIST, "inserted_at": "2024-04-20T19:14:13Z" },
            { "id": MR_CANCELLED, "master_person_id": P_OTP, "merge_person_id": P_UNKNOWN, "status": "CANCELLED", "legal_entity_id": LE_MAIN, "inserted_by": U_SPECIALIST, "inserted_at": "2024-04-20T19:14:13Z" },
            { "id": MR_BY_RECEPTIONIST, "master_person_id": P_OTP, "merge_person_id": P_UNKNOWN, "status": "NEW", "legal_entity_id": LE_MAIN, "inserted_by": U_RECEPTIONIST, "inserted_at": "2024-04-20T19:14:13Z" },
            { "id": MR_OTHER_LE, "master_person_id": P_OTP, "merge_person_id": P_UNKNOWN, "status": "NEW", "legal_entity_id": LE_OTHER, "inserted_by": U_SPECIALIST, "inserted_at": "2024-04-20T19:14:13Z" }
        ],
        "device_dispenses": [
            { "id": DD_IN_PROGRESS, "patient_id": P_OTP, "status": "in_progress", "performer_legal_entity": LE_MAIN, "details": [ { "device_code": "x", "quantity": { "value": 1 } } ] },
            { "id": DD_COMPLETED, "patient_id": P_OTP, "status": "completed", "performer_legal_entity": LE_MAIN },
            { "id": DD_OTHER_LE, "patient_id": P_OTP, "status": "in_progress", "performer_legal_entity": LE_OTHER }
        ],
        "approvals": [
            approval(AP_OTP, P_OTP, "new", json!({})),
            approval(AP_ACTIVE, P_OTP, "active", json!({})),
            approval(AP_OFFLINE, P_OFFLINE, "new", json!({})),
            approval(AP_THIRD, P_THIRD, "new", json!({})),
            approval(AP_THIRD_OFFLINE, P_THIRD_OFFLINE, "new", json!({})),
            approval(AP_INACTIVE_PERSON, P_INACTIVE, "new", json!({})),
            approval(AP_OTHER_LE, P_OTP, "new", json!({ "granted_to": E_OTHER })),
            approval(AP_SR_1, P_OTP, "new", json!({ "reason": SR_ACTIVE })),
            approval(AP_SR_2, P_OTP, "active", json!({ "reason": SR_ACTIVE })),
            approval(AP_SR_3, P_OTP, "cancelled", json!({ "reason": SR_ACTIVE })),
            approval(AP_CARE_PLAN_WRITE, P_OTP, "active", json!({ "access_level": "write", "granted_resources": [ { "identifier": { "type": { "coding": [ { "system": "eHealth/resources", "code": "care_plan" } ] }, "value": CP_WRITABLE.to_string() } } ] }))
        ],
        "care_plan_activities": [
            { "id": CPA_QUANTITY, "care_plan_id": CP_OTHER_LE, "patient_id": P_OTP, "status": "scheduled",
              "legal_entity_id": LE_OTHER, "quantity": pieces(json!(1)), "remaining_quantity": pieces(json!(0.2)),
              "kind": "service_request", "inserted_at": "2024-05-01T09:00:00Z" },
            { "id": CPA_NO_QUANTITY, "care_plan_id": CP_OTHER_LE, "patient_id": P_OTP, "status": "scheduled",
              "legal_entity_id": LE_OTHER, "kind": "service_request", "inserted_at": "2024-05-01T09:00:00Z" }
        ]
    })
}

/// Service requests (and an activity) for the rules of Recall and Release that need more than the
/// world's: imported by the tests that use them (`TestApp::import`), so the lists of the world
/// stay as they are.
pub fn more_service_requests() -> Value {
    json!({
        "care_plan_activities": [
            { "id": CPA_WRITABLE, "care_plan_id": CP_WRITABLE, "patient_id": P_OTP, "status": "scheduled",
              "legal_entity_id": LE_MAIN, "quantity": pieces(json!(5)), "remaining_quantity": pieces(json!(4)),
              "kind": "service_request", "inserted_at": "2024-05-01T09:00:00Z" }
        ],
        "service_requests": [
            service_request(SR_ACTIVITY_OF_WRITABLE_PLAN, json!({ "requester_employee": E_DISMISSED, "based_on": [activity_reference(CPA_WRITABLE)], "quantity": pieces(json!(1)) })),
            service_request(SR_EXPIRED, json!({ "program_processing_status": "in_queue", "used_by_employee": E_DOCTOR, "used_by_legal_entity": LE_MAIN, "expiration_date": "2020-01-01T00:00:00Z" })),
            service_request(SR_CARE_PLAN, json!({ "requester_employee": E_DISMISSED, "based_on": care_plan_reference(CP_WRITABLE) })),
            service_request(SR_OTHER_CARE_PLAN, json!({ "requester_employee": E_DISMISSED, "based_on": care_plan_reference(CP_OTHER) })),
            service_request(SR_PENDING_PARTY, json!({ "requester_employee": E_PENDING_PARTY })),
            service_request(SR_QUEUED_FROM_OTHER, json!({ "requester_employee": E_OTHER, "requester_legal_entity": LE_OTHER, "program_processing_status": "in_queue", "used_by_employee": E_DOCTOR, "used_by_legal_entity": LE_MAIN }))
        ]
    })
}
