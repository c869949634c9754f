-- status_change_events_entity_idx (entity_type, entity_id) is a leading prefix of the feed's
-- unique constraint (entity_type, entity_id, sequence), which serves every lookup it served (one
-- entity's changes; GET /api/events reaching a legal entity's entities). Keeping both only made
-- every feed write, and every projections rebuild, maintain one more index.
DROP INDEX IF EXISTS status_change_events_entity_idx;
