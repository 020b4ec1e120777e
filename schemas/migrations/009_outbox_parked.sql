-- Outbox rows the broker refuses for good (too large, invalid) are moved
-- here by the relay, with the error, so they never block the rows after
-- them or the service's readiness. Operators list, retry (back into the
-- outbox) or drop them with `motcua outbox`.
CREATE FUNCTION public.motcua_create_parked_table(schema_name text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('CREATE TABLE %I.outbox_parked (
        id         bigint PRIMARY KEY,
        topic      text NOT NULL,
        key        text,
        payload    jsonb NOT NULL,
        created_at timestamptz NOT NULL,
        error      text NOT NULL,
        parked_at  timestamptz NOT NULL DEFAULT now())', schema_name);
END
$$;

SELECT public.motcua_create_parked_table(s)
  FROM unnest(ARRAY['intake', 'routing', 'deadline', 'notify']) AS s;

-- Each service moves its own rows (008_roles.sql's default privileges cover
-- this only when the same role runs both migrations).
GRANT SELECT, INSERT, UPDATE, DELETE ON intake.outbox_parked TO motcua_intake;
GRANT SELECT, INSERT, UPDATE, DELETE ON routing.outbox_parked TO motcua_router;
GRANT SELECT, INSERT, UPDATE, DELETE ON deadline.outbox_parked TO motcua_deadline;
GRANT SELECT, INSERT, UPDATE, DELETE ON notify.outbox_parked TO motcua_notify;
