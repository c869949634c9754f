//! The binary COPY decoder against hand-built streams and against the bytes PostgreSQL sends for
//! the rebuild's own log query.

use chrono::{DateTime, Utc};

use super::*;
use crate::rebuild::log::{copy_log_query, LogEvent, LogRow};

const SIGNATURE: &[u8] = b"PGCOPY\n\xff\r\n\0";
const TRAILER: [u8; 2] = [0xff, 0xff];
const USER: &str = "a0000000-0000-4000-8000-000000000001";
/// Microseconds from 1970-01-01 to 2000-01-01, PostgreSQL's epoch.
const PG_EPOCH_MICROS: i64 = 946_684_800_000_000;

fn header(extension: &[u8]) -> Vec<u8> {
    let mut out = SIGNATURE.to_vec();
    out.extend_from_slice(&0i32.to_be_bytes());
    out.extend_from_slice(&(extension.len() as i32).to_be_bytes());
    out.extend_from_slice(extension);
    out
}

fn tuple(fields: &[Option<Vec<u8>>]) -> Vec<u8> {
    let mut out = (fields.len() as i16).to_be_bytes().to_vec();
    for field in fields {
        match field {
            Some(bytes) => {
                out.extend_from_slice(&(bytes.len() as i32).to_be_bytes());
                out.extend_from_slice(bytes);
            }
            None => out.extend_from_slice(&(-1i32).to_be_bytes()),
        }
    }
    out
}

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

