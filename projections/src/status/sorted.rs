//! A rebuild's load of status rows gathered from several batches, in key order.
//!
//! The rows are the same as [`StatusRows::write`] copies; only their physical order differs, and
//! with it the cost of the key build that follows (PostgreSQL's sort finds presorted input in one
//! pass instead of comparing text columns n·log n times).

use sqlx::PgConnection;

use super::StatusRows;
use crate::rows::Tables;
use crate::table::write::copy_ordered;
use crate::tables::{FeedRows, HistoryRows};

/// The distinct values of a text column, in byte order (few: entity types, attribute names).
fn ranks<'a>(values: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let mut distinct: Vec<&str> = Vec::new();
    for value in values {
        if !distinct.contains(&value) {
            distinct.push(value);
        }
    }
    distinct.sort_unstable();
    distinct
}

/// The rank of `value` among `ranks` (past the end when absent, which cannot happen).
fn rank(ranks: &[&str], value: &str) -> u8 {
    ranks
        .iter()
        .position(|r| *r == value)
        .map_or(u8::MAX, |p| p.min(usize::from(u8::MAX)) as u8)
}

/// The places `(part, row)` of the `len(part)` rows of every part, in the order of `key(part, row)`
/// (ties in their places' order).
fn order_by<R, K: Ord>(
    parts: &[&R],
    len: impl Fn(&R) -> usize,
    key: impl Fn(&R, usize) -> K,
) -> Vec<(u32, u32)> {
    let mut keys: Vec<(K, u32, u32)> = Vec::with_capacity(parts.iter().map(|r| len(r)).sum());
    for (p, rows) in parts.iter().enumerate() {
        for i in 0..len(rows) {
            keys.push((key(rows, i), p as u32, i as u32));
        }
    }
    keys.sort_unstable();
    keys.into_iter().map(|(_, p, i)| (p, i)).collect()
}

impl StatusRows {
    /// Copies the history rows of `parts` into a table without keys in the order of its key,
    /// `(entity_type, entity_id, sequence, attribute)`.
    pub(crate) async fn copy_history_sorted(
        parts: &[&StatusRows],
        conn: &mut PgConnection,
        tables: &Tables,
    ) -> Result<(), sqlx::Error> {
        let history: Vec<&HistoryRows> = parts.iter().map(|rows| &rows.history).collect();
        // Sort keys of fixed size: a text column's rank among its few distinct values (in byte
        // order, as the C collation and every common one order them), then the row's place.
        let types = ranks(history.iter().flat_map(|h| h.entity_type.iter().copied()));
        let attributes = ranks(history.iter().flat_map(|h| h.attribute.iter().copied()));
        let order = order_by(
            &history,
            |h| h.sequence.len(),
            |h, i| {
                (
                    rank(&types, h.entity_type[i]),
                    h.entity_id[i].as_u128(),
                    h.sequence[i],
                    rank(&attributes, h.attribute[i]),
                )
            },
        );
        copy_ordered(&history, &order, conn, tables).await
    }

    /// [`copy_history_sorted`](Self::copy_history_sorted) for the feed rows, in the order of
    /// their key `(entity_type, entity_id, sequence)`.
    pub(crate) async fn copy_feed_sorted(
        parts: &[&StatusRows],
        conn: &mut PgConnection,
        tables: &Tables,
    ) -> Result<(), sqlx::Error> {
        let feed: Vec<&FeedRows> = parts.iter().map(|rows| &rows.feed).collect();
        let types = ranks(feed.iter().flat_map(|f| f.entity_type.iter().copied()));
        let order = order_by(
            &feed,
            |f| f.sequence.len(),
            |f, i| {
                (
                    rank(&types, f.entity_type[i]),
                    f.entity_id[i].as_u128(),
                    f.sequence[i],
                )
            },
        );
        copy_ordered(&feed, &order, conn, tables).await
    }
}
