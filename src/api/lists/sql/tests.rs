use super::*;
use crate::api::lists::params::parse;
use crate::api::lists::resources::{MERGE_REQUESTS, SERVICE_REQUESTS};

/// The page statement of `resource` for the query string `raw` on dialect `D`, for a caller of
/// `legal_entity`; `None` when no row can be visible to it.
fn page_sql<D: ListDialect>(
    resource: &Resource,
    raw: Option<&str>,
    legal_entity: Uuid,
) -> Option<String> {
    let query = parse(resource.table.name, &resource.filters(), raw).unwrap();
    select::<D>(resource, &query, legal_entity, "id").map(|sql| sql.into_sql())
}

#[test]
fn a_service_request_page_is_one_ordered_branch_per_holder() {
    let sql = page_sql::<Postgres>(&SERVICE_REQUESTS, Some("status=active"), Uuid::nil()).unwrap();
    assert_eq!(
        sql,
        "SELECT id FROM (\
         (SELECT id FROM service_requests WHERE requester_legal_entity_id = $1 AND status = $2 \
         ORDER BY updated_at, id LIMIT $3) UNION ALL \
         (SELECT id FROM service_requests WHERE used_by_legal_entity_id = $4 \
         AND requester_legal_entity_id IS DISTINCT FROM $5 AND status = $6 \
         ORDER BY updated_at, id LIMIT $7) UNION ALL \
         (SELECT id FROM service_requests WHERE released_by_legal_entity_ids @> jsonb_build_array($8) \
         AND requester_legal_entity_id IS DISTINCT FROM $9 \
         AND used_by_legal_entity_id IS DISTINCT FROM $10 AND status = $11 \
         ORDER BY updated_at, id LIMIT $12)) page ORDER BY updated_at, id LIMIT $13"
    );
}

#[test]
fn on_sqlite_each_branch_is_a_subquery() {
    let sql = page_sql::<Sqlite>(&SERVICE_REQUESTS, Some("status=active"), Uuid::nil()).unwrap();
    assert_eq!(
        sql,
        "SELECT id FROM (\
         SELECT * FROM (SELECT id FROM service_requests WHERE requester_legal_entity_id = ? \
         AND status = ? ORDER BY updated_at, id LIMIT ?) UNION ALL \
         SELECT * FROM (SELECT id FROM service_requests WHERE used_by_legal_entity_id = ? \
         AND requester_legal_entity_id IS NOT ? AND status = ? \
         ORDER BY updated_at, id LIMIT ?) UNION ALL \
         SELECT * FROM (SELECT id FROM service_requests WHERE EXISTS (SELECT 1 FROM \
         json_each(released_by_legal_entity_ids) WHERE value = ?) \
         AND requester_legal_entity_id IS NOT ? AND used_by_legal_entity_id IS NOT ? \
         AND status = ? ORDER BY updated_at, id LIMIT ?)) page ORDER BY updated_at, id LIMIT ?"
    );
}

fn branch_count(params: &[(&str, Uuid)], caller: Uuid) -> usize {
    let raw = params
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    page_sql::<Postgres>(&SERVICE_REQUESTS, Some(&raw), caller)
        .map_or(0, |sql| sql.matches("(SELECT").count())
}

#[test]
fn a_legal_entity_filter_leaves_out_the_branches_it_makes_impossible() {
    let (me, other) = (Uuid::from_u128(1), Uuid::from_u128(2));
    // Requested by me, used by me, or released by me (and neither of the others).
    assert_eq!(branch_count(&[], me), 3);
    // Requested by me: only the requester branch; by another: what I use or released.
    assert_eq!(branch_count(&[("requester_legal_entity", me)], me), 1);
    assert_eq!(branch_count(&[("requester_legal_entity", other)], me), 2);
    // Used by me but requested by me is the requester branch; used by another: what I
    // requested or released.
    assert_eq!(branch_count(&[("used_by_legal_entity", me)], me), 2);
    assert_eq!(branch_count(&[("used_by_legal_entity", other)], me), 2);
    // Neither side is mine: only what I released can be visible.
    assert_eq!(
        branch_count(
            &[
                ("requester_legal_entity", other),
                ("used_by_legal_entity", other)
            ],
            me
        ),
        1
    );
    // An entity of one holder has one branch.
    let sql = page_sql::<Postgres>(&MERGE_REQUESTS, None, me).unwrap();
    assert_eq!(sql.matches("(SELECT").count(), 1, "{sql}");
}
