//! Reference data on SQLite: its statements are the shared ones (`store::reference`), with uuids
//! bound and read as text and JSON as text.

use tokio_util::sync::CancellationToken;

use crate::reference::cache::Cache;

/// Written once for both backends, in `store::reference`.
pub(super) use crate::store::reference::SqliteReferenceData;

impl SqliteReferenceData {
    /// Returns at once: nothing is cached on SQLite (see [`super::super::ReferenceData::watch`]).
    pub(in crate::store) async fn watch_changes(
        &self,
        _cache: Cache,
        _shutdown: CancellationToken,
    ) {
    }
}
