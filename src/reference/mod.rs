//! Reference data owned by other registries (legal entities, parties, users, employees, persons,
//! dictionaries, configuration), read from the local copy that `ehealth-es import` loads.

use ehealth_aggregates::approval::PersonMethods;
use serde_json::Value;
use sqlx::types::Json;
use sqlx::Row;
use uuid::fmt::Hyphenated;
use uuid::Uuid;

pub mod cache;

use crate::db::sqlite::id as text_id;
use crate::db::Db;
use cache::Cache;

pub const RECALL_REASONS_DICTIONARY: &str = "eHealth/service_request_recall_reasons";
pub const ALLOWED_LE_TYPES_SETTING: &str = "me_allowed_transactions_le_types";

#[derive(Debug, Clone)]
pub struct LegalEntity {
    pub id: Uuid,
    pub kind: String,
    pub status: String,
    pub nhs_verified: bool,
    /// Its EDRPOU, when the registry's copy has it: what an organisation's seal must carry.
    pub edrpou: Option<String>,
}

impl LegalEntity {
    pub fn is_active(&self) -> bool {
        self.status.eq_ignore_ascii_case("ACTIVE")
    }
}

pub use ehealth_aggregates::caller::{PartyFacts, PatientFacts};

#[derive(Debug, Clone)]
pub struct Employee {
    pub id: Uuid,
    pub employee_type: String,
    pub status: String,
}

/// One authentication method of a person (MPI `person_authentication_methods`); the domain
/// decides with it, so the domain defines it.
pub use ehealth_aggregates::approval::AuthMethod;

#[derive(Debug, Clone)]
pub struct Person {
    pub id: Uuid,
    pub status: String,
    pub authentication_methods: Vec<AuthMethod>,
}

impl Person {
    pub fn is_active(&self) -> bool {
        self.status.eq_ignore_ascii_case("active")
    }

    /// What the patient rules need of the person.
    pub fn facts(&self) -> PatientFacts {
        PatientFacts {
            status: self.status.clone(),
        }
    }

    /// The method eHealth uses when none is named, among the methods current now: an OTP one,
    /// else OFFLINE, else the first THIRD_PERSON.
    pub fn default_method(&self) -> Option<&AuthMethod> {
        ehealth_aggregates::approval::method::default_method(
            &self.authentication_methods,
            chrono::Utc::now(),
        )
    }

    /// The person as the choice of a resend's method sees it.
    pub fn methods(&self) -> PersonMethods<'_> {
        PersonMethods {
            id: self.id,
            active: self.is_active(),
            methods: &self.authentication_methods,
        }
    }
}

/// Reference reads, cached per instance on PostgreSQL (see [`cache`]).
#[derive(Clone)]
pub struct Reference {
    db: Db,
    cache: Cache,
}

/// Runs one query on either backend: `$pg` and `$lite` are closures over the pool. Uuids are
/// bound natively on PostgreSQL and as text on SQLite (db::sqlite).
macro_rules! on_backend {
    ($db:expr, $pool:ident => $pg:expr, $lite_pool:ident => $lite:expr) => {
        match $db {
            Db::Postgres($pool) => $pg,
            Db::Sqlite(lite) => {
                let $lite_pool = &lite.pool;
                $lite
            }
        }
    };
}

impl Reference {
    pub fn new(db: impl Into<Db>) -> Self {
        Self {
            db: db.into(),
            cache: Cache::default(),
        }
    }

    /// The instance's cache, for [`cache::watch`] to invalidate.
    pub fn cache(&self) -> Cache {
        self.cache.clone()
    }

    pub async fn legal_entity(&self, id: Uuid) -> Result<Option<LegalEntity>, sqlx::Error> {
        let load = || self.load_legal_entity(id);
        self.cache.get(|m| &mut m.legal_entities, id, load).await
    }

    /// `me_allowed_transactions_le_types`; the import sets it, eHealth's defaults otherwise.
    pub async fn allowed_legal_entity_types(&self) -> Result<Vec<String>, sqlx::Error> {
        let load = || self.load_allowed_legal_entity_types();
        self.cache.get(|m| &mut m.allowed_types, (), load).await
    }

