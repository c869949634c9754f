//! Reference data owned by other registries (legal entities, parties, users, employees, persons,
//! dictionaries, settings): the local copy `ehealth-es import` loads, read on every action through
//! the instance's cache (`crate::reference`). Every statement, and the reading of its rows, is the
//! same on both backends (`reference_data!`); only how uuids are stored differs, and how the
//! backend keeps the cache correct (its `watch_changes`).

use async_trait::async_trait;
use serde_json::Value;
use sqlx::types::Json;
use sqlx::{PgPool, Postgres, Row, Sqlite};
use tokio_util::sync::CancellationToken;
use uuid::fmt::Hyphenated;
use uuid::Uuid;

use crate::db::{Lite, Pooled};
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

const LEGAL_ENTITY: &str =
    "SELECT type, status, nhs_verified, edrpou FROM legal_entities WHERE id = $1";
const SETTING: &str = "SELECT value FROM settings WHERE key = $1";
const DICTIONARY: &str = "SELECT \"values\" FROM dictionaries WHERE name = $1";
const USER_EMPLOYEES: &str = "SELECT e.id, e.employee_type, e.status FROM users u \
     JOIN employees e ON e.party_id = u.party_id WHERE u.id = $1 AND e.legal_entity_id = $2";
const EMPLOYEE_TAX_ID: &str =
    "SELECT p.tax_id FROM employees e JOIN parties p ON p.id = e.party_id WHERE e.id = $1";
const EMPLOYEE_LEGAL_ENTITY: &str = "SELECT legal_entity_id FROM employees WHERE id = $1";
const USER_PARTY: &str = "SELECT p.verification_status, p.death_date FROM users u \
     JOIN parties p ON p.id = u.party_id WHERE u.id = $1";
const PERSON: &str = "SELECT status, authentication_methods FROM persons WHERE id = $1";

const UPSERT_SETTING: &str = "INSERT INTO settings (key, value) VALUES ($1, $2) \
    ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value";
const UPSERT_DICTIONARY: &str = "INSERT INTO dictionaries (name, \"values\") \
    VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET \"values\" = EXCLUDED.\"values\"";
const UPSERT_LEGAL_ENTITY: &str = "INSERT INTO legal_entities (id, type, status, \
    nhs_verified, edrpou) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO UPDATE SET \
    type = EXCLUDED.type, status = EXCLUDED.status, nhs_verified = EXCLUDED.nhs_verified, \
    edrpou = EXCLUDED.edrpou";
const UPSERT_PARTY: &str = "INSERT INTO parties (id, tax_id, first_name, last_name, \
    verification_status, death_date) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO UPDATE \
    SET tax_id = EXCLUDED.tax_id, first_name = EXCLUDED.first_name, \
    last_name = EXCLUDED.last_name, verification_status = EXCLUDED.verification_status, \
    death_date = EXCLUDED.death_date";
const UPSERT_USER: &str = "INSERT INTO users (id, party_id) VALUES ($1, $2) \
    ON CONFLICT (id) DO UPDATE SET party_id = EXCLUDED.party_id";
const UPSERT_EMPLOYEE: &str = "INSERT INTO employees (id, party_id, legal_entity_id, \
    employee_type, status) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO UPDATE SET \
    party_id = EXCLUDED.party_id, legal_entity_id = EXCLUDED.legal_entity_id, \
    employee_type = EXCLUDED.employee_type, status = EXCLUDED.status";
const UPSERT_PERSON: &str = "INSERT INTO persons (id, status, authentication_methods) \
    VALUES ($1, $2, $3) ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status, \
    authentication_methods = EXCLUDED.authentication_methods";

