//! The Event Manager's refusals of a query it cannot run: 422 `validation_failed`, the message,
//! and a `query_parameter` entry (with its rule) for every refused parameter, without `data` or
//! `paging`.

use crate::doctor;
use crate::events::{assert_query_error, events};
use crate::support::TestApp;

const DATE: &str = "expected a date (YYYY-MM-DD) or an RFC 3339 date-time";
const PAGE: &str = "expected an integer greater than or equal to 1";
const PAGE_SIZE: &str = "expected an integer between 1 and 500";
const NO_NUL: &str = "expected a string without NUL characters";
const SEVERAL: &str = "Validation failed. You can find validators description at our API Manifest: http://docs.apimanifest.apiary.io/#introduction/interacting-with-api/errors.";

/// A refused query, the message, and the entries (parameter, rule) of `invalid[]`.
type Refused = (
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
);

const REFUSED: [Refused; 19] = [
    (
        "new_value=REJECTED",
        "attribute_name must be set",
        &[("attribute_name", "required")],
    ),
    ("date=yesterday", DATE, &[("date", "date")]),
    ("date=2026-13-01", DATE, &[("date", "date")]),
    ("date=2026-02-30", DATE, &[("date", "date")]),
    ("date=01.02.2026", DATE, &[("date", "date")]),
    ("date=2026-01-02T03:04:05", DATE, &[("date", "date")]),
    ("entity_id=42", "expected a uuid", &[("entity_id", "uuid")]),
    ("page=0", PAGE, &[("page", "number")]),
    ("page=-1", PAGE, &[("page", "number")]),
    ("page=x", PAGE, &[("page", "number")]),
    ("page=1.5", PAGE, &[("page", "number")]),
    ("page_size=0", PAGE_SIZE, &[("page_size", "number")]),
    ("page_size=501", PAGE_SIZE, &[("page_size", "number")]),
    ("page_size=x", PAGE_SIZE, &[("page_size", "number")]),
    // Regression (found by fuzzing): PostgreSQL text cannot hold a NUL character, and a text
    // filter with one made the feed query fail with a 500. It is refused like any other
    // malformed value.
    ("event_type=%00", NO_NUL, &[("event_type", "format")]),
    (
        "entity_type=Merge%00Request",
        NO_NUL,
        &[("entity_type", "format")],
    ),
    (
        "attribute_name=%00",
        NO_NUL,
        &[("attribute_name", "format")],
    ),
    (
        "attribute_name=status&new_value=REJECTED%00",
        NO_NUL,
        &[("new_value", "format")],
    ),
    // Several refused parameters are reported together, with the generic message.
    (
        "date=soon&entity_id=nope&new_value=x&page=0&page_size=1000",
        SEVERAL,
        &[
            ("date", "date"),
            ("entity_id", "uuid"),
            ("attribute_name", "required"),
            ("page", "number"),
            ("page_size", "number"),
        ],
    ),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_or_incomplete_filter_or_page_answers_422_naming_every_refused_parameter() {
    let app = TestApp::spawn().await;
    let token = doctor(&app);
    for (query, message, entries) in REFUSED {
        let reply = events(&app, &token, query).await;
        assert_query_error(&reply, query, message, entries);
        assert!(
            reply.body.get("data").is_none(),
            "{query}: {:#}",
            reply.body
        );
        assert!(
            reply.body.get("paging").is_none(),
            "{query}: {:#}",
            reply.body
        );
    }
}