    pub async fn dictionary(&self, name: &str) -> Result<Vec<String>, sqlx::Error> {
        let load = || self.load_dictionary(name);
        self.cache
            .get(|m| &mut m.dictionaries, name.to_string(), load)
            .await
    }

    /// Employees of the user's party in a legal entity.
    pub async fn user_employees(
        &self,
        user_id: Uuid,
        legal_entity_id: Uuid,
    ) -> Result<Vec<Employee>, sqlx::Error> {
        let load = || self.load_user_employees(user_id, legal_entity_id);
        let key = (user_id, legal_entity_id);
        self.cache.get(|m| &mut m.user_employees, key, load).await
    }

    /// `tax_id` of the party of an employee.
    pub async fn employee_tax_id(&self, employee_id: Uuid) -> Result<Option<String>, sqlx::Error> {
        let load = || self.load_employee_tax_id(employee_id);
        self.cache.get(|m| &mut m.tax_ids, employee_id, load).await
    }

    pub async fn employee_legal_entity(
        &self,
        employee_id: Uuid,
    ) -> Result<Option<Uuid>, sqlx::Error> {
        let load = || self.load_employee_legal_entity(employee_id);
        self.cache
            .get(|m| &mut m.employee_legal_entities, employee_id, load)
            .await
    }

    /// The party behind a user (its verification and death), if the user and party are known.
    pub async fn user_party(&self, user_id: Uuid) -> Result<Option<PartyFacts>, sqlx::Error> {
        let load = || self.load_user_party(user_id);
        self.cache.get(|m| &mut m.user_parties, user_id, load).await
    }

    pub async fn person(&self, id: Uuid) -> Result<Option<Person>, sqlx::Error> {
        let load = || self.load_person(id);
        self.cache.get(|m| &mut m.persons, id, load).await
    }

    async fn load_legal_entity(&self, id: Uuid) -> Result<Option<LegalEntity>, sqlx::Error> {
        const SQL: &str =
            "SELECT type, status, nhs_verified, edrpou FROM legal_entities WHERE id = $1";
        let row: Option<(String, String, bool, Option<String>)> = on_backend!(&self.db,
            pool => sqlx::query_as(SQL).bind(id).fetch_optional(pool).await?,
            pool => sqlx::query_as(SQL).bind(text_id(id)).fetch_optional(pool).await?);
        Ok(row.map(|(kind, status, nhs_verified, edrpou)| LegalEntity {
            id,
            kind,
            status,
            nhs_verified,
            edrpou,
        }))
    }

    /// `me_allowed_transactions_le_types`; the import sets it, eHealth's defaults otherwise.
    async fn load_allowed_legal_entity_types(&self) -> Result<Vec<String>, sqlx::Error> {
        const SQL: &str = "SELECT value FROM settings WHERE key = $1";
        let value: Option<Value> = on_backend!(&self.db,
            pool => sqlx::query_scalar(SQL).bind(ALLOWED_LE_TYPES_SETTING).fetch_optional(pool).await?,
            pool => sqlx::query_scalar::<_, Json<Value>>(SQL)
                .bind(ALLOWED_LE_TYPES_SETTING)
                .fetch_optional(pool)
                .await?
                .map(|j| j.0));
        Ok(match value {
            Some(v) => serde_json::from_value(v).unwrap_or_default(),
            None => vec![
                "PRIMARY_CARE".into(),
                "OUTPATIENT".into(),
                "EMERGENCY".into(),
            ],
        })
    }

    async fn load_dictionary(&self, name: &str) -> Result<Vec<String>, sqlx::Error> {
        const SQL: &str = "SELECT \"values\" FROM dictionaries WHERE name = $1";
        let value: Option<Value> = on_backend!(&self.db,
            pool => sqlx::query_scalar(SQL).bind(name).fetch_optional(pool).await?,
            pool => sqlx::query_scalar::<_, Json<Value>>(SQL)
                .bind(name)
                .fetch_optional(pool)
                .await?
                .map(|j| j.0));
        Ok(value
            .and_then(|v| serde_json::from_value(v).ok())
            .unwrap_or_default())
    }

