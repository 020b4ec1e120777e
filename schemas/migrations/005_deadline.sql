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
    rule_set           text,
    supplement_policy  text CHECK (supplement_policy IN ('pause', 'restart')),
    statutory_time     text,                            -- e.g. 5wd
    calendar_unit      text,                            -- whose working calendar counts (receiving desk)
    received_at        timestamptz,
    receipt_at         timestamptz,
    original_due_at    timestamptz,                     -- fixed at receipt, for the record
    period_start_at    timestamptz,                     -- receipt, or the restart after a supplement
    paused_working_s   bigint NOT NULL DEFAULT 0,       -- pause policy: waiting time added
    due_at             timestamptz,                     -- the legal due date now in force
    rescheduled_due_at timestamptz,                     -- the unit's one reschedule, beside it
    reschedule_reason  text,
    deadline_version   integer NOT NULL DEFAULT 1,
    armed_at           timestamptz,                     -- this version's rungs after it only
    paused_at          timestamptz,
    supplements        integer NOT NULL DEFAULT 0,
    counted_late       boolean NOT NULL DEFAULT false,  -- a second supplement request
    breaches           integer NOT NULL DEFAULT 0,
    fired_through      timestamptz,                     -- every item up to here has fired
    next_fire_at       timestamptz,                     -- NULL: nothing left to fire
    updated_at         timestamptz NOT NULL DEFAULT now()
);
-- The sweep reads only due clocks.
CREATE INDEX clock_next_fire ON deadline.clock (next_fire_at) WHERE next_fire_at IS NOT NULL;

-- Wake sleeping deadline instances when a clock gets a fire time.
CREATE FUNCTION deadline.wake() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('motcua_deadline_wake', '');
    RETURN NULL;
END
$$;
CREATE TRIGGER clock_wake AFTER INSERT OR UPDATE OF next_fire_at ON deadline.clock
    FOR EACH ROW WHEN (NEW.next_fire_at IS NOT NULL) EXECUTE FUNCTION deadline.wake();

CREATE TABLE deadline.ledger (
    dossier_code     text NOT NULL,
    deadline_version integer NOT NULL,
    rung             text NOT NULL,          -- '1wd', 'due-day', '50%', 'overdue', 'overdue-rescheduled'
    kind             text NOT NULL CHECK (kind IN ('warning', 'overdue')),
    fired_at         timestamptz NOT NULL,   -- the clock's "now" when fired
    due_instant      timestamptz NOT NULL,   -- when it was due
    recorded_at      timestamptz NOT NULL DEFAULT clock_timestamp(), -- wall time of the fire
    PRIMARY KEY (dossier_code, deadline_version, rung)
);

CREATE TABLE deadline.update (
    event_id     uuid PRIMARY KEY,
    dossier_code text NOT NULL,
    status       text NOT NULL,
    unit_code    text NOT NULL,
    occurred_at  timestamptz NOT NULL,
    reason       text,
    new_due_at   timestamptz,
    applied      boolean NOT NULL DEFAULT false  -- false: waits for its dossier
);
CREATE INDEX ON deadline.update (dossier_code);
