-- Retention (MOTCUA_RETAIN_*, applied by each service every
-- MOTCUA_PRUNE_INTERVAL_S): what the pruning reads, and where a parked
-- update was read, so that one whose dossier never arrives can go to the
-- dead letters with its place and bytes.
ALTER TABLE deadline.update
    ADD COLUMN recorded_at    timestamptz NOT NULL DEFAULT now(),
    ADD COLUMN read_partition integer,   -- set while the update is parked
    ADD COLUMN read_offset    bigint,
    ADD COLUMN payload        jsonb;
CREATE INDEX update_parked ON deadline.update (recorded_at) WHERE NOT applied;

ALTER TABLE routing.parked
    ADD COLUMN read_partition integer,
    ADD COLUMN read_offset    bigint;
CREATE INDEX parked_at ON routing.parked (parked_at);

CREATE INDEX clock_finished ON deadline.clock (updated_at)
    WHERE state IN ('finished', 'returned', 'withdrawn', 'stopped');
CREATE INDEX ON intake.rejection (rejected_at);
CREATE INDEX ON routing.inbox (applied_at);
CREATE INDEX ON deadline.inbox (applied_at);
CREATE INDEX ON notify.inbox (applied_at);
