//! The refusals of the four actions, table-driven: a missing or bad token (401), a missing scope
//! (403), an entity that is not there (404), and every rule that refuses (403, 409, 422), in one
//! list per kind. Each case is named in its failure; after each, once the workers are idle, the
//! entity, the event log and the jobs are as they were and no SMS was queued.

use uuid::Uuid;

use crate::support::client::Error;
use crate::support::world::*;
use crate::support::{paths, service, TestApp};

/// An action on one entity (patient and id where the path has both).
#[derive(Clone, Copy, Debug)]
enum Action {
    Release(Uuid),
    Reject(Uuid),
    Stop(Uuid, Uuid),
    Resend(Uuid, Uuid),
}

impl Action {
    fn path(self) -> String {
        match self {
            Action::Release(id) => paths::release(id),
            Action::Reject(id) => paths::reject(id),
            Action::Stop(patient, id) => paths::stop(patient, id),
            Action::Resend(patient, id) => paths::resend(patient, id),
        }
    }

    /// The entity's table of current state, and its id.
    fn entity(self) -> (&'static str, Uuid) {
        match self {
            Action::Release(id) => ("service_requests", id),
            Action::Reject(id) => ("merge_requests", id),
            Action::Stop(_, id) => ("device_dispenses", id),
            Action::Resend(_, id) => ("approvals", id),
        }
    }
}

/// Sends `action` with `token`; asserts its answer, then that nothing was stored or sent.
async fn assert_refused(
    app: &TestApp,
    case: &str,
    action: Action,
    token: Option<&str>,
    error: Error<'_>,
) {
    let (table, id) = action.entity();
    let before = app.snapshot(table, id).await;
    let reply = app.patch(&action.path(), token, None).await;
    reply.assert_case_error(case, error);
    app.assert_unchanged(case, table, id, &before).await;
    assert!(app.sms().await.is_empty(), "{case}: {:#?}", app.sms().await);
}

