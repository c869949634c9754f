//! What a caller can tune of a rebuild or verify.

use std::time::Duration;

/// Key of the session advisory lock that keeps two rebuilds or verifies off one database.
pub const MAINTENANCE_LOCK: i64 = 0x6568_6561_6c74_6801;

/// Tunables of a rebuild or verify.
#[derive(Debug, Clone)]
pub struct Options {
    /// Entity states kept in memory; beyond that, written states are dropped and loaded back
    /// from the aside tables when their entity appears again.
    pub cache_entities: usize,
    /// New entities gathered before their rows are copied in during the first pass, so that the
    /// entity writer works while the log is still being read.
    pub copy_entities: usize,
    /// How long to wait for each lock of the final step before backing off and trying again.
    pub lock_timeout: Duration,
    /// Attempts at the final step before giving up.
    pub lock_attempts: u32,
    /// History and feed rows the first pass holds back, to load them in key order (which makes
    /// the key builds cheap); beyond that many, the held rows are written and holding starts over.
    pub held_status_rows: usize,
    /// `maintenance_work_mem` of each of the two connections that build keys and indexes, in
    /// MiB: enough to sort the largest index in memory.
    pub index_memory_mib: u32,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            cache_entities: 1_000_000,
            copy_entities: 5_000,
            lock_timeout: Duration::from_secs(2),
            lock_attempts: 10,
            held_status_rows: 2_000_000,
            index_memory_mib: 256,
        }
    }
}
