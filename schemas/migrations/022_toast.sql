-- Long values are compressed with lz4 rather than pglz, and the outboxes'
-- rows are not compressed at all (issue 6, throughput).
--
-- perf over the throughput bench (50,000 breaches, a letter each) put
-- pglz_compress first among PostgreSQL's functions: 12% of its samples,
-- under heap_insert. A row longer than about 2 kB is compressed before it is
-- stored: an apology letter's body and message, its events in the outbox,
-- a notice. lz4 does that in a fraction of pglz's time (PostgreSQL 14 and
-- later, when built with it, as Debian's is).
--
-- An outbox row lives for milliseconds: written, read once by the relay,
-- deleted. It is kept whole in its page (toast_tuple_target 8160 bytes, the
-- most a page holds) rather than compressed; a longer one is still
-- compressed and moved out of line, with lz4.
--
-- A server built without lz4 refuses SET COMPRESSION lz4; the columns then
-- keep pglz and the rest applies.
CREATE OR REPLACE FUNCTION public.motcua_prefer_lz4(rel regclass, col text) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('ALTER TABLE %s ALTER COLUMN %I SET COMPRESSION lz4', rel, col);
    RETURN true;
EXCEPTION WHEN feature_not_supported THEN
    RETURN false;
END
$$;

-- The outboxes and their parked rows, in every schema that has them, and
-- those made from now on (motcua_create_delivery_tables and
-- motcua_create_parked_table call it).
CREATE OR REPLACE FUNCTION public.motcua_tune_outbox(schema_name text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF to_regclass(format('%I.outbox', schema_name)) IS NOT NULL THEN
        EXECUTE format('ALTER TABLE %I.outbox SET (toast_tuple_target = 8160)', schema_name);
        PERFORM public.motcua_prefer_lz4(format('%I.outbox', schema_name)::regclass, 'payload');
    END IF;
    IF to_regclass(format('%I.outbox_parked', schema_name)) IS NOT NULL THEN
        PERFORM public.motcua_prefer_lz4(format('%I.outbox_parked', schema_name)::regclass,
                                         'payload');
    END IF;
END
$$;

DO $$
DECLARE
    s record;
BEGIN
    FOR s IN SELECT DISTINCT table_schema FROM information_schema.tables
             WHERE table_name = 'outbox' ORDER BY table_schema
    LOOP
        PERFORM public.motcua_tune_outbox(s.table_schema);
    END LOOP;
END
$$;

-- The long values kept for good: letters, notices, the sender's jobs, the
-- dossiers as submitted and as routed, the read side's timeline.
SELECT public.motcua_prefer_lz4(c.rel, c.col)
FROM (VALUES ('notify.letter'::regclass, 'body'), ('notify.letter', 'message'),
             ('notify.notice', 'body'), ('notify.notice', 'message'), ('sender.job', 'message'),
             ('intake.dossier', 'submission'), ('routing.assignment', 'dossier'),
             ('deadline.update', 'payload'), ('api.timeline', 'detail')) AS c(rel, col);

-- Schemas made from now on are set up the same way: the functions that
-- make their tables (migration 021) are wrapped, not copied.
ALTER FUNCTION public.motcua_create_delivery_tables(text)
    RENAME TO motcua_create_delivery_tables_021;
ALTER FUNCTION public.motcua_create_parked_table(text) RENAME TO motcua_create_parked_table_021;

CREATE FUNCTION public.motcua_create_delivery_tables(schema_name text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM public.motcua_create_delivery_tables_021(schema_name);
    PERFORM public.motcua_tune_outbox(schema_name);
END
$$;

CREATE FUNCTION public.motcua_create_parked_table(schema_name text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM public.motcua_create_parked_table_021(schema_name);
    PERFORM public.motcua_tune_outbox(schema_name);
END
$$;
