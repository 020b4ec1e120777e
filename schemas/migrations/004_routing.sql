-- routing: the current assignment of each dossier and its transfers.
CREATE SCHEMA routing;
SELECT public.motcua_create_delivery_tables('routing');

CREATE TABLE routing.assignment (
    dossier_code   text PRIMARY KEY,
    unit_code      text NOT NULL,
    rule_id        integer,
    procedure_code text NOT NULL,
    ward_code      text NOT NULL,
    receipt_at     timestamptz NOT NULL,
    due_at         timestamptz NOT NULL,
    assigned_at    timestamptz NOT NULL,
    dossier        jsonb NOT NULL          -- the dossier.received data, for transfers
);
CREATE INDEX ON routing.assignment (unit_code);

-- The control sheet: each hand-over between units.
CREATE TABLE routing.transfer (
    id            bigserial PRIMARY KEY,
    dossier_code  text NOT NULL,
    from_unit     text NOT NULL,
    to_unit       text NOT NULL,
    officer       text NOT NULL,
    reason        text,
    handed_at     timestamptz NOT NULL
);
-- A transfer seen before the dossier itself waits here.
CREATE TABLE routing.parked (
    event_id     uuid PRIMARY KEY,
    dossier_code text NOT NULL,
    payload      jsonb NOT NULL,
    parked_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ON routing.parked (dossier_code);
