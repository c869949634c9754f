//! Who may see an entity, in SQL. The rule of each kind of entity is declared once, as data, in
//! the domain (`ehealth_aggregates::visibility`): the holders that name the legal entities that
//! see it. Here each holder becomes a condition on its column of the entity's projection table,
//! in the column's SQL type (a uuid column, a JSON array, a `uuid[]`), on either backend.
//!
//! Every read that confines entities to the caller's legal entity uses these conditions: the
//! analyst lists (one index-ordered branch per holder), and [`push_visible_entities`] for the
//! Event Manager feed. A test inserts rows and checks that the generated conditions select
//! exactly the rows [`Visibility::admits`] admits, on both backends.

use ehealth_aggregates::visibility::{Holder, Visibility, ALL};
use sqlx::{Postgres, QueryBuilder, Sqlite};
use uuid::Uuid;

use crate::table::{Sql, Table};
use crate::tables::{
    APPROVALS, CARE_PLAN_ACTIVITIES, DEVICE_DISPENSES, MERGE_REQUESTS, SERVICE_REQUESTS,
};

/// The projection table of the entities a rule is about.
pub(crate) fn table_of(rule: &Visibility) -> &'static Table {
    match rule.entity_type {
        "ServiceRequest" => &SERVICE_REQUESTS,
        "MergeRequest" => &MERGE_REQUESTS,
        "DeviceDispense" => &DEVICE_DISPENSES,
        "Approval" => &APPROVALS,
        _ => &CARE_PLAN_ACTIVITIES,
    }
}

/// How a backend's SQL names a legal entity and tests a list of them.
pub trait Dialect: sqlx::Database + Sized {
    /// `IS DISTINCT FROM`: a NULL column is not the caller.
    const IS_DISTINCT_FROM: &'static str;
    /// Binds a uuid as the backend stores it.
    fn push_uuid(sql: &mut QueryBuilder<'_, Self>, id: Uuid);
    /// `column`, a list of legal entities of SQL type `list`, holds `id`.
    fn push_holds(sql: &mut QueryBuilder<'_, Self>, column: &str, list: Sql, id: Uuid);
}

impl Dialect for Postgres {
    const IS_DISTINCT_FROM: &'static str = "IS DISTINCT FROM";
    fn push_uuid(sql: &mut QueryBuilder<'_, Self>, id: Uuid) {
        sql.push_bind(id);
    }
    fn push_holds(sql: &mut QueryBuilder<'_, Self>, column: &str, list: Sql, id: Uuid) {
        // Both forms are answered by a GIN index of the column.
        if list == Sql::UuidArray {
            sql.push(format!("{column} @> ARRAY["))
                .push_bind(id)
                .push("]::uuid[]");
        } else {
            sql.push(format!("{column} @> jsonb_build_array("))
                .push_bind(id.to_string())
                .push(")");
        }
    }
}

impl Dialect for Sqlite {
    const IS_DISTINCT_FROM: &'static str = "IS NOT";
    fn push_uuid(sql: &mut QueryBuilder<'_, Self>, id: Uuid) {
        sql.push_bind(crate::sqlite::id(id));
    }
    fn push_holds(sql: &mut QueryBuilder<'_, Self>, column: &str, _: Sql, id: Uuid) {
        // Lists of uuids are JSON arrays of their text.
        sql.push(format!(
            "EXISTS (SELECT 1 FROM json_each({column}) WHERE value = "
        ))
        .push_bind(id.to_string())
        .push(")");
    }
}

/// The SQL type of a holder's column.
fn column_type(rule: &Visibility, holder: Holder) -> Sql {
    table_of(rule)
        .column(holder.name())
        .map_or(Sql::Uuid, |c| c.sql)
}

/// `holder` names `legal_entity`.
pub fn push_names<D: Dialect>(
    sql: &mut QueryBuilder<'_, D>,
    rule: &Visibility,
    holder: Holder,
    legal_entity: Uuid,
) {
    match holder {
        Holder::One(column) => {
            sql.push(format!("{column} = "));
            D::push_uuid(sql, legal_entity);
        }
        Holder::Each(column) => D::push_holds(sql, column, column_type(rule, holder), legal_entity),
    }
}

/// `holder` does not name `legal_entity` (a NULL names nobody).
pub fn push_does_not_name<D: Dialect>(
    sql: &mut QueryBuilder<'_, D>,
    rule: &Visibility,
    holder: Holder,
    legal_entity: Uuid,
) {
    match holder {
        Holder::One(column) => {
            sql.push(format!("{column} {} ", D::IS_DISTINCT_FROM));
            D::push_uuid(sql, legal_entity);
        }
        Holder::Each(_) => {
            sql.push("NOT ");
            push_names(sql, rule, holder, legal_entity);
        }
    }
}

/// `(<a holder names legal_entity> OR …)`: the rows of the rule's table that `legal_entity` sees.
pub fn push_visible<D: Dialect>(
    sql: &mut QueryBuilder<'_, D>,
    rule: &Visibility,
    legal_entity: Uuid,
) {
    sql.push("(");
    for (i, holder) in rule.holders.iter().enumerate() {
        if i > 0 {
            sql.push(" OR ");
        }
        push_names(sql, rule, *holder, legal_entity);
    }
    sql.push(")");
}

/// `SELECT '<entity type>', id FROM <table> WHERE <visible> UNION ALL …` over every kind of
/// entity: the `(entity_type, entity_id)` pairs `legal_entity` sees (the Event Manager feed
/// keeps the records whose pair is among them).
pub fn push_visible_entities<D: Dialect>(sql: &mut QueryBuilder<'_, D>, legal_entity: Uuid) {
    for (i, rule) in ALL.into_iter().enumerate() {
        if i > 0 {
            sql.push(" UNION ALL ");
        }
        sql.push(format!(
            "SELECT '{}', id FROM {} WHERE ",
            rule.entity_type,
            table_of(rule).name
        ));
        push_visible(sql, rule, legal_entity);
    }
}

#[cfg(test)]
mod tests;
