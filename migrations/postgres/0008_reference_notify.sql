-- Every change of reference data announces itself on the channel `ehealth_reference` (delivered when
-- the changing transaction commits), whoever made it: `ehealth-es import`, a test, an operator's
-- SQL. Service instances cache reference reads and drop the cache on each announcement
-- (src/reference/cache.rs).
CREATE FUNCTION notify_reference_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('ehealth_reference', TG_TABLE_NAME);
    RETURN NULL;
END
$$;

CREATE TRIGGER legal_entities_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON legal_entities
    FOR EACH STATEMENT EXECUTE FUNCTION notify_reference_changed();
CREATE TRIGGER parties_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON parties
    FOR EACH STATEMENT EXECUTE FUNCTION notify_reference_changed();
CREATE TRIGGER users_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON users
    FOR EACH STATEMENT EXECUTE FUNCTION notify_reference_changed();
CREATE TRIGGER employees_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON employees
    FOR EACH STATEMENT EXECUTE FUNCTION notify_reference_changed();
CREATE TRIGGER persons_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON persons
    FOR EACH STATEMENT EXECUTE FUNCTION notify_reference_changed();
CREATE TRIGGER dictionaries_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON dictionaries
    FOR EACH STATEMENT EXECUTE FUNCTION notify_reference_changed();
CREATE TRIGGER settings_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON settings
    FOR EACH STATEMENT EXECUTE FUNCTION notify_reference_changed();
