//! Signed recalls of the data set's active service requests, prepared before a load starts (a
//! recall carries a signature over the service request's content, too slow to make inside a
//! timed run). Shared by the benchmark and the fault runs.

use serde_json::{json, Value};
use uuid::Uuid;

use crate::dataset::{id, Kind, PATIENT};
use crate::pki::TestSigner;

/// Signs a recall of each of the first `count` active service requests as their requester (the
/// content is the service request as the service at `base` renders it): `(id, request body)`.
pub async fn presign(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    count: usize,
    signer: &TestSigner,
) -> anyhow::Result<Vec<(Uuid, String)>> {
    let mut out = Vec::with_capacity(count);
    for n in 0..count {
        let sr = id(Kind::ActiveServiceRequest, n);
        let doc: Value = client
            .get(format!(
                "{base}/api/patients/{PATIENT}/service_requests/{sr}"
            ))
            .bearer_auth(token)
            .send()
            .await?
            .json()
            .await?;
        let mut content = doc["data"].clone();
        anyhow::ensure!(content.is_object(), "GET service request {sr}: {doc}");
        content["status_reason"] = json!({
            "coding": [ { "system": "eHealth/service_request_recall_reasons", "code": "1" } ]
        });
        let signed = signer.sign(serde_json::to_vec(&content)?.as_slice());
        out.push((sr, json!({ "signed_data": signed }).to_string()));
    }
    Ok(out)
}
