//! Decoding the binary COPY of the log (PostgreSQL's `COPY … TO STDOUT (FORMAT binary)`): a
//! header (the signature `PGCOPY\n\xff\r\n\0`, flags, an extension), then one tuple per row
//! (a field count, then per field its length, -1 for NULL, and its bytes, in network order),
//! then the trailer -1. The query's eight columns arrive in this order: `tx_id` (xid8),
//! `global_position` (bigint), `aggregate_type`, `aggregate_id` (text), `sequence` (bigint),
//! the payload (text), `metadata->>'user_id'` (text or NULL) and `recorded_at` (timestamptz,
//! microseconds since 2000-01-01).

use std::any::Any;

use chrono::{DateTime, Utc};
use cqrs_es::Aggregate;
use ehealth_aggregates::{
    Approval, CarePlanActivity, DeviceDispense, MergeRequest, ServiceRequest,
};
use uuid::Uuid;

use super::log::Cursor;
use crate::stored_event::Decoded;
use crate::{EventRef, Payload, ProjectionError};

/// Events handed from the reader to the fold at a time.
pub(super) const READ_CHUNK: usize = 2_048;

/// Events handed from the reader to the fold at a time: their rows as the binary COPY sent them,
/// and where each value is.
pub(crate) struct LogChunk {
    data: Vec<u8>,
    events: Vec<RawEvent>,
}

/// One event of a [`LogChunk`]: fixed-size values decoded, text values as ranges of its data.
struct RawEvent {
    cursor: Cursor,
    aggregate_type: (u32, u32),
    aggregate_id: (u32, u32),
    sequence: i64,
    payload: (u32, u32),
    /// The payload deserialized by the reader into its aggregate's event type, so the fold
    /// only applies it.
    decoded: Decoded,
    user_id: Option<Uuid>,
    recorded_at: DateTime<Utc>,
}

/// Deserializes a payload into the event type of `aggregate_type`, as the fold would (`None`
/// when it cannot: the fold then reads the text itself and reports why).
fn predecode(aggregate_type: &[u8], payload: &[u8]) -> Option<Box<dyn Any + Send>> {
    fn typed<A: Aggregate>(payload: &str) -> Option<Box<dyn Any + Send>>
    where
        A::Event: 'static,
    {
        serde_json::from_str::<A::Event>(payload)
            .ok()
            .map(|event| Box::new(event) as Box<dyn Any + Send>)
    }
    let payload = std::str::from_utf8(payload).ok()?;
    match aggregate_type {
        b"ServiceRequest" => typed::<ServiceRequest>(payload),
        b"MergeRequest" => typed::<MergeRequest>(payload),
        b"DeviceDispense" => typed::<DeviceDispense>(payload),
        b"Approval" => typed::<Approval>(payload),
        b"CarePlanActivity" => typed::<CarePlanActivity>(payload),
        _ => None,
    }
}

fn text(data: &[u8], (start, end): (u32, u32)) -> Result<&str, ProjectionError> {
    std::str::from_utf8(&data[start as usize..end as usize])
        .map_err(|e| ProjectionError::Schema(format!("an event's text is not UTF-8: {e}")))
}

impl LogChunk {
    pub(super) fn new() -> Self {
        Self {
            data: Vec::with_capacity(READ_CHUNK * 1024),
            events: Vec::with_capacity(READ_CHUNK),
        }
    }

    pub(super) fn len(&self) -> usize {
        self.events.len()
    }

    /// Empties the chunk, keeping its buffers.
    pub(super) fn clear(&mut self) {
        self.data.clear();
        self.events.clear();
    }

    pub(super) fn last_cursor(&self) -> Option<Cursor> {
        self.events.last().map(|e| e.cursor)
    }

