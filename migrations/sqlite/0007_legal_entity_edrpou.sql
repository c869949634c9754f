-- A legal entity's EDRPOU (migrations/postgres/0016): a seal around a signed document must carry it.
ALTER TABLE legal_entities ADD COLUMN edrpou TEXT;
