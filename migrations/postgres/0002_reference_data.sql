-- Reference data owned by other registries; a local copy loaded by `ehealth-es import`.
CREATE TABLE legal_entities (
    id           uuid    PRIMARY KEY,
    type         text    NOT NULL,
    status       text    NOT NULL,
    nhs_verified boolean NOT NULL DEFAULT false
);

CREATE TABLE parties (
    id         uuid PRIMARY KEY,
    tax_id     text,
    first_name text,
    last_name  text
);

CREATE TABLE users (
    id       uuid PRIMARY KEY,
    party_id uuid NOT NULL
);

CREATE TABLE employees (
    id              uuid PRIMARY KEY,
    party_id        uuid NOT NULL,
    legal_entity_id uuid NOT NULL,
    employee_type   text NOT NULL,
    status          text NOT NULL
);
CREATE INDEX employees_party_legal_entity_idx ON employees (party_id, legal_entity_id);

CREATE TABLE persons (
    id                     uuid  PRIMARY KEY,
    status                 text  NOT NULL,
    authentication_methods jsonb NOT NULL DEFAULT '[]'
);

CREATE TABLE dictionaries (
    name   text  PRIMARY KEY,
    values jsonb NOT NULL
);

CREATE TABLE settings (
    key   text  PRIMARY KEY,
    value jsonb NOT NULL
);
