//! Reading the fields of an import file's objects, naming the entry at fault.

use chrono::{DateTime, Utc};
use ehealth_aggregates::common::parse_reference;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use uuid::Uuid;

/// Reads one field of an import object.
pub(super) struct Fields<'a> {
    pub what: String,
    pub obj: &'a Map<String, Value>,
}

impl<'a> Fields<'a> {
    pub fn new(list: &str, index: usize, value: &'a Value) -> anyhow::Result<Self> {
        let obj = value
            .as_object()
            .ok_or_else(|| anyhow::anyhow!("{list}[{index}]: expected an object"))?;
        Ok(Self {
            what: format!("{list}[{index}]"),
            obj,
        })
    }

    pub fn err(&self, field: &str, why: impl std::fmt::Display) -> anyhow::Error {
        anyhow::anyhow!("{}.{field}: {why}", self.what)
    }

    pub fn uuid(&self, field: &str) -> anyhow::Result<Uuid> {
        self.opt_uuid(field)?
            .ok_or_else(|| self.err(field, "is required"))
    }

    /// `field`, or `alias` where `field` is absent (the import takes either name of the column).
    pub fn uuid_or(&self, field: &str, alias: &str) -> anyhow::Result<Uuid> {
        match self.opt_uuid(field)? {
            Some(id) => Ok(id),
            None => self.uuid(alias),
        }
    }

    pub fn opt_uuid(&self, field: &str) -> anyhow::Result<Option<Uuid>> {
        parse_reference(self.obj.get(field)).map_err(|e| self.err(field, e))
    }

    pub fn parse<T: DeserializeOwned>(&self, field: &str) -> anyhow::Result<T> {
        let v = self.obj.get(field).cloned().unwrap_or(Value::Null);
        serde_json::from_value(v).map_err(|e| self.err(field, e))
    }

    pub fn opt<T: DeserializeOwned>(&self, field: &str) -> anyhow::Result<Option<T>> {
        match self.obj.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(_) => self.parse(field).map(Some),
        }
    }

    pub fn string(&self, field: &str) -> anyhow::Result<String> {
        self.parse(field)
    }

    pub fn time(&self, field: &str, default: DateTime<Utc>) -> anyhow::Result<DateTime<Utc>> {
        Ok(self.opt(field)?.unwrap_or(default))
    }

    /// Every field the record does not model, kept verbatim: not in `known`, and not one of the
    /// fields every entity record models (its id and who created and last changed it, when).
    pub fn other(&self, known: &[&str]) -> Map<String, Value> {
        self.obj
            .iter()
            .filter(|(k, _)| !known.contains(&k.as_str()) && !EVERY_RECORD.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }
}

/// The fields every entity record models.
const EVERY_RECORD: [&str; 5] = [
    "id",
    "inserted_at",
    "inserted_by",
    "updated_at",
    "updated_by",
];

/// Every entry of the list `key` of the file, read from its fields by `parse` (which name the
/// entry at fault).
pub(super) fn records<T>(
    file: &Value,
    key: &str,
    parse: impl Fn(&Fields) -> anyhow::Result<T>,
) -> anyhow::Result<Vec<T>> {
    list(file, key)
        .iter()
        .enumerate()
        .map(|(i, v)| parse(&Fields::new(key, i, v)?))
        .collect()
}

/// The list `key` of the file (none: empty).
pub(super) fn list<'a>(file: &'a Value, key: &str) -> &'a [Value] {
    file.get(key)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}
