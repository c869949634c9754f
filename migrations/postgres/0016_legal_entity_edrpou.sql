-- A legal entity's EDRPOU (its code in the state register), as the legal entity registry keeps it:
-- an organisation's seal around a signed document must carry the signing legal entity's EDRPOU.
-- Unknown (NULL) for legal entities imported without one: their seals are refused.
ALTER TABLE legal_entities ADD COLUMN edrpou text;