/// The eight fields of one event, as the log query sends them.
fn event(position: i64, user: Option<&str>, recorded_at: DateTime<Utc>) -> Vec<Option<Vec<u8>>> {
    let micros = recorded_at.timestamp_micros() - PG_EPOCH_MICROS;
    vec![
        Some(1_000u64.to_be_bytes().to_vec()),
        Some(position.to_be_bytes().to_vec()),
        Some(b"MergeRequest".to_vec()),
        Some(format!("id-{position}").into_bytes()),
        Some(3i64.to_be_bytes().to_vec()),
        Some(br#"{"Unknown":{}}"#.to_vec()),
        user.map(|u| u.as_bytes().to_vec()),
        Some(micros.to_be_bytes().to_vec()),
    ]
}

/// What the fold sees of a chunk's events.
fn seen(chunk: &LogChunk) -> Vec<LogEvent> {
    chunk
        .refs()
        .unwrap()
        .iter()
        .zip(&chunk.events)
        .map(|(e, raw)| LogEvent {
            cursor: raw.cursor,
            aggregate_type: e.aggregate_type.to_string(),
            aggregate_id: e.aggregate_id.to_string(),
            sequence: e.sequence,
            payload: match e.payload {
                Payload::Decoded(_, text) => text.to_string(),
                other => panic!("{other:?}"),
            },
            user_id: e.user_id,
            recorded_at: e.recorded_at,
        })
        .collect()
}

/// Decodes `stream` handed over in messages of `size` bytes, two events per chunk.
fn decode(stream: &[u8], size: usize) -> Result<Vec<LogEvent>, ProjectionError> {
    let mut decoder = LogDecoder::default();
    let mut chunk = LogChunk::new();
    let mut full = Vec::new();
    for message in stream.chunks(size) {
        decoder.feed(message, &mut chunk, 2, &mut full, LogChunk::new)?;
    }
    decoder.finish()?;
    full.push(chunk);
    Ok(full.iter().flat_map(seen).collect())
}

fn push(fields: &[Option<Vec<u8>>]) -> Result<Option<usize>, ProjectionError> {
    LogChunk::new().push_tuple(&tuple(fields))
}

fn refused(result: Result<Option<usize>, ProjectionError>) -> String {
    match result {
        Err(ProjectionError::Schema(message)) => message,
        other => panic!("not refused: {other:?}"),
    }
}

#[test]
fn a_header_is_complete_with_its_extension_and_nothing_else_is_a_copy() {
    assert_eq!(copy_header(&header(b"")).unwrap(), Some(19));
    assert_eq!(copy_header(&header(b"more")).unwrap(), Some(23));
    // Bytes after the header are not its own.
    let mut followed = header(b"");
    followed.extend_from_slice(&TRAILER);
    assert_eq!(copy_header(&followed).unwrap(), Some(19));
    // Until every byte is there, more are needed.
    let full = header(b"more");
    for len in 0..full.len() {
        assert_eq!(copy_header(&full[..len]).unwrap(), None, "{len} bytes");
    }
    let mut text = b"id,status\n".to_vec();
    text.resize(30, b' ');
    assert!(copy_header(&text).is_err());
}

#[test]
fn a_tuple_yields_each_value_in_its_type() {
    let recorded_at = at("2024-03-01T09:00:00.123456Z");
    let fields = event(42, Some(USER), recorded_at);
    let mut chunk = LogChunk::new();
    let bytes = tuple(&fields);
    assert_eq!(chunk.push_tuple(&bytes).unwrap(), Some(bytes.len()));
    assert_eq!(
        seen(&chunk),
        [LogEvent {
            cursor: Cursor {
                tx_id: 1_000,
                position: 42
            },
            aggregate_type: "MergeRequest".into(),
            aggregate_id: "id-42".into(),
            sequence: 3,
            payload: r#"{"Unknown":{}}"#.into(),
            user_id: Some(Uuid::parse_str(USER).unwrap()),
            recorded_at,
        }]
    );
    assert_eq!(chunk.last_cursor().unwrap().position, 42);
}

#[test]
fn instants_before_the_postgres_epoch_and_texts_beyond_ascii_decode_exactly() {
    let mut fields = event(1, None, at("1969-07-20T20:17:40.000001Z"));
    fields[3] = Some("ідентифікатор".as_bytes().to_vec());
    let mut chunk = LogChunk::new();
    chunk.push_tuple(&tuple(&fields)).unwrap();
    let got = &seen(&chunk)[0];
    assert_eq!(got.recorded_at, at("1969-07-20T20:17:40.000001Z"));
    assert_eq!(got.aggregate_id, "ідентифікатор");
}

#[test]
fn a_null_or_malformed_user_is_no_user() {
    for user in [None, Some("not-a-uuid"), Some("")] {
        let mut chunk = LogChunk::new();
        chunk
            .push_tuple(&tuple(&event(1, user, at("2024-01-01T00:00:00Z"))))
            .unwrap();
        assert_eq!(seen(&chunk)[0].user_id, None, "{user:?}");
    }
}

#[test]
fn a_null_in_any_other_field_is_refused_by_its_name() {
    let names = [
        "tx_id",
        "global_position",
        "aggregate_type",
        "aggregate_id",
        "sequence",
        "payload",
        "",
        "recorded_at",
    ];
    for (i, name) in names.iter().enumerate().filter(|(i, _)| *i != 6) {
        let mut fields = event(1, Some(USER), at("2024-01-01T00:00:00Z"));
        fields[i] = None;
        assert_eq!(
            refused(push(&fields)),
            format!("unexpected COPY data: {name} is null")
        );
    }
}

#[test]
fn integers_of_another_width_rows_of_another_width_and_impossible_instants_are_refused() {
    let mut fields = event(1, None, at("2024-01-01T00:00:00Z"));
    fields[4] = Some(3i32.to_be_bytes().to_vec());
    assert_eq!(
        refused(push(&fields)),
        "unexpected COPY data: sequence is not 8 bytes"
    );
    let mut fields = event(1, None, at("2024-01-01T00:00:00Z"));
    fields.pop();
    assert_eq!(
        refused(push(&fields)),
        "unexpected COPY data: 7 fields in a row"
    );
    let mut fields = event(1, None, at("2024-01-01T00:00:00Z"));
    fields[7] = Some((i64::MAX - PG_EPOCH_MICROS).to_be_bytes().to_vec());
    assert_eq!(
        refused(push(&fields)),
        "unexpected COPY data: recorded_at is out of range"
    );
}

#[test]
fn a_truncated_tuple_waits_for_more_bytes_and_keeps_nothing() {
    let bytes = tuple(&event(1, Some(USER), at("2024-01-01T00:00:00Z")));
    for len in 0..bytes.len() {
        let mut chunk = LogChunk::new();
        assert_eq!(
            chunk.push_tuple(&bytes[..len]).unwrap(),
            None,
            "{len} bytes"
        );
        assert_eq!((chunk.len(), chunk.data.len()), (0, 0));
    }
}

#[test]
fn a_stream_decodes_alike_however_its_messages_split_it() {
    let times = [
        at("2024-01-01T00:00:00Z"),
        at("2024-01-01T00:00:01Z"),
        at("2024-01-01T00:00:02Z"),
    ];
    let mut stream = header(b"");
    for (position, time) in times.iter().enumerate() {
        let user = (position != 1).then_some(USER);
        stream.extend_from_slice(&tuple(&event(position as i64 + 1, user, *time)));
    }
    stream.extend_from_slice(&TRAILER);
    let whole = decode(&stream, stream.len()).unwrap();
    assert_eq!(whole.len(), 3);
    assert_eq!(
        whole.iter().map(|e| e.cursor.position).collect::<Vec<_>>(),
        [1, 2, 3]
    );
    assert_eq!(whole[1].user_id, None);
    for size in 1..stream.len() {
        assert_eq!(
            decode(&stream, size).unwrap(),
            whole,
            "messages of {size} bytes"
        );
    }
    // Without its trailer the stream ended early.
    let cut = &stream[..stream.len() - TRAILER.len()];
    assert!(matches!(decode(cut, 7), Err(ProjectionError::Schema(m)) if m.contains("ended early")));
}

#[test]
fn an_empty_stream_is_a_header_and_a_trailer() {
    let mut stream = header(b"");
    stream.extend_from_slice(&TRAILER);
    assert_eq!(decode(&stream, 5).unwrap(), []);
    assert!(decode(&header(b""), 5).is_err());
}

/// The rebuild's own catch-up query on a real server: the messages PostgreSQL sends decode to
/// the rows an ordinary query reads.
#[tokio::test]
async fn the_bytes_postgres_sends_for_the_log_query_decode_to_the_stored_events() {
    let pool = crate::test_db::postgres().await;
    let mut conn = pool.acquire().await.unwrap();
    for (i, metadata) in [
        format!(r#"{{"user_id":"{USER}"}}"#),
        "{}".to_string(),
        r#"{"user_id":"someone"}"#.to_string(),
    ]
    .iter()
    .enumerate()
    {
        sqlx::query(
            "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, \
             payload, metadata, recorded_at, hash) VALUES ('ServiceRequest', $1, 1, 'X', '1', \
             $2::jsonb, $3::jsonb, $4, decode(repeat('00', 32), 'hex'))",
        )
        .bind(format!("агрегат-{i}"))
        .bind(format!(r#"{{"Unknown": {{"n": {i}, "text": "ї"}}}}"#))
        .bind(metadata)
        .bind(at("1999-12-31T23:59:59.999999Z") + chrono::Duration::days(i as i64 * 9_000))
        .execute(&mut *conn)
        .await
        .unwrap();
    }
    let expected: Vec<LogRow> = sqlx::query_as(
        "SELECT tx_id::text, global_position, aggregate_type, aggregate_id, sequence, \
         payload::text, metadata->>'user_id', recorded_at FROM events ORDER BY global_position",
    )
    .fetch_all(&mut *conn)
    .await
    .unwrap();
    let expected: Vec<LogEvent> = expected
        .into_iter()
        .map(|row| LogEvent::from_row(row).unwrap())
        .collect();
    assert_eq!(expected.len(), 3);

    let mut copy = pool.acquire().await.unwrap();
    let messages: Vec<Vec<u8>> = {
        use futures::TryStreamExt;
        let stream = copy
            .copy_out_raw(&copy_log_query(Cursor::default(), u64::MAX >> 1))
            .await
            .unwrap();
        stream.map_ok(|m| m.to_vec()).try_collect().await.unwrap()
    };
    // As the server split it,
    let mut decoder = LogDecoder::default();
    let mut chunk = LogChunk::new();
    let mut full = Vec::new();
    for message in &messages {
        decoder
            .feed(message, &mut chunk, 2, &mut full, LogChunk::new)
            .unwrap();
    }
    decoder.finish().unwrap();
    full.push(chunk);
    assert_eq!(full.iter().flat_map(seen).collect::<Vec<_>>(), expected);
    // and split anyhow else.
    let stream = messages.concat();
    for size in [1, 2, 3, 19, 20, 64, stream.len()] {
        assert_eq!(decode(&stream, size).unwrap(), expected, "{size}");
    }
}