    /// The events as the fold takes them.
    pub(super) fn refs(&self) -> Result<Vec<EventRef<'_>>, ProjectionError> {
        self.events
            .iter()
            .map(|e| {
                Ok(EventRef {
                    aggregate_type: text(&self.data, e.aggregate_type)?,
                    aggregate_id: text(&self.data, e.aggregate_id)?,
                    sequence: e.sequence,
                    global_position: e.cursor.position,
                    payload: Payload::Decoded(&e.decoded, text(&self.data, e.payload)?),
                    user_id: e.user_id,
                    recorded_at: e.recorded_at,
                })
            })
            .collect()
    }

    /// Appends the tuple at the start of `buf` if it is complete: `Ok(Some(its length))`,
    /// `Ok(None)` when more bytes are needed.
    fn push_tuple(&mut self, buf: &[u8]) -> Result<Option<usize>, ProjectionError> {
        let bad = |what: &str| ProjectionError::Schema(format!("unexpected COPY data: {what}"));
        let mut at = 2usize;
        let Some(count) = buf.get(..2) else {
            return Ok(None);
        };
        let count = i16::from_be_bytes([count[0], count[1]]);
        if count != 8 {
            return Err(bad(&format!("{count} fields in a row")));
        }
        let mut fields = [None::<(usize, usize)>; 8];
        for field in &mut fields {
            let Some(len) = buf.get(at..at + 4) else {
                return Ok(None);
            };
            let len = i32::from_be_bytes([len[0], len[1], len[2], len[3]]);
            at += 4;
            if len >= 0 {
                let end = at + len as usize;
                if buf.len() < end {
                    return Ok(None);
                }
                *field = Some((at, end));
                at = end;
            }
        }
        let int8 = |f: Option<(usize, usize)>, name: &str| -> Result<i64, ProjectionError> {
            let (start, end) = f.ok_or_else(|| bad(&format!("{name} is null")))?;
            let bytes: [u8; 8] = buf[start..end]
                .try_into()
                .map_err(|_| bad(&format!("{name} is not 8 bytes")))?;
            Ok(i64::from_be_bytes(bytes))
        };
        let base = self.data.len();
        let range =
            |f: Option<(usize, usize)>, name: &str| -> Result<(u32, u32), ProjectionError> {
                let (start, end) = f.ok_or_else(|| bad(&format!("{name} is null")))?;
                Ok(((base + start) as u32, (base + end) as u32))
            };
        let tx_id = int8(fields[0], "tx_id")? as u64;
        let position = int8(fields[1], "global_position")?;
        let aggregate_type = range(fields[2], "aggregate_type")?;
        let aggregate_id = range(fields[3], "aggregate_id")?;
        let sequence = int8(fields[4], "sequence")?;
        let payload = range(fields[5], "payload")?;
        let user_id = fields[6]
            .and_then(|(start, end)| std::str::from_utf8(&buf[start..end]).ok())
            .and_then(|u| Uuid::parse_str(u).ok());
        // Microseconds since 2000-01-01, as sqlx decodes a timestamptz.
        let micros = int8(fields[7], "recorded_at")?;
        let recorded_at = DateTime::<Utc>::from_timestamp_micros(micros + 946_684_800_000_000)
            .ok_or_else(|| bad("recorded_at is out of range"))?;
        let slice = |(start, end): (u32, u32)| &buf[start as usize - base..end as usize - base];
        let decoded = Decoded::new(predecode(slice(aggregate_type), slice(payload)));
        self.data.extend_from_slice(&buf[..at]);
        self.events.push(RawEvent {
            cursor: Cursor { tx_id, position },
            aggregate_type,
            aggregate_id,
            sequence,
            payload,
            decoded,
            user_id,
            recorded_at,
        });
        Ok(Some(at))
    }
}

/// The state of a binary COPY being decoded message by message: a tuple (or the header) may
/// span messages.
#[derive(Default)]
pub(super) struct LogDecoder {
    header: bool,
    done: bool,
    /// Bytes of a tuple (or of the header) split over more than one message.
    partial: Vec<u8>,
}

impl LogDecoder {
    /// Decodes one message of the COPY into `chunk`. Whenever `chunk` holds `limit` events it is
    /// moved to `full` and replaced by `fresh()`.
    pub(super) fn feed(
        &mut self,
        message: &[u8],
        chunk: &mut LogChunk,
        limit: usize,
        full: &mut Vec<LogChunk>,
        mut fresh: impl FnMut() -> LogChunk,
    ) -> Result<(), ProjectionError> {
        let mut buf: &[u8] = message;
        if !self.partial.is_empty() {
            self.partial.extend_from_slice(buf);
            buf = &[];
        }
        let mut from_partial = !self.partial.is_empty();
        loop {
            let input: &[u8] = if from_partial { &self.partial } else { buf };
            if input.is_empty() {
                break;
            }
            let used = if !self.header {
                let used = copy_header(input)?;
                self.header = used.is_some();
                used
            } else if input.len() >= 2 && input[..2] == (-1i16).to_be_bytes() {
                self.done = true;
                Some(2)
            } else {
                chunk.push_tuple(input)?
            };
            let Some(used) = used else {
                if !from_partial {
                    self.partial.extend_from_slice(buf);
                }
                break;
            };
            if from_partial {
                self.partial.drain(..used);
                from_partial = !self.partial.is_empty();
            } else {
                buf = &buf[used..];
            }
            if chunk.len() == limit {
                full.push(std::mem::replace(chunk, fresh()));
            }
        }
        Ok(())
    }

    /// After the last message: whether the COPY ended with its trailer.
    pub(super) fn finish(&self) -> Result<(), ProjectionError> {
        if self.done {
            Ok(())
        } else {
            Err(ProjectionError::Schema(
                "the COPY of the log ended early".into(),
            ))
        }
    }
}

/// The header of a binary COPY: its length once complete.
fn copy_header(buf: &[u8]) -> Result<Option<usize>, ProjectionError> {
    const SIGNATURE: &[u8] = b"PGCOPY\n\xff\r\n\0";
    if buf.len() < SIGNATURE.len() + 8 {
        return Ok(None);
    }
    if &buf[..SIGNATURE.len()] != SIGNATURE {
        return Err(ProjectionError::Schema("not a binary COPY stream".into()));
    }
    let ext = &buf[SIGNATURE.len() + 4..SIGNATURE.len() + 8];
    let len = SIGNATURE.len() + 8 + u32::from_be_bytes([ext[0], ext[1], ext[2], ext[3]]) as usize;
    Ok((buf.len() >= len).then_some(len))
}

#[cfg(test)]
mod tests;