/// Who asks: user, legal entity and scopes of the token.
type Who = (Uuid, Uuid, &'static str);

const DOCTOR: Who = (U_DOCTOR, LE_MAIN, ALL_SCOPES);
const SPECIALIST: Who = (U_SPECIALIST, LE_MAIN, ALL_SCOPES);

const CONFLICT: &str = "request_conflict";
const FORBIDDEN: &str = "forbidden";
const LE_NOT_ALLOWED: &str = "Action is not allowed for the legal entity";
const NOT_ACTIVE: &str = "client_id refers to legal entity that is not active";
const NOT_IN_QUEUE: &str = "Invalid program processing status";
const USED_BY_ANOTHER: &str = "Service request is used by another legal entity";
const ROLE: &str = "Only SPECIALIST, ASSISTANT or RECEPTIONIST employees can reject merge requests";
const NOT_THE_AUTHOR: &str = "Only author of merge request is allowed to reject it";
const INVALID_MR_STATUS: &str = "Invalid merge request status";
const NOT_BY_SMS: &str = "Resend SMS is not allowed for this authentication method";

/// The message of a 403 for the missing `scope`.
macro_rules! missing {
    ($scope:literal) => {
        concat!(
            "Your scope does not allow to access this resource. Missing allowances: ",
            $scope
        )
    };
}

/// A refusal by a rule: the case, the action, who asks, and the answer.
type Refusal = (&'static str, Action, Who, Error<'static>);

const REFUSALS: [Refusal; 36] = [
    // Release service request.
    (
        "release without the use scope: 403",
        Action::Release(SR_QUEUED),
        (U_DOCTOR, LE_MAIN, "service_request:read"),
        (403, FORBIDDEN, missing!("service_request:use")),
    ),
    (
        "release by a pharmacy: 409",
        Action::Release(SR_QUEUED),
        (U_DOCTOR, LE_PHARMACY, ALL_SCOPES),
        (409, CONFLICT, LE_NOT_ALLOWED),
    ),
    (
        "release by a closed legal entity: 409",
        Action::Release(SR_QUEUED),
        (U_DOCTOR, LE_CLOSED, ALL_SCOPES),
        (409, CONFLICT, LE_NOT_ALLOWED),
    ),
    (
        "release by an unknown legal entity: 409",
        Action::Release(SR_QUEUED),
        (U_DOCTOR, LE_UNKNOWN, ALL_SCOPES),
        (409, CONFLICT, LE_NOT_ALLOWED),
    ),
    // Another legal entity's service request meets the spec's rules, not a 404. Requested by
    // LE_OTHER, used by nobody, no program: the spec's program-status rule answers.
    (
        "release of another legal entity's service request not in queue: 409",
        Action::Release(SR_OTHER_LE),
        DOCTOR,
        (409, CONFLICT, NOT_IN_QUEUE),
    ),
    // In queue for LE_MAIN, released by LE_OTHER: the spec's rules pass, ours answers last.
    (
        "release by a legal entity that does not use it: 409",
        Action::Release(SR_QUEUED),
        (U_OTHER, LE_OTHER, ALL_SCOPES),
        (409, CONFLICT, USED_BY_ANOTHER),
    ),
    (
        "release of an expired service request: 409",
        Action::Release(SR_EXPIRED),
        DOCTOR,
        (409, CONFLICT, "Service request is expired"),
    ),
    (
        "release of a recalled service request: 409",
        Action::Release(SR_RECALLED),
        DOCTOR,
        (409, CONFLICT, "Invalid service request status"),
    ),
    (
        "release of a service request whose program status is new: 409",
        Action::Release(SR_PPS_NEW),
        DOCTOR,
        (409, CONFLICT, NOT_IN_QUEUE),
    ),
    (
        "release of a service request with no program: 409",
        Action::Release(SR_ACTIVE),
        DOCTOR,
        (409, CONFLICT, NOT_IN_QUEUE),
    ),
    (
        "release of a service request used by another legal entity: 409",
        Action::Release(SR_USED_BY_OTHER),
        DOCTOR,
        (409, CONFLICT, USED_BY_ANOTHER),
    ),
    // Reject merge request.
    (
        "reject without the merge_request:write scope: 403",
        Action::Reject(MR_NEW),
        (U_SPECIALIST, LE_MAIN, "merge_request:read job:read"),
        (403, FORBIDDEN, missing!("merge_request:write")),
    ),
    // Only an active emergency or outpatient legal entity may reject.
    (
        "reject from a primary care legal entity: 409",
        Action::Reject(MR_NEW),
        (U_SPECIALIST, LE_PRIMARY, ALL_SCOPES),
        (409, CONFLICT, LE_NOT_ALLOWED),
    ),
    (
        "reject from a closed legal entity: 409",
        Action::Reject(MR_NEW),
        (U_SPECIALIST, LE_CLOSED, ALL_SCOPES),
        (409, CONFLICT, LE_NOT_ALLOWED),
    ),
    (
        "reject from a pharmacy: 409",
        Action::Reject(MR_NEW),
        (U_SPECIALIST, LE_PHARMACY, ALL_SCOPES),
        (409, CONFLICT, LE_NOT_ALLOWED),
    ),
    (
        "reject from an unknown legal entity: 409",
        Action::Reject(MR_NEW),
        (U_SPECIALIST, LE_UNKNOWN, ALL_SCOPES),
        (409, CONFLICT, LE_NOT_ALLOWED),
    ),
    (
        "reject by a doctor: 403",
        Action::Reject(MR_NEW),
        DOCTOR,
        (403, FORBIDDEN, ROLE),
    ),
    (
        "reject by a dismissed employee: 403",
        Action::Reject(MR_NEW),
        (U_DISMISSED, LE_MAIN, ALL_SCOPES),
        (403, FORBIDDEN, ROLE),
    ),
    // The specialist has no employee in LE_OTHER, so acting for LE_OTHER is refused the same way.
    (
        "reject by a specialist for a legal entity they do not work at: 403",
        Action::Reject(MR_OTHER_LE),
        (U_SPECIALIST, LE_OTHER, ALL_SCOPES),
        (403, FORBIDDEN, ROLE),
    ),
    (
        "reject by a specialist who did not create it: 403",
        Action::Reject(MR_BY_RECEPTIONIST),
        SPECIALIST,
        (403, FORBIDDEN, NOT_THE_AUTHOR),
    ),
    (
        "reject by a receptionist who did not create it: 403",
        Action::Reject(MR_NEW),
        (U_RECEPTIONIST, LE_MAIN, ALL_SCOPES),
        (403, FORBIDDEN, NOT_THE_AUTHOR),
    ),
    (
        "reject of a merge request created in another legal entity: 422",
        Action::Reject(MR_OTHER_LE),
        SPECIALIST,
        (
            422,
            "validation_failed",
            "User doesn't belong to legal entity where the merge request was created",
        ),
    ),
    // Neither the author nor in the merge request's legal entity: the author check answers first.
    (
        "reject by neither its author nor in its legal entity: 403",
        Action::Reject(MR_OTHER_LE),
        (U_RECEPTIONIST, LE_MAIN, ALL_SCOPES),
        (403, FORBIDDEN, NOT_THE_AUTHOR),
    ),
    (
        "reject of a rejected merge request: 409",
        Action::Reject(MR_REJECTED),
        SPECIALIST,
        (409, CONFLICT, INVALID_MR_STATUS),
    ),
    (
        "reject of a cancelled merge request: 409",
        Action::Reject(MR_CANCELLED),
        SPECIALIST,
        (409, CONFLICT, INVALID_MR_STATUS),
    ),
    // Stop device dispense.
    (
        "stop without the device_dispense:stop scope: 403",
        Action::Stop(P_OTP, DD_IN_PROGRESS),
        (U_DOCTOR, LE_MAIN, "device_dispense:read job:read"),
        (403, FORBIDDEN, missing!("device_dispense:stop")),
    ),
    (
        "stop by a legal entity whose type is not allowed: 409",
        Action::Stop(P_OTP, DD_IN_PROGRESS),
        (U_DOCTOR, LE_PHARMACY, ALL_SCOPES),
        (409, CONFLICT, "Invalid LegalEntity type"),
    ),
    (
        "stop by a closed legal entity: 409",
        Action::Stop(P_OTP, DD_IN_PROGRESS),
        (U_DOCTOR, LE_CLOSED, ALL_SCOPES),
        (409, CONFLICT, NOT_ACTIVE),
    ),
    (
        "stop by an unknown legal entity: 409",
        Action::Stop(P_OTP, DD_IN_PROGRESS),
        (U_DOCTOR, LE_UNKNOWN, ALL_SCOPES),
        (409, CONFLICT, NOT_ACTIVE),
    ),
    (
        "stop of a dispense of another legal entity: 409",
        Action::Stop(P_OTP, DD_OTHER_LE),
        DOCTOR,
        (
            409,
            CONFLICT,
            "Device dispense belongs to another legal entity",
        ),
    ),
    (
        "stop of a completed dispense: 409",
        Action::Stop(P_OTP, DD_COMPLETED),
        DOCTOR,
        (
            409,
            CONFLICT,
            "Device dispense in status completed cannot be stopped",
        ),
    ),
    // Resend SMS on approval.
    (
        "resend without the approval:create scope: 403",
        Action::Resend(P_OTP, AP_OTP),
        (U_DOCTOR, LE_MAIN, "approval:read job:read"),
        (403, FORBIDDEN, missing!("approval:create")),
    ),
    (
        "resend for an inactive person: 409",
        Action::Resend(P_INACTIVE, AP_INACTIVE_PERSON),
        DOCTOR,
        (409, CONFLICT, "Person is not active"),
    ),
    (
        "resend for an offline person: 409",
        Action::Resend(P_OFFLINE, AP_OFFLINE),
        DOCTOR,
        (409, CONFLICT, NOT_BY_SMS),
    ),
    (
        "resend for a person whose third person is offline: 409",
        Action::Resend(P_THIRD_OFFLINE, AP_THIRD_OFFLINE),
        DOCTOR,
        (409, CONFLICT, NOT_BY_SMS),
    ),
    (
        "resend of an active approval: 409",
        Action::Resend(P_OTP, AP_ACTIVE),
        DOCTOR,
        (409, CONFLICT, "Approval in status active can not be resent"),
    ),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_action_refused_by_scope_legal_entity_role_ownership_or_status_answers_its_error_and_changes_nothing(
) {
    let app = TestApp::spawn().await;
    app.import(&more_service_requests()).await;
    for (case, action, (user, legal_entity, scopes), error) in REFUSALS {
        let token = app.token(user, legal_entity, scopes);
        assert_refused(&app, case, action, Some(&token), error).await;
    }

    // Nor may LE_MAIN read another legal entity's dispense.
    let token = app.token(U_DOCTOR, LE_MAIN, ALL_SCOPES);
    let shown = app.device_dispense(P_OTP, DD_OTHER_LE, &token).await;
    shown.assert_error(404, "not_found", "Device dispense not found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_action_without_a_bearer_token_or_with_a_garbage_expired_or_forged_one_answers_401() {
    let app = TestApp::spawn().await;
    let expired = app.token_valid_for(U_DOCTOR, LE_MAIN, ALL_SCOPES, -60);
    // Well-formed, but signed with a key the service does not hold.
    let forged = service::mint(b"someone-elses-secret", U_DOCTOR, LE_MAIN, ALL_SCOPES, 3600);
    let no_token = "Authorization header is not set or doesn't contain Bearer token";
    let invalid = "Invalid access token";
    for action in [
        Action::Release(SR_QUEUED),
        Action::Reject(MR_NEW),
        Action::Stop(P_OTP, DD_IN_PROGRESS),
        Action::Resend(P_OTP, AP_OTP),
    ] {
        for (case, token, message) in [
            ("no token", None, no_token),
            ("garbage", Some("garbage"), invalid),
            ("expired", Some(expired.as_str()), invalid),
            ("forged", Some(forged.as_str()), invalid),
        ] {
            let case = format!("{action:?} with {case}");
            assert_refused(&app, &case, action, token, (401, "access_denied", message)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_action_on_an_unknown_or_malformed_id_or_another_patients_entity_answers_404() {
    let (app, token) = TestApp::spawn_for(U_DOCTOR, LE_MAIN).await;
    let specialist = app.token(U_SPECIALIST, LE_MAIN, ALL_SCOPES);
    let before = app.event_count().await;
    let unknown = Uuid::new_v4();
    let sr = "Service request not found";
    let mr = "Merge request not found";
    let dd = "Device dispense not found";
    let person = "Person not found";
    let approval = "Approval with such id is not found";
    let cases = [
        (paths::release(unknown), &token, sr),
        (
            "/api/service_requests/not-a-uuid/actions/release".into(),
            &token,
            sr,
        ),
        (paths::reject(unknown), &specialist, mr),
        (
            "/api/merge_requests/not-a-uuid/actions/reject".into(),
            &specialist,
            mr,
        ),
        (paths::stop(P_OTP, unknown), &token, dd),
        // The dispense exists, but not for this patient.
        (paths::stop(P_OFFLINE, DD_IN_PROGRESS), &token, dd),
        (paths::stop(P_UNKNOWN, DD_IN_PROGRESS), &token, dd),
        (
            format!("/api/patients/{P_OTP}/device_dispenses/not-a-uuid/actions/stop"),
            &token,
            dd,
        ),
        (
            format!("/api/patients/not-a-uuid/device_dispenses/{DD_IN_PROGRESS}/actions/stop"),
            &token,
            dd,
        ),
        (paths::resend(P_UNKNOWN, AP_OTP), &token, person),
        (
            format!("/api/patients/not-a-uuid/approvals/{AP_OTP}/actions/resend"),
            &token,
            person,
        ),
        (paths::resend(P_OTP, unknown), &token, approval),
        // The person exists, but the approval is another patient's.
        (paths::resend(P_OFFLINE, AP_OTP), &token, approval),
        // Another legal entity's approval, in the context of another patient.
        (paths::resend(P_OFFLINE, AP_OTHER_LE), &token, approval),
        (
            format!("/api/patients/{P_OTP}/approvals/not-a-uuid/actions/resend"),
            &token,
            approval,
        ),
    ];
    for (path, token, message) in cases {
        let reply = app.patch(&path, Some(token), None).await;
        reply.assert_case_error(&path, (404, "not_found", message));
    }
    app.workers_idle().await;
    assert_eq!(app.event_count().await, before);
    assert_eq!(app.job_count().await, 0);
    assert!(app.sms().await.is_empty(), "{:#?}", app.sms().await);
}
