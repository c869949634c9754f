//! Reference data on PostgreSQL, and the listener that keeps the instance's cache correct: a
//! statement trigger on every reference table announces each change on [`CHANNEL`] when it commits
//! (migration 0008), and [`watch`] empties the cache on each announcement. The cache is used only
//! while the listening connection is up: when it drops (notifications may be lost meanwhile), the
//! cache is emptied and bypassed until a new connection listens again.

use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;
use sqlx::postgres::PgListener;
use sqlx::{PgPool, Row};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::reference::cache::Cache;
use crate::reference::{Employee, LegalEntity, PartyFacts, Person};
use crate::store::reference::*;

/// How long the listening connection may stay quiet before it is tested.
const HEARTBEAT: Duration = Duration::from_secs(5);
/// How long the test (or connecting and listening) may take before the connection counts as lost.
const HEARTBEAT_ANSWER: Duration = Duration::from_secs(2);

/// The notification channel of reference-data changes.
const CHANNEL: &str = "ehealth_reference";

pub(crate) struct PgReferenceData(pub PgPool);

#[async_trait]
impl ReferenceData for PgReferenceData {
    async fn legal_entity(&self, id: Uuid) -> Result<Option<LegalEntity>, sqlx::Error> {
        let row: Option<(String, String, bool, Option<String>)> = sqlx::query_as(LEGAL_ENTITY)
            .bind(id)
            .fetch_optional(&self.0)
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
        sqlx::query_scalar(SETTING)
            .bind(key)
            .fetch_optional(&self.0)
            .await
    }

    async fn dictionary(&self, name: &str) -> Result<Option<Value>, sqlx::Error> {
        sqlx::query_scalar(DICTIONARY)
            .bind(name)
            .fetch_optional(&self.0)
            .await
    }

    async fn user_employees(
        &self,
        user_id: Uuid,
        legal_entity_id: Uuid,
    ) -> Result<Vec<Employee>, sqlx::Error> {
        Ok(sqlx::query(USER_EMPLOYEES)
            .bind(user_id)
            .bind(legal_entity_id)
            .fetch_all(&self.0)
            .await?
            .into_iter()
            .map(|r| Employee {
                id: r.get("id"),
                employee_type: r.get("employee_type"),
                status: r.get("status"),
            })
            .collect())
    }

    async fn employee_tax_id(&self, employee_id: Uuid) -> Result<Option<String>, sqlx::Error> {
        let tax_id: Option<Option<String>> = sqlx::query_scalar(EMPLOYEE_TAX_ID)
            .bind(employee_id)
            .fetch_optional(&self.0)
            .await?;
        Ok(tax_id.flatten())
    }

    async fn employee_legal_entity(&self, employee_id: Uuid) -> Result<Option<Uuid>, sqlx::Error> {
        sqlx::query_scalar(EMPLOYEE_LEGAL_ENTITY)
            .bind(employee_id)
            .fetch_optional(&self.0)
            .await
    }

    async fn user_party(&self, user_id: Uuid) -> Result<Option<PartyFacts>, sqlx::Error> {
        let row: Option<(Option<String>, Option<chrono::NaiveDate>)> = sqlx::query_as(USER_PARTY)
            .bind(user_id)
            .fetch_optional(&self.0)
            .await?;
        Ok(row.map(|(verification_status, death_date)| PartyFacts {
            verification_status,
            death_date,
        }))
    }

    async fn person(&self, id: Uuid) -> Result<Option<Person>, sqlx::Error> {
        let row: Option<(String, Value)> = sqlx::query_as(PERSON)
            .bind(id)
            .fetch_optional(&self.0)
            .await?;
        Ok(row.map(|(status, methods)| Person::from_stored(id, status, methods)))
    }

    async fn upsert(&self, rows: &[ReferenceRow]) -> Result<(), sqlx::Error> {
        let mut tx = self.0.begin().await?;
        for row in rows {
            let query = match row {
                ReferenceRow::Setting(key, value) => {
                    sqlx::query(UPSERT_SETTING).bind(*key).bind(value)
                }
                ReferenceRow::Dictionary(name, values) => {
                    sqlx::query(UPSERT_DICTIONARY).bind(name).bind(values)
                }
                ReferenceRow::LegalEntity {
                    id,
                    kind,
                    status,
                    nhs_verified,
                    edrpou,
                } => sqlx::query(UPSERT_LEGAL_ENTITY)
                    .bind(id)
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
                    .bind(id)
                    .bind(tax_id)
                    .bind(first_name)
                    .bind(last_name)
                    .bind(verification_status)
                    .bind(death_date),
                ReferenceRow::User { id, party_id } => {
                    sqlx::query(UPSERT_USER).bind(id).bind(party_id)
                }
                ReferenceRow::Employee {
                    id,
                    party_id,
                    legal_entity_id,
                    employee_type,
                    status,
                } => sqlx::query(UPSERT_EMPLOYEE)
                    .bind(id)
                    .bind(party_id)
                    .bind(legal_entity_id)
                    .bind(employee_type)
                    .bind(status),
                ReferenceRow::Person {
                    id,
                    status,
                    authentication_methods,
                } => sqlx::query(UPSERT_PERSON)
                    .bind(id)
                    .bind(status)
                    .bind(authentication_methods),
            };
            query.execute(&mut *tx).await?;
        }
        tx.commit().await
    }

    async fn watch(&self, cache: Cache, shutdown: CancellationToken) {
        watch(cache, self.0.clone(), shutdown).await
    }
}

/// Listens for reference-data changes until `shutdown`, reconnecting after a lost connection.
#[tracing::instrument(name = "reference_watch", skip_all)]
async fn watch(cache: Cache, pool: PgPool, shutdown: CancellationToken) {
    loop {
        let listener = async {
            let connect = async {
                let mut listener = PgListener::connect_with(&pool).await?;
                listener.listen(CHANNEL).await?;
                Ok::<_, sqlx::Error>(listener)
            };
            tokio::time::timeout(HEARTBEAT_ANSWER, connect)
                .await
                .unwrap_or(Err(sqlx::Error::PoolTimedOut))
        };
        let mut listener = tokio::select! {
            l = listener => l,
            _ = shutdown.cancelled() => return,
        };
        match listener.as_mut() {
            Ok(listener) => {
                // Anything cached before now may be older than a change we did not hear of.
                cache.invalidate(true);
                loop {
                    let next = tokio::select! {
                        n = tokio::time::timeout(HEARTBEAT, listener.try_recv()) => n,
                        _ = shutdown.cancelled() => return,
                    };
                    let Ok(next) = next else {
                        // Quiet for a while: make sure the link still carries anything. On a
                        // half-open link nothing would ever arrive, and changes would go unheard
                        // while the cache kept serving.
                        let ping = sqlx::query("SELECT 1").execute(&mut *listener);
                        match tokio::time::timeout(HEARTBEAT_ANSWER, ping).await {
                            Ok(Ok(_)) => continue,
                            _ => break,
                        }
                    };
                    match next {
                        Ok(Some(notification)) => {
                            tracing::debug!(
                                table = notification.payload(),
                                "reference data changed"
                            );
                            cache.invalidate(true);
                        }
                        // The connection was lost: changes may go unheard until a new one listens.
                        Ok(None) | Err(_) => break,
                    }
                }
            }
            Err(err) => tracing::warn!(error = %err, "cannot listen for reference-data changes"),
        }
        cache.invalidate(false);
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = shutdown.cancelled() => return,
        }
    }
}
