use super::*;

const FILTERS: [Filter; 2] = [
    Filter {
        param: "status",
        column: "status",
        kind: Kind::Enum(&["active", "recalled"]),
        doc: "",
    },
    Filter {
        param: "patient_id",
        column: "patient_id",
        kind: Kind::Uuid,
        doc: "",
    },
];

/// A query string of `pairs` (values that need no encoding).
fn raw(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// The query of a list with [`FILTERS`] for these parameters (values that need no encoding).
fn query(pairs: &[(&str, &str)]) -> Result<ListQuery, ApiError> {
    query_string(&raw(pairs))
}

/// The query of a list with [`FILTERS`] for a query string as sent.
fn query_string(raw: &str) -> Result<ListQuery, ApiError> {
    parse("service_requests", &FILTERS, Some(raw))
}

fn entries(err: &ApiError) -> Vec<(String, String)> {
    err.invalid
        .as_ref()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["entry"].as_str().unwrap().to_string(),
                e["rules"][0]["rule"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn dates_are_rfc_3339_instants_or_utc_days() {
    assert_eq!(
        date_or_instant("2024-05-01T13:00:00+03:00")
            .unwrap()
            .to_rfc3339(),
        "2024-05-01T10:00:00+00:00"
    );
    assert_eq!(
        date_or_instant("2024-05-01").unwrap().to_rfc3339(),
        "2024-05-01T00:00:00+00:00"
    );
    for bad in [
        "2024-13-01",
        "yesterday",
        "2024-05-01T10:00:00",
        "1714557600",
    ] {
        assert_eq!(date_or_instant(bad), None, "{bad}");
    }
}

#[test]
fn valid_parameters_become_conditions_and_the_limit() {
    let id = Uuid::from_u128(7);
    let q = query(&[
        ("status", "active"),
        ("patient_id", &id.to_string()),
        ("updated_from", "2024-05-01"),
        ("limit", "500"),
    ])
    .unwrap();
    assert_eq!(
        q.equals,
        vec![
            ("status", Bind::Text("active".into())),
            ("patient_id", Bind::Uuid(id))
        ]
    );
    assert_eq!(q.ranges.len(), 1);
    assert_eq!(q.limit, 500);
    assert_eq!(q.kept.len(), 4);
}

#[test]
fn every_invalid_parameter_is_reported_at_once() {
    let err = query(&[
        ("status", "ACTIVE"),
        ("patient_id", "42"),
        ("inserted_to", "soon"),
        ("limit", "0"),
        ("cursor", "x"),
        ("stauts", "recalled"),
        ("status", "active"),
        ("status", "recalled"),
    ])
    .unwrap_err();
    assert_eq!(err.status, 422);
    assert_eq!(err.message, crate::api::error::VALIDATION_FAILED);
    assert_eq!(
        entries(&err),
        [
            ("status", "inclusion"),
            ("patient_id", "uuid"),
            ("inserted_to", "date"),
            ("limit", "number"),
            ("cursor", "invalid"),
            ("stauts", "schema"),
            ("status", "invalid"),
        ]
        .map(|(a, b)| (a.to_string(), b.to_string()))
    );
}

#[test]
fn empty_values_are_absent_parameters() {
    let q = query(&[("status", ""), ("limit", ""), ("cursor", "")]).unwrap();
    assert!(q.equals.is_empty());
    assert_eq!(q.limit, DEFAULT_LIMIT);
    assert_eq!(q.after, None);
    assert!(q.kept.is_empty());
}

#[test]
fn a_single_invalid_parameter_carries_its_rule_as_the_message() {
    for limit in ["501", "ten"] {
        let err = query(&[("limit", limit)]).unwrap_err();
        let message = "expected an integer between 1 and 500";
        assert_eq!(err.message, message, "limit={limit}");
    }
}

#[test]
fn a_repeated_unknown_parameter_is_refused_as_unknown_then_as_repeated() {
    let err = query(&[("foo", "1"), ("foo", "2"), ("foo", "3")]).unwrap_err();
    assert_eq!(
        entries(&err),
        [("foo", "schema"), ("foo", "invalid")].map(|(a, b)| (a.to_string(), b.to_string()))
    );
    // Two refusals are the generic message, even when they say the same thing.
    assert_eq!(err.message, crate::api::error::VALIDATION_FAILED);
}

#[test]
fn values_are_form_decoded_before_they_are_checked() {
    let q = query_string("updated_from=2024-05-01T10%3A00%3A00%2B03%3A00&status=act%69ve").unwrap();
    assert_eq!(q.equals, vec![("status", Bind::Text("active".into()))]);
    assert_eq!(q.ranges[0].2.to_rfc3339(), "2024-05-01T07:00:00+00:00");
    assert_eq!(
        q.kept[0],
        (
            "updated_from".to_string(),
            "2024-05-01T10:00:00+03:00".to_string()
        )
    );
}
