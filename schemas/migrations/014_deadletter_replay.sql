-- Dead letters replayed by `motcua deadletter replay`: one row per dead
-- letter, so the same one is not sent twice by mistake (--force sends it
-- again). Operators' state, in a schema of its own that no service writes.
CREATE SCHEMA ops;
CREATE TABLE ops.deadletter_replay (
    deadletter_id uuid PRIMARY KEY,  -- the dead letter's event_id
    topic         text NOT NULL,     -- where the message was sent again
    key           text,
    partition     integer,
    "offset"      bigint,
    replayed_at   timestamptz NOT NULL DEFAULT now(),
    replays       integer NOT NULL DEFAULT 1
);
