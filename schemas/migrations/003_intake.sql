-- intake: dossiers as received, per-agency daily code sequences, rejections.
CREATE SCHEMA intake;
SELECT public.motcua_create_delivery_tables('intake');

-- The next number of <agency>-<yyMMdd>-<nnnn>; a row lock serialises
-- instances per agency and day; a rolled-back number leaves a gap (allowed).
CREATE TABLE intake.code_sequence (
    agency_id text NOT NULL,
    day       date NOT NULL,
    last      integer NOT NULL,
    PRIMARY KEY (agency_id, day)
);

CREATE TABLE intake.dossier (
    code             text PRIMARY KEY,
    source           text NOT NULL,
    external_id      text NOT NULL,
    channel          text NOT NULL,
    procedure_code   text NOT NULL,
    ward_code        text NOT NULL,
    reception_point  text,
    receiving_agency text NOT NULL,
    submitted_at     timestamptz NOT NULL,
    received_at      timestamptz NOT NULL,
    receipt_at       timestamptz NOT NULL,   -- when the statutory clock starts
    due_at           timestamptz NOT NULL,   -- official due date, never overwritten here
    statutory_time   text NOT NULL,          -- e.g. 5wd
    rule_set         text NOT NULL,
    submission       jsonb NOT NULL,         -- the submission as accepted
    created_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (source, external_id)
);
CREATE INDEX ON intake.dossier (received_at);

CREATE TABLE intake.rejection (
    id          bigserial PRIMARY KEY,
    read_from   text NOT NULL UNIQUE,      -- topic/partition/offset: a redelivery is a no-op
    source      text,
    external_id text,
    problems    jsonb NOT NULL,
    rejected_at timestamptz NOT NULL DEFAULT now()
);
