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
        let mut keys: Vec<(u8, u128, i64, u8, u32, u32)> =
            Vec::with_capacity(history.iter().map(|h| h.sequence.len()).sum());
        for (p, h) in history.iter().enumerate() {
            for i in 0..h.sequence.len() {
                keys.push((
                    rank(&types, h.entity_type[i]),
                    h.entity_id[i].as_u128(),
                    h.sequence[i],
                    rank(&attributes, h.attribute[i]),
                    p as u32,
                    i as u32,
                ));
            }
        }
        keys.sort_unstable();
        let order: Vec<(u32, u32)> = keys.iter().map(|&(.., p, i)| (p, i)).collect();
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
        let mut keys: Vec<(u8, u128, i64, u32, u32)> =
            Vec::with_capacity(feed.iter().map(|f| f.sequence.len()).sum());
        for (p, f) in feed.iter().enumerate() {
            for i in 0..f.sequence.len() {
                keys.push((
                    rank(&types, f.entity_type[i]),
                    f.entity_id[i].as_u128(),
                    f.sequence[i],
                    p as u32,
                    i as u32,
                ));
            }
        }
        keys.sort_unstable();
        let order: Vec<(u32, u32)> = keys.iter().map(|&(.., p, i)| (p, i)).collect();
        copy_ordered(&feed, &order, conn, tables).await
    }
}
