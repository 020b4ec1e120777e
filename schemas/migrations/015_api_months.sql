-- The read side's figures for several months in one pass: the board's
-- twelve-month trend took twelve scans of api.dossier (2.6 s over a year of
-- 71,776 dossiers, tests/bench/run api). A dossier counts in a month when
-- its span, from receipt to close (open: unbounded), meets the month; a
-- GiST index on that span finds them.
CREATE INDEX dossier_span ON api.dossier USING gist (
    tstzrange(receipt_at, CASE WHEN closed_at IS NULL THEN NULL
                               ELSE greatest(closed_at, receipt_at) END, '[]'));

-- months months from first_month (local midnight of a month's first day);
-- cut: now (a month not over yet is counted up to it). Same figures as
-- api.unit_month (013), one row per month and unit.
CREATE FUNCTION api.unit_months(first_month timestamptz, months integer, cut timestamptz,
                                only_unit text)
RETURNS TABLE (month_start timestamptz, unit_code text, unit_name text, unit_kind text,
               received bigint, online bigint, finished bigint, finished_on_time bigint,
               finished_late bigint, open_in_time bigint, open_late bigint, letters bigint,
               average_processing_wd numeric)
LANGUAGE sql STABLE AS $$
    -- Months are counted in Vietnam's civil time, whatever the session's.
    WITH b AS (
        SELECT lm AT TIME ZONE 'Asia/Ho_Chi_Minh' AS s,
               (lm + interval '1 month') AT TIME ZONE 'Asia/Ho_Chi_Minh' AS e,
               least((lm + interval '1 month') AT TIME ZONE 'Asia/Ho_Chi_Minh', cut) AS c
          FROM generate_series(first_month AT TIME ZONE 'Asia/Ho_Chi_Minh',
                               (first_month AT TIME ZONE 'Asia/Ho_Chi_Minh')
                                   + (months - 1) * interval '1 month',
                               interval '1 month') lm),
    st AS (
        SELECT b.s, d.unit_code,
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
          FROM b JOIN api.dossier d
            ON tstzrange(d.receipt_at, CASE WHEN d.closed_at IS NULL THEN NULL
                                            ELSE greatest(d.closed_at, d.receipt_at) END, '[]')
               && tstzrange(b.s, b.e, '[)')
         WHERE d.unit_code IS NOT NULL AND d.receipt_at < b.e
           AND (only_unit IS NULL OR d.unit_code = only_unit)
         GROUP BY b.s, d.unit_code),
    -- The month's letters, each looked up at its dossier (a join made the
    -- planner hash the whole of api.dossier for a few hundred letters).
    lt AS (
        SELECT x.s, x.unit_code, count(*) AS letters
          FROM (SELECT b.s, (SELECT d.unit_code FROM api.dossier d
                              WHERE d.code = l.dossier_code) AS unit_code
                  FROM b JOIN api.letter l ON l.issued_at >= b.s AND l.issued_at < b.e) x
         WHERE only_unit IS NULL OR x.unit_code = only_unit
         GROUP BY x.s, x.unit_code)
    SELECT b.s, u.code, u.name, u.kind, coalesce(st.received, 0), coalesce(st.online, 0),
           coalesce(st.finished, 0), coalesce(st.finished_on_time, 0),
           coalesce(st.finished_late, 0), coalesce(st.open_in_time, 0),
           coalesce(st.open_late, 0), coalesce(lt.letters, 0), st.avg_wd
      FROM b CROSS JOIN catalog.unit u
      LEFT JOIN st ON st.s = b.s AND st.unit_code = u.code
      LEFT JOIN lt ON lt.s = b.s AND lt.unit_code = u.code
     WHERE (only_unit IS NULL OR u.code = only_unit)
       AND (u.kind IN ('department', 'ward', 'commune') OR st.unit_code IS NOT NULL)
$$;

-- One month: the same function, so the two never disagree.
CREATE OR REPLACE FUNCTION api.unit_month(month_start timestamptz, cut timestamptz, only_unit text)
RETURNS TABLE (unit_code text, unit_name text, unit_kind text, received bigint, online bigint,
               finished bigint, finished_on_time bigint, finished_late bigint,
               open_in_time bigint, open_late bigint, letters bigint,
               average_processing_wd numeric)
LANGUAGE sql STABLE AS $$
    SELECT unit_code, unit_name, unit_kind, received, online, finished, finished_on_time,
           finished_late, open_in_time, open_late, letters, average_processing_wd
      FROM api.unit_months(month_start, 1, cut, only_unit)
$$;

GRANT EXECUTE ON FUNCTION api.unit_months(timestamptz, integer, timestamptz, text)
    TO motcua_api, motcua_api_read;
