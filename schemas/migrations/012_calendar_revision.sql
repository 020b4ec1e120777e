-- Calendar corrections reach running deadlines through the deadline service
-- itself: any change to the days off or office hours bumps the catalog's
-- calendar revision (and wakes the deadline instances); an instance that
-- sees a revision it has not applied recomputes the open clocks in chunks,
-- recording its progress in deadline.recompute, so another instance can go
-- on where it stopped. `motcua calendar recompute` only bumps the revision
-- and waits for the service; it writes no deadline table.
CREATE TABLE catalog.calendar_revision (
    only_row   boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    revision   bigint NOT NULL,
    changed_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO catalog.calendar_revision (revision) VALUES (1);

CREATE FUNCTION catalog.bump_calendar_revision() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE catalog.calendar_revision SET revision = revision + 1, changed_at = now();
    PERFORM pg_notify('motcua_deadline_wake', '');
    RETURN NULL;
END
$$;
CREATE TRIGGER calendar_day_revision
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON catalog.calendar_day
    FOR EACH STATEMENT EXECUTE FUNCTION catalog.bump_calendar_revision();
CREATE TRIGGER office_hours_revision
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON catalog.office_hours
    FOR EACH STATEMENT EXECUTE FUNCTION catalog.bump_calendar_revision();

CREATE TABLE deadline.recompute (
    only_row  boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    revision  bigint NOT NULL,             -- the calendar revision applied or being applied
    cursor    text NOT NULL DEFAULT '',    -- the last dossier code done
    moved     integer NOT NULL DEFAULT 0,  -- clocks whose due date moved
    done      boolean NOT NULL DEFAULT true,
    done_at   timestamptz
);
INSERT INTO deadline.recompute (revision) VALUES (0);

GRANT SELECT ON catalog.calendar_revision TO motcua_intake, motcua_router, motcua_deadline,
    motcua_notify;
GRANT SELECT, UPDATE ON deadline.recompute TO motcua_deadline;
