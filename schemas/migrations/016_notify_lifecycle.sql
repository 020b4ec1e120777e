-- notify: the notification lifecycle (issue 8). A letter is created, taken
-- by a sender (sending), then delivered, or failed: a temporary or technical
-- failure is retried on the same channel after MOTCUA_NOTIFY_RETRY_SCHEDULE;
-- a permanent failure (or retries used up) moves it to the next of its
-- channels, the counter last. Each delivery is an attempt; receipts say
-- which attempt they report on.
ALTER TABLE notify.letter DROP CONSTRAINT letter_status_check;
UPDATE notify.letter SET status = CASE status
    WHEN 'sent' THEN 'created'
    WHEN 'failed' THEN 'temporary-failure'
    WHEN 'bounced' THEN 'permanent-failure'
    ELSE status END;
ALTER TABLE notify.letter
    ALTER status SET DEFAULT 'created',
    ADD CONSTRAINT letter_status_check CHECK (status IN ('created', 'sending', 'delivered',
        'temporary-failure', 'permanent-failure', 'technical-failure')),
    -- The attempt under way (1 the first), the channels in the order they
    -- are tried (delivery_channel is the current one), the retries made on
    -- the current channel, when the next retry is due (NULL: none waits).
    ADD COLUMN attempt integer NOT NULL DEFAULT 1,
    ADD COLUMN channels text[],
    ADD COLUMN retries integer NOT NULL DEFAULT 0,
    ADD COLUMN next_attempt_at timestamptz,
    -- The first attempt's message (its data), from which later attempts are
    -- made; NULL for letters written before this migration (not retried).
    ADD COLUMN message jsonb;
UPDATE notify.letter SET channels = ARRAY[delivery_channel];
ALTER TABLE notify.letter ALTER channels SET NOT NULL;
CREATE INDEX letter_next_attempt ON notify.letter (next_attempt_at)
    WHERE next_attempt_at IS NOT NULL;

-- Every attempt: when it started, on which channel, and why (the first, a
-- retry on the same channel, a fallback to the next).
CREATE TABLE notify.attempt (
    notification_id uuid NOT NULL,
    attempt         integer NOT NULL,
    channel         text NOT NULL,
    reason          text NOT NULL CHECK (reason IN ('first', 'retry', 'fallback')),
    started_at      timestamptz NOT NULL,
    PRIMARY KEY (notification_id, attempt)
);
INSERT INTO notify.attempt (notification_id, attempt, channel, reason, started_at)
SELECT notification_id, 1, delivery_channel, 'first', issued_at FROM notify.letter;

-- Every receipt, with the attempt and channel it reports on.
ALTER TABLE notify.delivery
    ADD COLUMN attempt integer,
    ADD COLUMN channel text;
CREATE INDEX delivery_notification ON notify.delivery (notification_id, reported_at);

-- The read side's copy of a letter's delivery state in v2's words.
UPDATE api.letter SET delivery = CASE delivery
    WHEN 'failed' THEN 'temporary-failure'
    WHEN 'bounced' THEN 'permanent-failure'
    ELSE delivery END
WHERE delivery IN ('failed', 'bounced');
