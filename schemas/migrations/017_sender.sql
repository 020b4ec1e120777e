-- sender: the reference notification sender (motcua-sender). Each attempt
-- of a notification it reads becomes a job; a job is delivered outside any
-- transaction (SMTP, a webhook, the print queue) and its outcome becomes a
-- receipt on notification.receipts. A job is keyed by (notification_id,
-- attempt), the sender's idempotency key: a redelivered attempt is not
-- delivered twice.
CREATE SCHEMA sender;
SELECT public.motcua_create_delivery_tables('sender');
SELECT public.motcua_create_parked_table('sender');
CREATE INDEX ON sender.inbox (applied_at);

CREATE TABLE sender.job (
    notification_id uuid NOT NULL,
    attempt         integer NOT NULL,
    channel         text NOT NULL,
    dossier_code    text,
    message         jsonb NOT NULL,  -- the notification event's data
    -- pending until delivered or failed; outcome is the receipt's status.
    state           text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'done')),
    outcome         text,
    detail          text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    done_at         timestamptz,
    PRIMARY KEY (notification_id, attempt)
);
CREATE INDEX job_pending ON sender.job (created_at) WHERE state = 'pending';

-- Its own role: this schema only (no catalog, no other service's tables).
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'motcua_sender') THEN
        CREATE ROLE motcua_sender LOGIN;
    END IF;
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO motcua_sender', current_database());
END
$$;
GRANT USAGE ON SCHEMA sender TO motcua_sender;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA sender TO motcua_sender;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA sender TO motcua_sender;
