//! Given/when/then helpers the aggregates' unit tests share, so each test states only its case.

use std::fmt::{Debug, Display};

use chrono::{DateTime, TimeZone, Utc};
use cqrs_es::test::{AggregateTestExecutor, TestFramework};
use cqrs_es::{Aggregate, DomainEvent};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use crate::common::RecordAggregate;

// The ids the aggregates' tests share: one patient and legal entity acting, another of each that
// must be refused, the user who acts and the one who created the entity.
pub(crate) const PATIENT: Uuid = Uuid::from_u128(0xa000_0000_0000_0000_0000_0000_0000_0001);
pub(crate) const OTHER_PATIENT: Uuid = Uuid::from_u128(0xa000_0000_0000_0000_0000_0000_0000_0002);
pub(crate) const LEGAL_ENTITY: Uuid = Uuid::from_u128(0x1e00_0000_0000_0000_0000_0000_0000_0001);
pub(crate) const OTHER_LEGAL_ENTITY: Uuid =
    Uuid::from_u128(0x1e00_0000_0000_0000_0000_0000_0000_0002);
/// Who created the entity (its author, where the rules name one).
pub(crate) const CREATOR: Uuid = Uuid::from_u128(0xb000_0000_0000_0000_0000_0000_0000_0001);
pub(crate) const AUTHOR: Uuid = CREATOR;
/// Who sends the command.
pub(crate) const USER: Uuid = Uuid::from_u128(0xb000_0000_0000_0000_0000_0000_0000_0002);
/// A legal entity that has nothing to do with the entity.
pub(crate) const THIRD_LEGAL_ENTITY: Uuid =
    Uuid::from_u128(0x1e00_0000_0000_0000_0000_0000_0000_0003);
/// The employee of `LEGAL_ENTITY` the entity names (its requester, the one an approval is granted
/// to).
pub(crate) const EMPLOYEE: Uuid = Uuid::from_u128(0xe000_0000_0000_0000_0000_0000_0000_0001);
/// The service request an approval or a care plan activity is about.
pub(crate) const SERVICE_REQUEST: Uuid = Uuid::from_u128(0x5e00_0000_0000_4000_8000_0000_0000_0001);

// The patient's authentication by SMS: its method and phone, and its third person (a confidant)
// with the confidant's phone.
pub(crate) const AUTH_METHOD: Uuid = Uuid::from_u128(0xf000_0000_0000_0000_0000_0000_0000_0001);
pub(crate) const PHONE: &str = "+380931234585";
pub(crate) const THIRD_PERSON: Uuid = Uuid::from_u128(0xa000_0000_0000_0000_0000_0000_0000_0003);
pub(crate) const THIRD_PERSON_PHONE: &str = "+380671112233";

/// The fields of a JSON object: the imported fields a record keeps verbatim (`other`).
pub(crate) fn fields(object: Value) -> serde_json::Map<String, Value> {
    match object {
        Value::Object(fields) => fields,
        other => panic!("not an object: {other}"),
    }
}

/// When the entity was created (imported).
pub(crate) fn created_at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 3, 1, 9, 0, 0).unwrap()
}

/// When the command is sent.
pub(crate) fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 3, 5, 14, 30, 15).unwrap()
}

/// A record names the aggregate that holds it, so a test can start from the record alone;
/// `record_aggregate!` implements it.
pub(crate) trait Imported: Clone {
    type Aggregate: RecordAggregate<Record = Self, Services = ()>;
}

/// The event of the import of `record`, the first of the entity's history.
pub(crate) fn imported<R: Imported>(record: R) -> Vec<<R::Aggregate as Aggregate>::Event> {
    vec![R::Aggregate::imported(Box::new(record))]
}

/// Given the entity imported as `record`.
pub(crate) fn given<R: Imported>(record: R) -> AggregateTestExecutor<R::Aggregate> {
    TestFramework::<R::Aggregate>::with(()).given(imported(record))
}

/// The aggregate holding `record`, as its import leaves it.
pub(crate) fn holding<R: Imported>(record: R) -> R::Aggregate {
    replay(imported(record))
}

/// The record after `events` (the import first) were applied in order.
pub(crate) fn state_after<A: RecordAggregate>(events: Vec<A::Event>) -> A::Record
where
    A::Record: Clone,
{
    replay::<A>(events)
        .record()
        .cloned()
        .expect("the entity was imported")
}

/// What `command` writes after `history` (the import first), and the record afterwards; the
/// command must succeed.
pub(crate) async fn written_after<A>(
    history: Vec<A::Event>,
    command: A::Command,
) -> (Vec<A::Event>, A::Record)
where
    A: RecordAggregate<Services = ()>,
    A::Record: Clone,
    A::Error: Debug,
{
    let given = TestFramework::<A>::with(()).given(history.clone());
    let written = when(given, command).await.expect("the command succeeds");
    let state = state_after::<A>(history.into_iter().chain(written.clone()).collect());
    (written, state)
}

/// The record after `command` on the entity imported as `record`; the command must succeed.
pub(crate) async fn state_after_command<R: Imported>(
    record: R,
    command: <R::Aggregate as Aggregate>::Command,
) -> R
where
    <R::Aggregate as Aggregate>::Error: Debug,
{
    written_after::<R::Aggregate>(imported(record), command)
        .await
        .1
}

