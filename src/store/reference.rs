//! Reference data owned by other registries (legal entities, parties, users, employees, persons,
//! dictionaries, settings): the local copy `ehealth-es import` loads, read on every action through
//! the instance's cache (`crate::reference`). Every statement is the same text on both backends;
//! only how uuids and JSON are bound and read differs.

use async_trait::async_trait;
use serde_json::Value;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::reference::cache::Cache;
use crate::reference::{Employee, LegalEntity, PartyFacts, Person};

#[async_trait]
pub trait ReferenceData: Send + Sync {
    async fn legal_entity(&self, id: Uuid) -> Result<Option<LegalEntity>, sqlx::Error>;
    /// A setting's value, if it was imported.
    async fn setting(&self, key: &str) -> Result<Option<Value>, sqlx::Error>;
    /// A dictionary's values, if it was imported.
    async fn dictionary(&self, name: &str) -> Result<Option<Value>, sqlx::Error>;
    /// Employees of the user's party in a legal entity.
    async fn user_employees(
        &self,
        user_id: Uuid,
        legal_entity_id: Uuid,
    ) -> Result<Vec<Employee>, sqlx::Error>;
    /// `tax_id` of the party of an employee.
    async fn employee_tax_id(&self, employee_id: Uuid) -> Result<Option<String>, sqlx::Error>;
    async fn employee_legal_entity(&self, employee_id: Uuid) -> Result<Option<Uuid>, sqlx::Error>;
    /// The party behind a user (its verification and death), if the user and party are known.
    async fn user_party(&self, user_id: Uuid) -> Result<Option<PartyFacts>, sqlx::Error>;
    async fn person(&self, id: Uuid) -> Result<Option<Person>, sqlx::Error>;

    /// Inserts or replaces `rows`, in one transaction.
    async fn upsert(&self, rows: &[ReferenceRow]) -> Result<(), sqlx::Error>;

    /// Empties `cache` whenever reference data changes, until `shutdown`; it may cache only while
    /// this watches. On SQLite nothing is cached: its reads are in-process, and another process
    /// (an import) could change the file without telling this one; this returns at once.
    async fn watch(&self, cache: Cache, shutdown: CancellationToken);
}

/// One row of reference data, validated.
pub enum ReferenceRow {
    Setting(&'static str, Value),
    Dictionary(String, Value),
    LegalEntity {
        id: Uuid,
        kind: String,
        status: String,
        nhs_verified: bool,
        edrpou: Option<String>,
    },
    Party {
        id: Uuid,
        tax_id: Option<String>,
        first_name: Option<String>,
        last_name: Option<String>,
        verification_status: Option<String>,
        death_date: Option<chrono::NaiveDate>,
    },
    User {
        id: Uuid,
        party_id: Uuid,
    },
    Employee {
        id: Uuid,
        party_id: Uuid,
        legal_entity_id: Uuid,
        employee_type: String,
        status: String,
    },
    Person {
        id: Uuid,
        status: String,
        authentication_methods: Value,
    },
}

pub(super) const LEGAL_ENTITY: &str =
    "SELECT type, status, nhs_verified, edrpou FROM legal_entities WHERE id = $1";
pub(super) const SETTING: &str = "SELECT value FROM settings WHERE key = $1";
pub(super) const DICTIONARY: &str = "SELECT \"values\" FROM dictionaries WHERE name = $1";
pub(super) const USER_EMPLOYEES: &str = "SELECT e.id, e.employee_type, e.status FROM users u \
     JOIN employees e ON e.party_id = u.party_id WHERE u.id = $1 AND e.legal_entity_id = $2";
pub(super) const EMPLOYEE_TAX_ID: &str =
    "SELECT p.tax_id FROM employees e JOIN parties p ON p.id = e.party_id WHERE e.id = $1";
pub(super) const EMPLOYEE_LEGAL_ENTITY: &str =
    "SELECT legal_entity_id FROM employees WHERE id = $1";
pub(super) const USER_PARTY: &str = "SELECT p.verification_status, p.death_date FROM users u \
     JOIN parties p ON p.id = u.party_id WHERE u.id = $1";
pub(super) const PERSON: &str = "SELECT status, authentication_methods FROM persons WHERE id = $1";

pub(super) const UPSERT_SETTING: &str = "INSERT INTO settings (key, value) VALUES ($1, $2) \
    ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value";
pub(super) const UPSERT_DICTIONARY: &str = "INSERT INTO dictionaries (name, \"values\") \
    VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET \"values\" = EXCLUDED.\"values\"";
pub(super) const UPSERT_LEGAL_ENTITY: &str = "INSERT INTO legal_entities (id, type, status, \
    nhs_verified, edrpou) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO UPDATE SET \
    type = EXCLUDED.type, status = EXCLUDED.status, nhs_verified = EXCLUDED.nhs_verified, \
    edrpou = EXCLUDED.edrpou";
pub(super) const UPSERT_PARTY: &str = "INSERT INTO parties (id, tax_id, first_name, last_name, \
    verification_status, death_date) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO UPDATE \
    SET tax_id = EXCLUDED.tax_id, first_name = EXCLUDED.first_name, \
    last_name = EXCLUDED.last_name, verification_status = EXCLUDED.verification_status, \
    death_date = EXCLUDED.death_date";
pub(super) const UPSERT_USER: &str = "INSERT INTO users (id, party_id) VALUES ($1, $2) \
    ON CONFLICT (id) DO UPDATE SET party_id = EXCLUDED.party_id";
pub(super) const UPSERT_EMPLOYEE: &str = "INSERT INTO employees (id, party_id, legal_entity_id, \
    employee_type, status) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO UPDATE SET \
    party_id = EXCLUDED.party_id, legal_entity_id = EXCLUDED.legal_entity_id, \
    employee_type = EXCLUDED.employee_type, status = EXCLUDED.status";
pub(super) const UPSERT_PERSON: &str = "INSERT INTO persons (id, status, authentication_methods) \
    VALUES ($1, $2, $3) ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status, \
    authentication_methods = EXCLUDED.authentication_methods";
