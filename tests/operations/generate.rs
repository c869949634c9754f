//! Many valid events, fast: whole entity histories (import, then the actions) appended through the
//! service's real `persist` (hashes, live projections and all), a few hundred entities per
//! transaction, so every event is exactly what the service itself would have appended.

use crate::support::service::Db;
use ehealth_es::store::histories::{self, Cast, UNIT};

use crate::support::world::*;

/// Units per append transaction.
const UNITS_PER_COMMIT: u64 = 50;

/// The generated entities belong to the world's main legal entity and its OTP patient.
const CAST: Cast = Cast {
    legal_entity: LE_MAIN,
    patient: P_OTP,
    patient_phone: PHONE_OTP,
    doctor_employee: E_DOCTOR,
    doctor_user: U_DOCTOR,
    specialist_user: U_SPECIALIST,
    requisition: SR_REQUISITION,
};

/// Appends at least `events` events (whole units) with two concurrent writers; returns how many.
pub async fn generate(db: &Db, events: u64) -> u64 {
    let units = events.div_ceil(UNIT);
    histories::append(db.clone(), CAST, units, UNITS_PER_COMMIT)
        .await
        .expect("generated events persist");
    units * UNIT
}