/// Given no events: the entity was never imported.
pub(crate) fn given_nothing<A: Aggregate<Services = ()>>() -> AggregateTestExecutor<A> {
    TestFramework::<A>::with(()).given_no_previous_events()
}

/// What `command` answers after `given`: the events it would write, or its refusal.
pub(crate) async fn when<A: Aggregate>(
    given: AggregateTestExecutor<A>,
    command: A::Command,
) -> Result<Vec<A::Event>, A::Error> {
    given.when_async(command).await.inspect_result()
}

/// The aggregate after `events` were applied in order.
pub(crate) fn replay<A: Aggregate + Default>(events: impl IntoIterator<Item = A::Event>) -> A {
    let mut aggregate = A::default();
    for event in events {
        aggregate.apply(event);
    }
    aggregate
}

/// Asserts `result` is the refusal `expected`, whose message (the text of the answer) is `message`.
#[track_caller]
pub(crate) fn assert_refused<T: Debug, E: PartialEq + Debug + Display>(
    result: Result<T, E>,
    expected: E,
    message: &str,
) {
    let err = result.expect_err("the command is refused");
    assert_eq!(err, expected);
    assert_eq!(err.to_string(), message, "the message of {expected:?}");
}

/// Asserts each result, named by its case, is the refusal `expected` whose message is `message`.
#[track_caller]
pub(crate) fn assert_each_refused<C: Debug, T: Debug, E: PartialEq + Debug + Display>(
    results: impl IntoIterator<Item = (C, Result<T, E>)>,
    expected: E,
    message: &str,
) {
    for (case, result) in results {
        let err = result.expect_err(&format!("{case:?} is refused"));
        assert_eq!(err, expected, "{case:?}");
        assert_eq!(err.to_string(), message, "the message for {case:?}");
    }
}

/// The import rules every aggregate shares: before the import there is no record; importing an
/// entity that does not exist creates it holding `record` as given; importing one that exists is a
/// no-op, even when the file changed it.
pub(crate) async fn assert_imported_once<R>(
    record: R,
    changed: R,
    import: fn(Box<R>) -> <R::Aggregate as Aggregate>::Command,
) where
    R: Imported + PartialEq + Debug,
    <R::Aggregate as Aggregate>::Event: PartialEq,
    <R::Aggregate as Aggregate>::Error: PartialEq,
{
    let kind = <R::Aggregate as Aggregate>::TYPE;
    assert_eq!(
        R::Aggregate::default().record(),
        None,
        "a {kind} before its import"
    );
    assert_eq!(
        when(
            given_nothing::<R::Aggregate>(),
            import(Box::new(record.clone()))
        )
        .await,
        Ok(imported(record.clone())),
        "the import of a new {kind} creates it"
    );
    assert_eq!(
        state_after::<R::Aggregate>(imported(record.clone())),
        record,
        "an imported {kind} holds the imported record"
    );
    assert_eq!(
        when(given(record), import(Box::new(changed))).await,
        Ok(vec![]),
        "a second import of an existing {kind} is a no-op"
    );
}

/// Asserts `events`, none of them an import, change nothing on an entity that was never imported.
#[track_caller]
pub(crate) fn assert_nothing_changes_before_the_import<A>(
    events: impl IntoIterator<Item = A::Event>,
) where
    A: Aggregate + Default + PartialEq + Debug,
{
    assert_eq!(
        replay::<A>(events),
        A::default(),
        "events on a {} that was never imported",
        A::TYPE
    );
}

/// Asserts each event's type is `name` (the name the service matches stored events on) at
/// version 1.0.
#[track_caller]
pub(crate) fn assert_named_and_versioned<E: DomainEvent>(events: Vec<(E, &str)>) {
    for (event, name) in events {
        assert_eq!(event.event_type(), name);
        assert_eq!(event.event_version(), "1.0", "the version of {name}");
    }
}

/// The statuses of a type whose `VALUES` are `values`, but `except`, each with the text it is
/// written as: read from the type's own list, so a status added later is covered too.
pub(crate) fn statuses_except<S>(values: &[&'static str], except: &[S]) -> Vec<(S, &'static str)>
where
    S: DeserializeOwned + PartialEq,
{
    values
        .iter()
        .map(|&text| {
            let status = serde_json::from_value(Value::from(text))
                .unwrap_or_else(|e| panic!("{text} is not a status: {e}"));
            (status, text)
        })
        .filter(|(status, _)| !except.contains(status))
        .collect()
}

/// Asserts every status of a type whose `VALUES` are `values` is read, stored and rendered
/// (`as_str`) as that same text.
#[track_caller]
pub(crate) fn assert_written_as<S>(values: &[&'static str], as_str: fn(S) -> &'static str)
where
    S: DeserializeOwned + Serialize + PartialEq + Copy,
{
    for (status, text) in statuses_except::<S>(values, &[]) {
        assert_eq!(as_str(status), text);
        assert_eq!(serde_json::to_value(status).unwrap(), Value::from(text));
    }
}

/// Asserts each field of `view`, named by its JSON pointer, holds the value given.
#[track_caller]
pub(crate) fn assert_fields(view: &Value, fields: &[(&str, Value)]) {
    for (pointer, expected) in fields {
        assert_eq!(
            view.pointer(pointer),
            Some(expected),
            "{pointer} of {view:#}"
        );
    }
}
