-- Accountability (issue 8): notices to the units, not only letters to
-- citizens (docs/domain.md, "Accountability").
--   - a warning notice to the processing unit at each warning rung;
--   - at a breach, a request for an explanation (giải trình) to the late
--     unit's head, due within MOTCUA_EXPLANATION_WORKING_DAYS working days;
--   - without an explanation by then, an escalation to the Chairman's
--     office (the unit named by the setting accountability_office).
-- Notices travel on motcua.notifications as notification.notice
-- (unit-notice.v1) and have the letters' lifecycle (receipts, retries,
-- fallback), but they are internal documents: they live in notify.notice,
-- so notify.letter stays the citizens' apology letters.

-- Where a unit receives its notices; NULL: on paper (the post channel).
ALTER TABLE catalog.unit ADD COLUMN email text
    CHECK (email IS NULL OR email ~ '^[^@ ]+@[^@ ]+\.[^@ ]+$');

CREATE TABLE notify.notice (
    notification_id  uuid PRIMARY KEY,
    dossier_code     text NOT NULL,
    kind             text NOT NULL
                     CHECK (kind IN ('warning', 'explanation-request', 'escalation')),
    breach           integer NOT NULL,            -- 0: a warning before any breach
    rung             text NOT NULL DEFAULT '',    -- a warning's "<deadline version>/<rung>"
    unit_code        text,                        -- the unit the notice is about
    recipient_unit   text,                        -- the unit it is addressed to
    subject          text NOT NULL,
    body             text NOT NULL,
    issued_at        timestamptz NOT NULL,
    -- The lifecycle, as notify.letter's (016_notify_lifecycle.sql).
    delivery_channel text NOT NULL,
    channels         text[] NOT NULL,
    status           text NOT NULL DEFAULT 'created'
                     CHECK (status IN ('created', 'sending', 'delivered', 'temporary-failure',
                                       'permanent-failure', 'technical-failure')),
    attempt          integer NOT NULL DEFAULT 1,
    retries          integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz,
    message          jsonb NOT NULL,
    UNIQUE (dossier_code, kind, breach, rung)
);
CREATE INDEX notice_next_attempt ON notify.notice (next_attempt_at)
    WHERE next_attempt_at IS NOT NULL;

-- One request per breach of a dossier; requested_at is the breach's instant
-- on the services' clock (MOTCUA_CLOCK), due_at that plus the working days.
-- Once due_at has passed on the clock, notify settles it: explained (an
-- explanation was given between the request and due_at) or escalated.
CREATE TABLE notify.explanation (
    dossier_code  text NOT NULL,
    breach        integer NOT NULL,
    unit_code     text NOT NULL,
    requested_at  timestamptz NOT NULL,
    due_at        timestamptz NOT NULL,
    request_id    uuid NOT NULL,                 -- the explanation-request notice
    outcome       text CHECK (outcome IN ('explained', 'escalated')),
    settled_at    timestamptz,                   -- on the clock
    escalation_id uuid,                          -- the escalation notice
    PRIMARY KEY (dossier_code, breach)
);
CREATE INDEX explanation_pending ON notify.explanation (due_at) WHERE outcome IS NULL;

-- Every explanation a unit recorded (dossier.updates, status explanation).
-- It answers the requests made to that unit for that dossier before it.
CREATE TABLE notify.explanation_given (
    event_id     uuid PRIMARY KEY,
    dossier_code text NOT NULL,
    unit_code    text NOT NULL,
    officer      text NOT NULL,
    text         text NOT NULL,
    occurred_at  timestamptz NOT NULL
);
CREATE INDEX explanation_given_dossier ON notify.explanation_given (dossier_code, unit_code);

-- The read side keeps notices apart from letters: a receipt about a notice
-- must not make it a letter on the board or in a lookup.
CREATE TABLE api.notice (
    notification_id uuid PRIMARY KEY,
    dossier_code    text NOT NULL,
    kind            text NOT NULL,
    unit_code       text,
    issued_at       timestamptz,
    delivery        text NOT NULL DEFAULT 'created',
    delivery_at     timestamptz
);
GRANT SELECT, INSERT, UPDATE, DELETE ON api.notice TO motcua_api;

-- The monthly ranking of units (thi đua), frozen once a month is over
-- (`motcua report --month YYYY-MM --by unit --freeze`), so that a past
-- month's ranking reads the same later whatever arrives after it.
CREATE SCHEMA report;
CREATE TABLE report.ranking (
    month                  date NOT NULL,   -- the month's first day
    position               integer NOT NULL,
    unit_code              text NOT NULL,
    unit_name              text NOT NULL,
    handled                integer NOT NULL, -- finished in the month, or open at its end
    on_time                integer NOT NULL,
    late                   integer NOT NULL,
    on_time_pct            numeric(5, 1),
    letters                integer NOT NULL, -- apology letters issued in the month
    explanations_requested integer NOT NULL,
    explanations_overdue   integer NOT NULL, -- their deadline passed in the month, none given
    frozen_at              timestamptz NOT NULL,
    PRIMARY KEY (month, unit_code)
);
