//! Reference data on SQLite: uuids bound and read as text, JSON as text.

use async_trait::async_trait;
use serde_json::Value;
use sqlx::types::Json;
use sqlx::Row;
use tokio_util::sync::CancellationToken;
use uuid::fmt::Hyphenated;
use uuid::Uuid;

use crate::db::sqlite::id as text_id;
use crate::db::Lite;
use crate::reference::cache::Cache;
use crate::reference::{Employee, LegalEntity, PartyFacts, Person};
use crate::store::reference::*;

pub(crate) struct SqliteReferenceData(pub Lite);

#[async_trait]
impl ReferenceData for SqliteReferenceData {
    async fn legal_entity(&self, id: Uuid) -> Result<Option<LegalEntity>, sqlx::Error> {
        let row: Option<(String, String, bool, Option<String>)> = sqlx::query_as(LEGAL_ENTITY)
            .bind(text_id(id))
            .fetch_optional(&self.0.pool)
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
            .fetch_optional(&self.0.pool)
            .await?
            .map(|j| j.0))
    }

    async fn dictionary(&self, name: &str) -> Result<Option<Value>, sqlx::Error> {
        Ok(sqlx::query_scalar::<_, Json<Value>>(DICTIONARY)
            .bind(name)
            .fetch_optional(&self.0.pool)
            .await?
            .map(|j| j.0))
    }

    async fn user_employees(
        &self,
        user_id: Uuid,
        legal_entity_id: Uuid,
    ) -> Result<Vec<Employee>, sqlx::Error> {
        Ok(sqlx::query(USER_EMPLOYEES)
            .bind(text_id(user_id))
            .bind(text_id(legal_entity_id))
            .fetch_all(&self.0.pool)
            .await?
            .into_iter()
            .map(|r| Employee {
                id: r.get::<Hyphenated, _>("id").into_uuid(),
                employee_type: r.get("employee_type"),
                status: r.get("status"),
            })
            .collect())
    }

    async fn employee_tax_id(&self, employee_id: Uuid) -> Result<Option<String>, sqlx::Error> {
        let tax_id: Option<Option<String>> = sqlx::query_scalar(EMPLOYEE_TAX_ID)
            .bind(text_id(employee_id))
            .fetch_optional(&self.0.pool)
            .await?;
        Ok(tax_id.flatten())
    }

    async fn employee_legal_entity(&self, employee_id: Uuid) -> Result<Option<Uuid>, sqlx::Error> {
        Ok(sqlx::query_scalar::<_, Hyphenated>(EMPLOYEE_LEGAL_ENTITY)
            .bind(text_id(employee_id))
            .fetch_optional(&self.0.pool)
            .await?
            .map(Hyphenated::into_uuid))
    }

    async fn user_party(&self, user_id: Uuid) -> Result<Option<PartyFacts>, sqlx::Error> {
        let row: Option<(Option<String>, Option<chrono::NaiveDate>)> = sqlx::query_as(USER_PARTY)
            .bind(text_id(user_id))
            .fetch_optional(&self.0.pool)
            .await?;
        Ok(row.map(|(verification_status, death_date)| PartyFacts {
            verification_status,
            death_date,
        }))
    }

    async fn person(&self, id: Uuid) -> Result<Option<Person>, sqlx::Error> {
        let row: Option<(String, Json<Value>)> = sqlx::query_as(PERSON)
            .bind(text_id(id))
            .fetch_optional(&self.0.pool)
            .await?;
        Ok(row.map(|(status, methods)| Person::from_stored(id, status, methods.0)))
    }

    async fn upsert(&self, rows: &[ReferenceRow]) -> Result<(), sqlx::Error> {
        let mut tx = self.0.begin_write().await?;
        for row in rows {
            let query = match row {
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
                    .bind(text_id(*id))
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
                    .bind(text_id(*id))
                    .bind(tax_id)
                    .bind(first_name)
                    .bind(last_name)
                    .bind(verification_status)
                    .bind(death_date),
                ReferenceRow::User { id, party_id } => sqlx::query(UPSERT_USER)
                    .bind(text_id(*id))
                    .bind(text_id(*party_id)),
                ReferenceRow::Employee {
                    id,
                    party_id,
                    legal_entity_id,
                    employee_type,
                    status,
                } => sqlx::query(UPSERT_EMPLOYEE)
                    .bind(text_id(*id))
                    .bind(text_id(*party_id))
                    .bind(text_id(*legal_entity_id))
                    .bind(employee_type)
                    .bind(status),
                ReferenceRow::Person {
                    id,
                    status,
                    authentication_methods,
                } => sqlx::query(UPSERT_PERSON)
                    .bind(text_id(*id))
                    .bind(status)
                    .bind(Json(authentication_methods)),
            };
            query.execute(tx.conn()).await?;
        }
        tx.commit().await
    }

    async fn watch(&self, _cache: Cache, _shutdown: CancellationToken) {}
}
