-- api: the read side's projection (services/api), fed only from the topics.
-- It keeps what a citizen's lookup, a unit's worklist and the board show,
-- and no more personal data than the lookup needs: the applicant's id
-- number is kept only as a hash bound to the dossier code.
CREATE SCHEMA api;
SELECT public.motcua_create_delivery_tables('api');
SELECT public.motcua_create_parked_table('api');
CREATE INDEX ON api.inbox (applied_at);

CREATE TABLE api.dossier (
    code               text PRIMARY KEY,
    -- hex sha256 of '<code>:<applicant id number>'
    id_check           text,
    channel            text,
    procedure_code     text,
    procedure_name     text,
    receiving_agency   text,
    reception_point    text,
    ward_code          text,
    unit_code          text,
    unit_name          text,
    unit_at            timestamptz, -- the assignment in force was made then
    state              text NOT NULL DEFAULT 'received',
    state_at           timestamptz, -- the transition that set state happened then
    received_at        timestamptz,
    receipt_at         timestamptz,
    due_at             timestamptz, -- the legal due date (moved only by pauses and the calendar)
    due_version        integer NOT NULL DEFAULT -1,
    rescheduled_due_at timestamptz, -- the one new appointment after an apology
    finished_at        timestamptz, -- the result was ready (or returned) first then
    closed_at          timestamptz, -- finished, withdrawn or stopped first then
    processing_wd      numeric(10, 2), -- working days from receipt to finished_at
    late               boolean NOT NULL DEFAULT false, -- a breach fired
    late_at            timestamptz,
    breaches           integer NOT NULL DEFAULT 0,
    warned_at          timestamptz, -- the latest warning rung fired then
    updated_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX dossier_unit_open ON api.dossier (unit_code, due_at, code) WHERE closed_at IS NULL;
CREATE INDEX dossier_receipt ON api.dossier (receipt_at);
CREATE INDEX dossier_closed ON api.dossier (closed_at);

-- What the citizen's lookup lists, in time order.
CREATE TABLE api.timeline (
    id           bigserial PRIMARY KEY,
    dossier_code text NOT NULL,
    at           timestamptz NOT NULL,
    kind         text NOT NULL,
    unit_code    text,
    detail       jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX timeline_dossier ON api.timeline (dossier_code, at, id);

-- Letters and their delivery, from notifications and their receipts (which
-- may arrive first).
CREATE TABLE api.letter (
    notification_id uuid PRIMARY KEY,
    dossier_code    text,
    kind            text,
    breach          integer,
    channel         text,
    document_number text,
    issued_at       timestamptz,
    delivery        text NOT NULL DEFAULT 'sent',
    delivery_at     timestamptz
);
CREATE INDEX letter_dossier ON api.letter (dossier_code);
CREATE INDEX letter_issued ON api.letter (issued_at);

-- A month's figures per unit, as the city reports them (docs/api.md,
-- "Indicators"): the month starts at month_start (local midnight of its
-- first day); cut is the end of the month, or now for the current month.
-- Dossiers are counted at the unit that holds them now.
CREATE FUNCTION api.unit_month(month_start timestamptz, cut timestamptz, only_unit text)
RETURNS TABLE (unit_code text, unit_name text, unit_kind text, received bigint, online bigint,
               finished bigint, finished_on_time bigint, finished_late bigint,
               open_in_time bigint, open_late bigint, letters bigint,
               average_processing_wd numeric)
LANGUAGE sql STABLE AS $$
    -- Months are counted in Vietnam's civil time, whatever the session's.
    WITH n AS (SELECT ((month_start AT TIME ZONE 'Asia/Ho_Chi_Minh') + interval '1 month')
                      AT TIME ZONE 'Asia/Ho_Chi_Minh' AS e),
    b AS (SELECT month_start AS s, n.e, least(n.e, cut) AS c FROM n),
    st AS (
        SELECT d.unit_code,
               count(*) FILTER (WHERE d.receipt_at >= b.s AND d.receipt_at < b.e) AS received,
               count(*) FILTER (WHERE d.receipt_at >= b.s AND d.receipt_at < b.e
                                  AND d.channel = 'online') AS online,
               count(*) FILTER (WHERE d.finished_at >= b.s AND d.finished_at < b.e) AS finished,
               count(*) FILTER (WHERE d.finished_at >= b.s AND d.finished_at < b.e
                                  AND NOT (d.late OR d.finished_at > d.due_at)) AS finished_on_time,
               count(*) FILTER (WHERE d.finished_at >= b.s AND d.finished_at < b.e
                                  AND (d.late OR d.finished_at > d.due_at)) AS finished_late,
               count(*) FILTER (WHERE d.receipt_at < b.c
                                  AND (d.closed_at IS NULL OR d.closed_at >= b.c)
                                  AND d.due_at >= b.c) AS open_in_time,
               count(*) FILTER (WHERE d.receipt_at < b.c
                                  AND (d.closed_at IS NULL OR d.closed_at >= b.c)
                                  AND d.due_at < b.c) AS open_late,
               round(avg(d.processing_wd) FILTER (WHERE d.finished_at >= b.s
                                                    AND d.finished_at < b.e), 2) AS avg_wd
          FROM api.dossier d, b
         WHERE d.unit_code IS NOT NULL AND d.receipt_at < b.e
           AND (d.closed_at IS NULL OR d.closed_at >= b.s)
           AND (only_unit IS NULL OR d.unit_code = only_unit)
         GROUP BY d.unit_code),
    lt AS (
        SELECT d.unit_code, count(*) AS letters
          FROM api.letter l JOIN api.dossier d ON d.code = l.dossier_code, b
         WHERE l.issued_at >= b.s AND l.issued_at < b.e
           AND (only_unit IS NULL OR d.unit_code = only_unit)
         GROUP BY d.unit_code)
    SELECT u.code, u.name, u.kind, coalesce(st.received, 0), coalesce(st.online, 0),
           coalesce(st.finished, 0), coalesce(st.finished_on_time, 0),
           coalesce(st.finished_late, 0), coalesce(st.open_in_time, 0),
           coalesce(st.open_late, 0), coalesce(lt.letters, 0), st.avg_wd
      FROM catalog.unit u
      LEFT JOIN st ON st.unit_code = u.code
      LEFT JOIN lt ON lt.unit_code = u.code
     WHERE (only_unit IS NULL OR u.code = only_unit)
       AND (u.kind IN ('department', 'ward', 'commune') OR st.unit_code IS NOT NULL)
$$;

-- The projection writes as motcua_api; the HTTP requests read as
-- motcua_api_read (SET ROLE on their own connection), which may only read
-- this schema and the catalog.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'motcua_api') THEN
        CREATE ROLE motcua_api LOGIN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'motcua_api_read') THEN
        CREATE ROLE motcua_api_read NOLOGIN;
    END IF;
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO motcua_api', current_database());
END
$$;
GRANT motcua_api_read TO motcua_api;
GRANT USAGE ON SCHEMA api TO motcua_api, motcua_api_read;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA api TO motcua_api;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA api TO motcua_api;
GRANT SELECT ON api.dossier, api.timeline, api.letter TO motcua_api_read;
GRANT EXECUTE ON FUNCTION api.unit_month(timestamptz, timestamptz, text)
    TO motcua_api, motcua_api_read;
GRANT USAGE ON SCHEMA catalog TO motcua_api, motcua_api_read;
GRANT SELECT ON ALL TABLES IN SCHEMA catalog TO motcua_api, motcua_api_read;
ALTER DEFAULT PRIVILEGES IN SCHEMA catalog GRANT SELECT ON TABLES TO motcua_api, motcua_api_read;