/// The [`ReferenceData`] of a backend: `$name` over its handle `$handle`, whose SQL dialect is
/// `$db` and which stores uuids as `$uuid` (bound as it, read back from it). JSON is bound and
/// read as [`Json`], which is `jsonb` on PostgreSQL and text on SQLite. Writes run in the
/// handle's write transaction (`$begin`).
macro_rules! reference_data {
    ($name:ident($handle:ty), $db:ty, uuid: $uuid:ty, begin: $begin:ident) => {
        pub(crate) struct $name(pub $handle);

        impl $name {
            /// The statement that inserts or replaces `row`.
            fn upsert_query(
                row: &ReferenceRow,
            ) -> sqlx::query::Query<'_, $db, <$db as sqlx::Database>::Arguments<'_>> {
                let uuid = |id: &Uuid| <$uuid>::from(*id);
                match row {
                    ReferenceRow::Setting(key, value) => {
                        sqlx::query(UPSERT_SETTING).bind(*key).bind(Json(value))
                    }
                    ReferenceRow::Dictionary(name, values) => {
                        sqlx::query(UPSERT_DICTIONARY).bind(name).bind(Json(values))
                    }
                    ReferenceRow::LegalEntity {
                        id,
                        kind,
                        status,
                        nhs_verified,
                        edrpou,
                    } => sqlx::query(UPSERT_LEGAL_ENTITY)
                        .bind(uuid(id))
                        .bind(kind)
                        .bind(status)
                        .bind(nhs_verified)
                        .bind(edrpou),
                    ReferenceRow::Party {
                        id,
                        tax_id,
                        first_name,
                        last_name,
                        verification_status,
                        death_date,
                    } => sqlx::query(UPSERT_PARTY)
                        .bind(uuid(id))
                        .bind(tax_id)
                        .bind(first_name)
                        .bind(last_name)
                        .bind(verification_status)
                        .bind(death_date),
                    ReferenceRow::User { id, party_id } => {
                        sqlx::query(UPSERT_USER).bind(uuid(id)).bind(uuid(party_id))
                    }
                    ReferenceRow::Employee {
                        id,
                        party_id,
                        legal_entity_id,
                        employee_type,
                        status,
                    } => sqlx::query(UPSERT_EMPLOYEE)
                        .bind(uuid(id))
                        .bind(uuid(party_id))
                        .bind(uuid(legal_entity_id))
                        .bind(employee_type)
                        .bind(status),
                    ReferenceRow::Person {
                        id,
                        status,
                        authentication_methods,
                    } => sqlx::query(UPSERT_PERSON)
                        .bind(uuid(id))
                        .bind(status)
                        .bind(Json(authentication_methods)),
                }
            }
        }

        #[async_trait]
        impl ReferenceData for $name {
            async fn legal_entity(&self, id: Uuid) -> Result<Option<LegalEntity>, sqlx::Error> {
                let row: Option<(String, String, bool, Option<String>)> =
                    sqlx::query_as(LEGAL_ENTITY)
                        .bind(<$uuid>::from(id))
                        .fetch_optional(Pooled::pool(&self.0))
                        .await?;
                Ok(row.map(|(kind, status, nhs_verified, edrpou)| LegalEntity {
                    id,
                    kind,
                    status,
                    nhs_verified,
                    edrpou,
                }))
            }

            async fn setting(&self, key: &str) -> Result<Option<Value>, sqlx::Error> {
                Ok(sqlx::query_scalar::<_, Json<Value>>(SETTING)
                    .bind(key)
                    .fetch_optional(Pooled::pool(&self.0))
                    .await?
                    .map(|j| j.0))
            }

            async fn dictionary(&self, name: &str) -> Result<Option<Value>, sqlx::Error> {
                Ok(sqlx::query_scalar::<_, Json<Value>>(DICTIONARY)
                    .bind(name)
                    .fetch_optional(Pooled::pool(&self.0))
                    .await?
                    .map(|j| j.0))
            }

            async fn user_employees(
                &self,
                user_id: Uuid,
                legal_entity_id: Uuid,
            ) -> Result<Vec<Employee>, sqlx::Error> {
                Ok(sqlx::query(USER_EMPLOYEES)
                    .bind(<$uuid>::from(user_id))
                    .bind(<$uuid>::from(legal_entity_id))
                    .fetch_all(Pooled::pool(&self.0))
                    .await?
                    .into_iter()
                    .map(|r| Employee {
                        id: Uuid::from(r.get::<$uuid, _>("id")),
                        employee_type: r.get("employee_type"),
                        status: r.get("status"),
                    })
                    .collect())
            }

            async fn employee_tax_id(
                &self,
                employee_id: Uuid,
            ) -> Result<Option<String>, sqlx::Error> {
                let tax_id: Option<Option<String>> = sqlx::query_scalar(EMPLOYEE_TAX_ID)
                    .bind(<$uuid>::from(employee_id))
                    .fetch_optional(Pooled::pool(&self.0))
                    .await?;
                Ok(tax_id.flatten())
            }

            async fn employee_legal_entity(
                &self,
                employee_id: Uuid,
            ) -> Result<Option<Uuid>, sqlx::Error> {
                Ok(sqlx::query_scalar::<_, $uuid>(EMPLOYEE_LEGAL_ENTITY)
                    .bind(<$uuid>::from(employee_id))
                    .fetch_optional(Pooled::pool(&self.0))
                    .await?
                    .map(Uuid::from))
            }

            async fn user_party(&self, user_id: Uuid) -> Result<Option<PartyFacts>, sqlx::Error> {
                let row: Option<(Option<String>, Option<chrono::NaiveDate>)> =
                    sqlx::query_as(USER_PARTY)
                        .bind(<$uuid>::from(user_id))
                        .fetch_optional(Pooled::pool(&self.0))
                        .await?;
                Ok(row.map(|(verification_status, death_date)| PartyFacts {
                    verification_status,
                    death_date,
                }))
            }

            async fn person(&self, id: Uuid) -> Result<Option<Person>, sqlx::Error> {
                let row: Option<(String, Json<Value>)> = sqlx::query_as(PERSON)
                    .bind(<$uuid>::from(id))
                    .fetch_optional(Pooled::pool(&self.0))
                    .await?;
                Ok(row.map(|(status, methods)| Person::from_stored(id, status, methods.0)))
            }

            async fn upsert(&self, rows: &[ReferenceRow]) -> Result<(), sqlx::Error> {
                let mut tx = self.0.$begin().await?;
                for row in rows {
                    Self::upsert_query(row).execute(&mut *tx).await?;
                }
                tx.commit().await
            }

            async fn watch(&self, cache: Cache, shutdown: CancellationToken) {
                self.watch_changes(cache, shutdown).await
            }
        }
    };
}

reference_data!(PgReferenceData(PgPool), Postgres, uuid: Uuid, begin: begin);
reference_data!(SqliteReferenceData(Lite), Sqlite, uuid: Hyphenated, begin: begin_write);
