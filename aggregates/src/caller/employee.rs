//! The user's employees in the caller's legal entity (those of the party behind the user).

use super::CallerError;
use crate::ids::EmployeeId;

/// The employee types that may reject a merge request.
pub const MERGE_REQUEST_EMPLOYEE_TYPES: [&str; 3] = ["SPECIALIST", "ASSISTANT", "RECEPTIONIST"];

/// What the registry says of one of the user's employees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmployeeFacts {
    pub id: EmployeeId,
    /// `employee_type` (`DOCTOR`, `SPECIALIST`, …).
    pub kind: String,
    pub status: String,
}

impl EmployeeFacts {
    fn is_approved(&self) -> bool {
        self.status == "APPROVED"
    }
}

/// Recall: the employees the user acts as — the APPROVED ones. The service request's requester
/// must be one of them, or one of them must hold an approval to write its care plan (both decided
/// by the service request's rules, which need its state).
pub fn approved(employees: &[EmployeeFacts]) -> Vec<EmployeeId> {
    employees
        .iter()
        .filter(|e| e.is_approved())
        .map(|e| e.id)
        .collect()
}

/// Reject merge request: one of the user's employees is an APPROVED SPECIALIST, ASSISTANT or
/// RECEPTIONIST, else 403.
pub fn check_reject_merge_request(employees: &[EmployeeFacts]) -> Result<(), CallerError> {
    let permitted = employees
        .iter()
        .any(|e| e.is_approved() && MERGE_REQUEST_EMPLOYEE_TYPES.contains(&e.kind.as_str()));
    permitted
        .then_some(())
        .ok_or(CallerError::EmployeeMayNotRejectMergeRequest)
}
