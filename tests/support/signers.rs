//! The signers of the fixture world: certificates from a test root CA (trusted by the test apps,
//! see `Options::trust_anchors`) for the world's doctors, and a few that must be refused.

use std::path::PathBuf;
use std::sync::OnceLock;

use super::pki::{TestCa, TestSigner};
use super::world;

pub struct Pki {
    pub ca: TestCa,
    /// Signs as the requester doctor (tax id 1234567890), with the `TINUA-` prefix.
    pub doctor: TestSigner,
    /// Signs as the doctor whose passport number is written in Latin letters.
    pub passport_latin: TestSigner,
    /// A valid signer who is nobody in the fixture.
    pub stranger: TestSigner,
    /// The dismissed doctor (requester of the care-plan service requests).
    pub dismissed: TestSigner,
    /// The doctor whose party's verification is pending.
    pub pending: TestSigner,
    /// The doctor's certificate, expired.
    pub expired: TestSigner,
    /// The doctor, certified by a CA nobody trusts.
    pub untrusted: TestSigner,
    /// A PEM file holding the test root: the service's `EHEALTH_TRUST_ANCHORS`.
    pub anchors: PathBuf,
}

/// The test PKI, made once per test process.
pub fn pki() -> &'static Pki {
    static PKI: OnceLock<Pki> = OnceLock::new();
    PKI.get_or_init(|| {
        let ca = TestCa::new("ehealth-es test root");
        let rogue = TestCa::new("rogue root");
        let anchors =
            std::env::temp_dir().join(format!("ehealth-anchors-{}.pem", std::process::id()));
        std::fs::write(&anchors, ca.pem()).expect("write trust anchors");
        Pki {
            doctor: ca.issue_signer(&format!("TINUA-{}", world::DOCTOR_TAX_ID), "Лікар Тест"),
            passport_latin: ca.issue_signer_ec("PASUA-KA123456", "Лікар Паспорт"),
            stranger: ca.issue_signer("9999999999", "Сторонній"),
            dismissed: ca.issue_signer(
                &format!("TINUA-{}", world::DISMISSED_TAX_ID),
                "Звільнений Лікар",
            ),
            pending: ca.issue_signer("TINUA-9090909090", "Очікує Перевірки"),
            expired: ca.issue_signer_valid(world::DOCTOR_TAX_ID, -400, -1),
            untrusted: rogue.issue_signer(world::DOCTOR_TAX_ID, "Лікар Тест"),
            ca,
            anchors,
        }
    })
}

impl super::TestApp {
    /// The body of a valid recall of service request `id`: its current rendering (as the doctor
    /// reads it) with recall reason `reason` (a code of `eHealth/service_request_recall_reasons`),
    /// signed by the doctor.
    pub async fn doctor_recall_body(
        &self,
        patient: uuid::Uuid,
        id: uuid::Uuid,
        reason: &str,
    ) -> serde_json::Value {
        let shown = self
            .service_request(patient, id, &self.doctor_token())
            .await;
        let mut content = shown.ok().clone();
        content["status_reason"] = serde_json::json!({
            "coding": [ { "system": "eHealth/service_request_recall_reasons", "code": reason } ]
        });
        let bytes = serde_json::to_vec(&content).expect("content");
        serde_json::json!({ "signed_data": pki().doctor.sign(&bytes) })
    }
}