    /// Employees of the user's party in a legal entity.
    async fn load_user_employees(
        &self,
        user_id: Uuid,
        legal_entity_id: Uuid,
    ) -> Result<Vec<Employee>, sqlx::Error> {
        const SQL: &str = "SELECT e.id, e.employee_type, e.status FROM users u \
                           JOIN employees e ON e.party_id = u.party_id \
                           WHERE u.id = $1 AND e.legal_entity_id = $2";
        Ok(on_backend!(&self.db,
            pool => sqlx::query(SQL)
                .bind(user_id)
                .bind(legal_entity_id)
                .fetch_all(pool)
                .await?
                .into_iter()
                .map(|r| Employee {
                    id: r.get("id"),
                    employee_type: r.get("employee_type"),
                    status: r.get("status"),
                })
                .collect(),
            pool => sqlx::query(SQL)
                .bind(text_id(user_id))
                .bind(text_id(legal_entity_id))
                .fetch_all(pool)
                .await?
                .into_iter()
                .map(|r| Employee {
                    id: r.get::<Hyphenated, _>("id").into_uuid(),
                    employee_type: r.get("employee_type"),
                    status: r.get("status"),
                })
                .collect()))
    }

    /// `tax_id` of the party of an employee.
    async fn load_employee_tax_id(&self, employee_id: Uuid) -> Result<Option<String>, sqlx::Error> {
        const SQL: &str =
            "SELECT p.tax_id FROM employees e JOIN parties p ON p.id = e.party_id WHERE e.id = $1";
        let tax_id: Option<Option<String>> = on_backend!(&self.db,
            pool => sqlx::query_scalar(SQL).bind(employee_id).fetch_optional(pool).await?,
            pool => sqlx::query_scalar(SQL).bind(text_id(employee_id)).fetch_optional(pool).await?);
        Ok(tax_id.flatten())
    }

    async fn load_employee_legal_entity(
        &self,
        employee_id: Uuid,
    ) -> Result<Option<Uuid>, sqlx::Error> {
        const SQL: &str = "SELECT legal_entity_id FROM employees WHERE id = $1";
        Ok(on_backend!(&self.db,
            pool => sqlx::query_scalar(SQL).bind(employee_id).fetch_optional(pool).await?,
            pool => sqlx::query_scalar::<_, Hyphenated>(SQL)
                .bind(text_id(employee_id))
                .fetch_optional(pool)
                .await?
                .map(Hyphenated::into_uuid)))
    }

    async fn load_user_party(&self, user_id: Uuid) -> Result<Option<PartyFacts>, sqlx::Error> {
        const SQL: &str = "SELECT p.verification_status, p.death_date FROM users u \
                           JOIN parties p ON p.id = u.party_id WHERE u.id = $1";
        let row: Option<(Option<String>, Option<chrono::NaiveDate>)> = on_backend!(&self.db,
            pool => sqlx::query_as(SQL).bind(user_id).fetch_optional(pool).await?,
            pool => sqlx::query_as(SQL).bind(text_id(user_id)).fetch_optional(pool).await?);
        Ok(row.map(|(verification_status, death_date)| PartyFacts {
            verification_status,
            death_date,
        }))
    }

    async fn load_person(&self, id: Uuid) -> Result<Option<Person>, sqlx::Error> {
        const SQL: &str = "SELECT status, authentication_methods FROM persons WHERE id = $1";
        let row: Option<(String, Value)> = on_backend!(&self.db,
            pool => sqlx::query_as(SQL).bind(id).fetch_optional(pool).await?,
            pool => sqlx::query_as::<_, (String, Json<Value>)>(SQL)
                .bind(text_id(id))
                .fetch_optional(pool)
                .await?
                .map(|(status, methods)| (status, methods.0)));
        Ok(row.map(|(status, methods)| Person {
            id,
            status,
            authentication_methods: serde_json::from_value(methods).unwrap_or_default(),
        }))
    }
}
