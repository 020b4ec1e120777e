-- A warning whose date had already passed when it came due (the service was
-- down, or the topic clock jumped) is recorded as skipped, not sent: the
-- breach is the news then, and the ledger still keeps it from firing later.
ALTER TABLE deadline.ledger DROP CONSTRAINT ledger_kind_check;
ALTER TABLE deadline.ledger ADD CONSTRAINT ledger_kind_check
    CHECK (kind IN ('warning', 'overdue', 'skipped'));
