//! Reference data owned by other registries (legal entities, parties, users, employees, persons,
//! dictionaries, configuration), read from the local copy that `ehealth-es import` loads
//! ([`crate::store::ReferenceData`]), through the instance's cache ([`cache`]).

use std::sync::Arc;

use ehealth_aggregates::approval::PersonMethods;
use serde_json::Value;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

pub mod cache;

use crate::store::ReferenceData;
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
    /// The person as stored: its authentication methods as JSON (a list that does not read as
    /// methods reads as none; the import validates them).
    pub fn from_stored(id: Uuid, status: String, methods: Value) -> Person {
        Person {
            id,
            status,
            authentication_methods: serde_json::from_value(methods).unwrap_or_default(),
        }
    }

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

/// Reference reads, cached per instance while the store watches for changes (see [`cache`]).
#[derive(Clone)]
pub struct Reference {
    data: Arc<dyn ReferenceData>,
    cache: Cache,
}

impl Reference {
    pub fn new(data: Arc<dyn ReferenceData>) -> Self {
        Self {
            data,
            cache: Cache::default(),
        }
    }

    /// Keeps the cache correct until `shutdown` (PostgreSQL: by listening for changes; SQLite
    /// caches nothing).
    pub async fn watch(&self, shutdown: CancellationToken) {
        self.data.watch(self.cache.clone(), shutdown).await
    }

    pub async fn legal_entity(&self, id: Uuid) -> Result<Option<LegalEntity>, sqlx::Error> {
        let load = || self.data.legal_entity(id);
        self.cache.get(|m| &mut m.legal_entities, id, load).await
    }

    /// `me_allowed_transactions_le_types`; the import sets it, eHealth's defaults otherwise.
    pub async fn allowed_legal_entity_types(&self) -> Result<Vec<String>, sqlx::Error> {
        let load = || async {
            Ok(match self.data.setting(ALLOWED_LE_TYPES_SETTING).await? {
                Some(v) => serde_json::from_value(v).unwrap_or_default(),
                None => vec![
                    "PRIMARY_CARE".into(),
                    "OUTPATIENT".into(),
                    "EMERGENCY".into(),
                ],
            })
        };
        self.cache.get(|m| &mut m.allowed_types, (), load).await
    }

    pub async fn dictionary(&self, name: &str) -> Result<Vec<String>, sqlx::Error> {
        let load = || async {
            Ok(self
                .data
                .dictionary(name)
                .await?
                .and_then(|v| serde_json::from_value(v).ok())
                .unwrap_or_default())
        };
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
        let load = || self.data.user_employees(user_id, legal_entity_id);
        let key = (user_id, legal_entity_id);
        self.cache.get(|m| &mut m.user_employees, key, load).await
    }

    /// `tax_id` of the party of an employee.
    pub async fn employee_tax_id(&self, employee_id: Uuid) -> Result<Option<String>, sqlx::Error> {
        let load = || self.data.employee_tax_id(employee_id);
        self.cache.get(|m| &mut m.tax_ids, employee_id, load).await
    }

    pub async fn employee_legal_entity(
        &self,
        employee_id: Uuid,
    ) -> Result<Option<Uuid>, sqlx::Error> {
        let load = || self.data.employee_legal_entity(employee_id);
        self.cache
            .get(|m| &mut m.employee_legal_entities, employee_id, load)
            .await
    }

    /// The party behind a user (its verification and death), if the user and party are known.
    pub async fn user_party(&self, user_id: Uuid) -> Result<Option<PartyFacts>, sqlx::Error> {
        let load = || self.data.user_party(user_id);
        self.cache.get(|m| &mut m.user_parties, user_id, load).await
    }

    pub async fn person(&self, id: Uuid) -> Result<Option<Person>, sqlx::Error> {
        let load = || self.data.person(id);
        self.cache.get(|m| &mut m.persons, id, load).await
    }
}
