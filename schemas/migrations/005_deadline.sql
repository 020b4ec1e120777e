-- deadline: one clock per dossier, its update history, and the ledger that
-- makes each warning and breach fire exactly once.
CREATE SCHEMA deadline;
SELECT public.motcua_create_delivery_tables('deadline');

CREATE TABLE deadline.clock (
    dossier_code       text PRIMARY KEY,
    received           boolean NOT NULL DEFAULT false,  -- dossier.received seen
    state              text NOT NULL DEFAULT 'open'
                       CHECK (state IN ('open', 'paused', 'finished', 'returned', 'withdrawn', 'stopped')),
    channel            text,
    notify_channels    jsonb,
    applicant          jsonb,
    procedure          jsonb,
    unit               jsonb,                           -- from dossier.assigned
    received_at        timestamptz,
    receipt_at         timestamptz,
    due_at             timestamptz,                     -- official, fixed at receipt
    rescheduled_due_at timestamptz,
    reschedule_reason  text,
    deadline_version   integer NOT NULL DEFAULT 1,
    breaches           integer NOT NULL DEFAULT 0,
    next_fire_at       timestamptz,                     -- NULL: nothing left to fire
    updated_at         timestamptz NOT NULL DEFAULT now()
);
-- The sweep reads only due clocks.
CREATE INDEX clock_next_fire ON deadline.clock (next_fire_at) WHERE next_fire_at IS NOT NULL;

CREATE TABLE deadline.ledger (
    dossier_code     text NOT NULL,
    deadline_version integer NOT NULL,
    rung             text NOT NULL,          -- 'overdue', 'overdue-2', ...
    fired_at         timestamptz NOT NULL,   -- the clock's "now" when fired
    due_instant      timestamptz NOT NULL,   -- when it was due
    PRIMARY KEY (dossier_code, deadline_version, rung)
);

CREATE TABLE deadline.update (
    event_id     uuid PRIMARY KEY,
    dossier_code text NOT NULL,
    status       text NOT NULL,
    unit_code    text NOT NULL,
    occurred_at  timestamptz NOT NULL,
    reason       text,
    new_due_at   timestamptz
);
CREATE INDEX ON deadline.update (dossier_code);
