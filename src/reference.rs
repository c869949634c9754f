//! Reference data owned by other registries (legal entities, parties, users, employees, persons,
//! dictionaries, configuration), read from the local copy that `ehealth-es import` loads.

use serde::Deserialize;
use serde_json::Value;
use sqlx::{PgPool, Row};
use uuid::Uuid;

pub const RECALL_REASONS_DICTIONARY: &str = "eHealth/service_request_recall_reasons";
pub const ALLOWED_LE_TYPES_SETTING: &str = "me_allowed_transactions_le_types";

#[derive(Debug, Clone)]
pub struct LegalEntity {
    pub id: Uuid,
    pub kind: String,
    pub status: String,
    pub nhs_verified: bool,
}

impl LegalEntity {
    pub fn is_active(&self) -> bool {
        self.status.eq_ignore_ascii_case("ACTIVE")
    }
}

#[derive(Debug, Clone)]
pub struct Employee {
    pub id: Uuid,
    pub employee_type: String,
    pub status: String,
}

/// One authentication method of a person (MPI `person_authentication_methods`).
#[derive(Debug, Clone, Deserialize)]
pub struct AuthMethod {
    pub id: Option<Uuid>,
    #[serde(rename = "type")]
    pub kind: String,
    pub phone_number: Option<String>,
    /// For THIRD_PERSON: the id of the confidant person.
    pub value: Option<String>,
}

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

    /// The method eHealth uses when none is named: an OTP one, else OFFLINE, else the first
    /// THIRD_PERSON (ehealth-notes §3).
    pub fn default_method(&self) -> Option<&AuthMethod> {
        let find = |kind: &str| self.authentication_methods.iter().find(|m| m.kind == kind);
        find("OTP")
            .or_else(|| find("OFFLINE"))
            .or_else(|| find("THIRD_PERSON"))
    }

    /// The method with this id, or the default one when no id is given or it is unknown.
    pub fn method(&self, id: Option<Uuid>) -> Option<&AuthMethod> {
        id.and_then(|id| {
            self.authentication_methods
                .iter()
                .find(|m| m.id == Some(id))
        })
        .or_else(|| self.default_method())
    }
}

#[derive(Clone)]
pub struct Reference {
    pool: PgPool,
}

impl Reference {
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    pub async fn legal_entity(&self, id: Uuid) -> Result<Option<LegalEntity>, sqlx::Error> {
        let row =
            sqlx::query("SELECT id, type, status, nhs_verified FROM legal_entities WHERE id = $1")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(|r| LegalEntity {
            id: r.get("id"),
            kind: r.get("type"),
            status: r.get("status"),
            nhs_verified: r.get("nhs_verified"),
        }))
    }

    /// `me_allowed_transactions_le_types`; the import sets it, eHealth's defaults otherwise.
    pub async fn allowed_legal_entity_types(&self) -> Result<Vec<String>, sqlx::Error> {
        let value: Option<Value> = sqlx::query_scalar("SELECT value FROM settings WHERE key = $1")
            .bind(ALLOWED_LE_TYPES_SETTING)
            .fetch_optional(&self.pool)
            .await?;
        Ok(match value {
            Some(v) => serde_json::from_value(v).unwrap_or_default(),
            None => vec![
                "PRIMARY_CARE".into(),
                "OUTPATIENT".into(),
                "EMERGENCY".into(),
            ],
        })
    }

    pub async fn dictionary(&self, name: &str) -> Result<Vec<String>, sqlx::Error> {
        let value: Option<Value> =
            sqlx::query_scalar("SELECT values FROM dictionaries WHERE name = $1")
                .bind(name)
                .fetch_optional(&self.pool)
                .await?;
        Ok(value
            .and_then(|v| serde_json::from_value(v).ok())
            .unwrap_or_default())
    }

    /// Employees of the user's party in a legal entity.
    pub async fn user_employees(
        &self,
        user_id: Uuid,
        legal_entity_id: Uuid,
    ) -> Result<Vec<Employee>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT e.id, e.employee_type, e.status FROM users u \
             JOIN employees e ON e.party_id = u.party_id \
             WHERE u.id = $1 AND e.legal_entity_id = $2",
        )
        .bind(user_id)
        .bind(legal_entity_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| Employee {
                id: r.get("id"),
                employee_type: r.get("employee_type"),
                status: r.get("status"),
            })
            .collect())
    }

    /// `tax_id` of the party of an employee.
    pub async fn employee_tax_id(&self, employee_id: Uuid) -> Result<Option<String>, sqlx::Error> {
        let tax_id: Option<Option<String>> = sqlx::query_scalar(
            "SELECT p.tax_id FROM employees e JOIN parties p ON p.id = e.party_id WHERE e.id = $1",
        )
        .bind(employee_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(tax_id.flatten())
    }

    pub async fn employee_legal_entity(
        &self,
        employee_id: Uuid,
    ) -> Result<Option<Uuid>, sqlx::Error> {
        sqlx::query_scalar("SELECT legal_entity_id FROM employees WHERE id = $1")
            .bind(employee_id)
            .fetch_optional(&self.pool)
            .await
    }

    pub async fn person(&self, id: Uuid) -> Result<Option<Person>, sqlx::Error> {
        let row =
            sqlx::query("SELECT id, status, authentication_methods FROM persons WHERE id = $1")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(|r| Person {
            id: r.get("id"),
            status: r.get("status"),
            authentication_methods: serde_json::from_value(
                r.get::<Value, _>("authentication_methods"),
            )
            .unwrap_or_default(),
        }))
    }
}
