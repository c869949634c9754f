//! Media storage for signed content. The recall's signed envelope is written durably (file and
//! directory fsynced) before the recall event is appended, under a name derived from its hash, so a
//! retried or refused request can never overwrite the content of an accepted one.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use uuid::Uuid;

#[derive(Debug, Clone)]
pub struct MediaStorage {
    root: PathBuf,
}

impl MediaStorage {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Stores the signed data as received and returns its link (`<sr_id>/recall/<sha256>`).
    pub async fn store_recall(
        &self,
        service_request_id: Uuid,
        signed_data: &str,
    ) -> std::io::Result<String> {
        let digest = hex::encode(Sha256::digest(signed_data.as_bytes()));
        let link = format!("{service_request_id}/recall/{digest}");
        let dir = self
            .root
            .join(service_request_id.to_string())
            .join("recall");
        let path = dir.join(format!("{digest}.p7s.b64"));
        let data = signed_data.as_bytes().to_vec();
        tokio::task::spawn_blocking(move || write_durably(&dir, &path, &data))
            .await
            .map_err(std::io::Error::other)??;
        Ok(link)
    }

    /// The file behind a link returned by [`MediaStorage::store_recall`].
    pub fn path_of(&self, link: &str) -> PathBuf {
        let mut parts = link.rsplitn(2, '/');
        let digest = parts.next().unwrap_or_default();
        let dir = parts.next().unwrap_or_default();
        self.root.join(dir).join(format!("{digest}.p7s.b64"))
    }
}

fn write_durably(dir: &Path, path: &Path, data: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    std::fs::create_dir_all(dir)?;
    if path.exists() {
        return Ok(());
    }
    // A temporary name of its own: two requests storing the same content at once (a recall sent
    // twice concurrently) must not share one, or the second rename finds it gone and fails. The
    // final name is the content's hash, so whichever rename lands last writes the same bytes.
    let tmp = path.with_extension(format!("{}.tmp", Uuid::new_v4().simple()));
    {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(data)?;
        file.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    std::fs::File::open(dir)?.sync_all()?;
    Ok(())
}
