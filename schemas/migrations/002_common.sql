-- Shared helpers: inbox and outbox tables of a service schema (docs/architecture.md
-- "Delivery"), and the RFC 3339 form of instants.
-- inbox: ids of events already applied (a redelivery is a no-op).
-- outbox: events written with the state change, published after commit.
CREATE FUNCTION public.motcua_create_delivery_tables(schema_name text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('CREATE TABLE %I.inbox (
        event_id   uuid PRIMARY KEY,
        applied_at timestamptz NOT NULL DEFAULT now())', schema_name);
    EXECUTE format('CREATE TABLE %I.outbox (
        id         bigserial PRIMARY KEY,
        topic      text NOT NULL,
        key        text,
        payload    jsonb NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now())', schema_name);
END
$$;

-- An instant as RFC 3339 in Vietnam's civil time, the form every event uses.
CREATE FUNCTION public.motcua_rfc3339(t timestamptz) RETURNS text
LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT to_char(t AT TIME ZONE 'Asia/Ho_Chi_Minh', 'YYYY-MM-DD"T"HH24:MI:SS"+07:00"')
$$;
