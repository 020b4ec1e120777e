#!/usr/bin/python3
"""The torture test's independent checker (tests/torture/run).

It shares no code with the services: it reads every topic from the
beginning with its own Kafka client (confluent-kafka, Debian's
python3-confluent-kafka) and the database with psycopg2, and checks what a
city must be able to promise after any crash:

  verify --brokers B --prefix P --pg URL --expect DIR
      every accepted submission (DIR/accepted.keys) became exactly one
      dossier: one dossier.received event id and one intake.dossier row;
      none for the planted bad or non-JSON ones; each dossier has exactly
      one first assignment, and one dossier.assigned event per assignment
      (the first and each transfer in routing.transfer); every breach
      (dossier.overdue) exactly once per (dossier, breach number), numbered
      1..k with k the clock's breaches and the ledger's overdue rows;
      every warning rung at most once; every open clock whose due date the
      last tick passed has breached; no breach for a dossier whose unit
      finished it by its due date; exactly one apology letter per breach
      (one notification id on `notifications`, one notify.letter row, the
      same id); a dossier's events all on one partition, in time order on
      dossier.assigned, dossier.deadlines and notifications, its breaches
      numbered in order; rejections for exactly the planted bad and non-JSON
      submissions; dead letters for exactly the non-JSON ones; no outbox
      row left or parked, no update left waiting for its dossier.
      Redelivered copies (the same event id again) are counted and
      reported, never counted as effects. Exit 1 on any violation.

  leader --brokers B --topic T
      prints the node id leading partition 0 of T (for the broker faults).

  lag --brokers B --prefix P --groups G1,G2,...
      prints how many messages the consumer groups have not committed yet
      on the topics each consumes (the drain waits for 0).

  plant --brokers B --prefix P
      the checker's own test: publishes a second dossier.overdue for a
      breach already announced (the first one's copy under a new event id,
      as a double fire would), after which verify must fail.
"""
import argparse
import collections
import datetime
import json
import sys
import time
import uuid

import psycopg2
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition
from confluent_kafka.admin import AdminClient

FINISHING = {"result_ready", "returned", "withdrawn", "stopped"}


class Verdict:
    def __init__(self):
        self.violations = 0

    def check(self, what, bad, detail=""):
        """bad: the offending items (a list); empty passes."""
        if bad:
            self.violations += 1
            shown = ", ".join(str(b) for b in bad[:5])
            print("  VIOLATION %s: %d (%s%s)%s" % (what, len(bad), shown,
                                                   ", ..." if len(bad) > 5 else "",
                                                   " " + detail if detail else ""))
        else:
            print("  ok   %s%s" % (what, " " + detail if detail else ""))


def read_topic(brokers, topic):
    """Every message of the topic: list of (partition, offset, key, value)."""
    c = Consumer({"bootstrap.servers": brokers, "group.id": "torture-checker-" + str(uuid.uuid4()),
                  "enable.auto.commit": False, "auto.offset.reset": "earliest",
                  "enable.partition.eof": False})
    md = c.list_topics(topic, timeout=30)
    if topic not in md.topics or md.topics[topic].error is not None:
        sys.exit("check: no topic %s" % topic)
    parts = sorted(md.topics[topic].partitions)
    ends = {}
    for p in parts:
        lo, hi = c.get_watermark_offsets(TopicPartition(topic, p), timeout=30)
        if lo != 0:
            sys.exit("check: %s[%d] starts at offset %d: messages were deleted" % (topic, p, lo))
        ends[p] = hi
    remaining = {p for p in parts if ends[p] > 0}
    c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in parts])
    out = []
    deadline = time.time() + 300
    while remaining:
        if time.time() > deadline:
            sys.exit("check: could not read %s to its end in 300 s" % topic)
        for m in c.consume(num_messages=2000, timeout=1):
            if m.error():
                if m.error().code() != KafkaError._PARTITION_EOF:
                    sys.exit("check: reading %s: %s" % (topic, m.error()))
                continue
            p = m.partition()
            if p not in remaining:
                continue
            out.append((p, m.offset(), m.key().decode() if m.key() else None, m.value()))
            if m.offset() + 1 >= ends[p]:
                remaining.discard(p)
    c.close()
    return out


class Events:
    """A topic's events by event id: the first copy of each, and copies."""

    def __init__(self, v, topic, rows):
        self.topic = topic
        self.all = len(rows)
        self.first = collections.OrderedDict()
        self.copies = 0
        bad, copy_differs = [], []
        for p, o, key, value in rows:
            try:
                ev = json.loads(value)
                eid = ev["event_id"]
            except (ValueError, KeyError, TypeError):
                bad.append("%s[%d]@%d" % (topic, p, o))
                continue
            if eid in self.first:
                self.copies += 1
                if self.first[eid]["ev"] != ev:
                    copy_differs.append(eid)
            else:
                self.first[eid] = {"p": p, "o": o, "key": key, "ev": ev}
        v.check("%s: every message is an event with an event_id" % topic, bad)
        v.check("%s: a redelivered copy equals its first copy" % topic, copy_differs)

    def of_type(self, t):
        return [e for e in self.first.values() if e["ev"].get("type") == t]


def order_problems(topics, names):
    """A dossier's events (first copies, in offset order) whose occurred_at
    goes back in time, on each topic of names."""
    out = []
    for t in names:
        seq = collections.defaultdict(list)
        for e in sorted(topics[t].first.values(), key=lambda e: (e["p"], e["o"])):
            seq[e["ev"].get("dossier_code")].append(e)
        for code, evs in seq.items():
            last, last_e = None, None
            for e in evs:
                try:
                    at = datetime.datetime.fromisoformat(e["ev"]["occurred_at"])
                except (KeyError, TypeError, ValueError):
                    out.append("%s[%d]@%d: occurred_at unreadable" % (t, e["p"], e["o"]))
                    break
                if last is not None and at < last:
                    out.append("%s: %s at offset %d (%s) is earlier than the event before it "
                               "at offset %d (%s)" % (t, code, e["o"], describe(e), last_e["o"],
                                                      describe(last_e)))
                    break
                last, last_e = at, e
    return out


def describe(e):
    """An event as the order check names it: type, what of, when."""
    ev, data = e["ev"], e["ev"].get("data") or {}
    what = [str(data[k]) for k in ("kind", "rung", "breach", "attempt") if k in data]
    return "%s %s %s" % (ev.get("type"), "/".join(what), ev.get("occurred_at"))


def verify(args):
    v = Verdict()
    expect = {}
    for name in ("accepted", "bad", "poison"):
        with open("%s/%s.keys" % (args.expect, name), encoding="utf-8") as f:
            expect[name] = [l.rstrip("\n") for l in f if l.strip()]
    with open("%s/final.tick" % args.expect, encoding="utf-8") as f:
        final_tick = f.read().strip()
    accepted = set(expect["accepted"])
    planted = set(expect["bad"]) | set(expect["poison"])

    t0 = time.time()
    topics = {}
    for t in ("submission.rejected", "dossier.received", "dossier.assigned", "dossier.updates",
              "dossier.deadlines", "notifications", "deadletter"):
        topics[t] = Events(v, t, read_topic(args.brokers, args.prefix + t))
    print("  read %s messages in %.1f s" % (sum(e.all for e in topics.values()), time.time() - t0))

    db = psycopg2.connect(args.pg)
    db.set_session(readonly=True)
    cur = db.cursor()

    def rows(sql):
        cur.execute(sql)
        return cur.fetchall()

    # ---- intake --------------------------------------------------------------
    received = collections.defaultdict(list)  # key -> dossier codes (one per event id)
    for e in topics["dossier.received"].first.values():
        d = e["ev"]["data"]
        received["%s/%s" % (d["source"], d["external_id"])].append(e["ev"]["dossier_code"])
    v.check("every accepted submission has a dossier.received event",
            sorted(accepted - set(received)))
    v.check("no submission has two dossier.received events (distinct event ids)",
            sorted(k for k, c in received.items() if len(c) > 1))
    v.check("no dossier.received for a planted bad or non-JSON submission, nor for any other key",
            sorted(set(received) - accepted))
    codes = {k: c[0] for k, c in received.items() if k in accepted}
    db_dossiers = collections.defaultdict(list)
    for source, ext, code in rows("SELECT source, external_id, code FROM intake.dossier"):
        db_dossiers["%s/%s" % (source, ext)].append(code)
    v.check("intake.dossier: exactly one row per accepted submission, no other",
            sorted(k for k in accepted | set(db_dossiers) if len(db_dossiers.get(k, [])) != 1
                   or k not in accepted))
    v.check("intake.dossier's code is the one dossier.received announced",
            sorted(k for k in accepted if db_dossiers.get(k) and received.get(k)
                   and db_dossiers[k][0] != received[k][0]))
    all_codes = set(codes.values())

    # ---- rejections and dead letters -------------------------------------------
    rejected = collections.Counter(e["key"] for e in topics["submission.rejected"].first.values())
    v.check("every planted bad or non-JSON submission was rejected", sorted(planted - set(rejected)))
    v.check("no rejection of a good submission", sorted(set(rejected) - planted))
    dead = collections.Counter(e["key"] for e in topics["deadletter"].first.values())
    v.check("every non-JSON message was dead-lettered", sorted(set(expect["poison"]) - set(dead)))
    v.check("no dead letter but the planted non-JSON messages",
            sorted(set(dead) - set(expect["poison"])))
    resent_planted = sum(n - 1 for n in rejected.values() if n > 1)

    # ---- routing ---------------------------------------------------------------
    assigned = collections.defaultdict(list)
    for e in topics["dossier.assigned"].first.values():
        assigned[e["ev"]["dossier_code"]].append(e)
    transfers = collections.Counter(c for (c,) in rows("SELECT dossier_code FROM routing.transfer"))
    db_assign = collections.Counter(c for (c,) in rows("SELECT dossier_code FROM routing.assignment"))
    v.check("every dossier is assigned (routing.assignment) exactly once",
            sorted(c for c in all_codes | set(db_assign) if db_assign.get(c) != 1))
    v.check("one dossier.assigned event per assignment: the first and one per transfer",
            sorted("%s: %d events, %d transfers" % (c, len(assigned.get(c, [])), transfers[c])
                   for c in all_codes if len(assigned.get(c, [])) != 1 + transfers[c]))
    v.check("no dossier.assigned for an unknown dossier", sorted(set(assigned) - all_codes))

    # ---- per-dossier partition -----------------------------------------------------
    split = []
    for t in ("dossier.received", "dossier.assigned", "dossier.updates", "dossier.deadlines",
              "notifications"):
        parts = collections.defaultdict(set)
        for e in topics[t].first.values():
            if e["key"] != e["ev"].get("dossier_code"):
                split.append("%s[%d]@%d keyed %s" % (t, e["p"], e["o"], e["key"]))
            parts[e["key"]].add(e["p"])
        split += ["%s: %s on partitions %s" % (t, k, sorted(p)) for k, p in parts.items()
                  if len(p) > 1]
    v.check("each event is keyed by its dossier and a dossier's events are on one partition", split)
    v.check("a dossier's events follow each other in time on each topic (first copies, offset "
            "order)", order_problems(topics, ("dossier.assigned", "dossier.deadlines",
                                              "notifications")))

    # ---- deadlines -------------------------------------------------------------------
    clocks = {}
    for (code, state, breaches, due, orig_due, resched, final_passed) in rows(
            "SELECT dossier_code, state, breaches, due_at, original_due_at, rescheduled_due_at, "
            "coalesce(rescheduled_due_at, due_at) < %s::timestamptz FROM deadline.clock"
            % ("'" + final_tick.replace("'", "") + "'")):
        clocks[code] = dict(state=state, breaches=breaches, due=due, orig_due=orig_due,
                            resched=resched, final_passed=final_passed)
    v.check("every dossier has a deadline clock", sorted(all_codes - set(clocks)))
    ledger = collections.Counter(c for (c,) in rows(
        "SELECT dossier_code FROM deadline.ledger WHERE kind = 'overdue'"))

    overdue = collections.defaultdict(list)  # code -> breach numbers in offset order
    overdue_ids = collections.Counter()
    for e in topics["dossier.deadlines"].of_type("dossier.overdue"):
        code = e["ev"]["dossier_code"]
        overdue[code].append(e["ev"]["data"]["breach"])
        overdue_ids[(code, e["ev"]["data"]["breach"])] += 1
    v.check("each breach announced once: one dossier.overdue event id per (dossier, breach)",
            sorted("%s#%d x%d" % (c, b, n) for (c, b), n in overdue_ids.items() if n > 1))
    v.check("breaches numbered 1..k in order, k = the clock's breaches = the ledger's overdue rows",
            sorted("%s: events %s, clock %s, ledger %d" % (c, overdue.get(c, []),
                                                            clocks.get(c, {}).get("breaches"),
                                                            ledger[c])
                   for c in set(overdue) | set(ledger) | {c for c, k in clocks.items()
                                                          if k["breaches"]}
                   if overdue.get(c, []) != list(range(1, len(overdue.get(c, [])) + 1))
                   or len(overdue.get(c, [])) != clocks.get(c, {}).get("breaches")
                   or len(overdue.get(c, [])) != ledger[c]))
    v.check("every open clock whose due date the last tick passed has breached",
            sorted(c for c, k in clocks.items()
                   if k["state"] == "open" and k["final_passed"] and k["breaches"] == 0))

    warnings = collections.Counter()
    for e in topics["dossier.deadlines"].of_type("dossier.warning"):
        d = e["ev"]["data"]
        warnings[(e["ev"]["dossier_code"], d.get("deadline_version"), d.get("rung"))] += 1
    v.check("each warning rung at most once per dossier and deadline version",
            sorted("%s %s %s x%d" % (c, ver, r, n) for (c, ver, r), n in warnings.items() if n > 1))

    finished = {}
    for e in topics["dossier.updates"].first.values():
        d = e["ev"].get("data", {})
        code = e["ev"].get("dossier_code")
        if d.get("status") in FINISHING and code not in finished:
            finished[code] = e["ev"]["occurred_at"]
    cur.execute("SELECT c.dossier_code FROM deadline.clock c "
                "JOIN unnest(%s::text[], %s::timestamptz[]) AS f(code, at) ON f.code = c.dossier_code "
                "WHERE f.at <= least(c.due_at, c.original_due_at)",
                (list(finished), list(finished.values())))
    in_time = {c for (c,) in cur.fetchall()}
    v.check("no breach for a dossier its unit finished by the due date",
            sorted(c for c in in_time if overdue.get(c)), "(%d finished in time)" % len(in_time))

    # ---- letters -----------------------------------------------------------------------
    letters = collections.defaultdict(set)  # (code, breach) -> notification ids
    for e in topics["notifications"].of_type("notification.letter"):
        d = e["ev"]["data"]
        letters[(e["ev"]["dossier_code"], d["breach"])].add(d["notification_id"])
    db_letters = collections.defaultdict(set)
    for code, breach, nid in rows("SELECT dossier_code, breach, notification_id::text FROM notify.letter"):
        db_letters[(code, breach)].add(nid)
    breaches = set(overdue_ids)
    v.check("exactly one apology letter (notification id) per breach",
            sorted("%s#%d: %d" % (c, b, len(letters.get((c, b), ())))
                   for (c, b) in breaches | set(letters) if len(letters.get((c, b), ())) != 1
                   or (c, b) not in breaches))
    v.check("notify.letter holds exactly the letters announced, same notification ids",
            sorted("%s#%d" % k for k in breaches | set(db_letters)
                   if db_letters.get(k) != letters.get(k)))

    # ---- left behind -------------------------------------------------------------------
    left = []
    for s in ("intake", "routing", "deadline", "notify"):
        for t in ("outbox", "outbox_parked"):
            (n,) = rows("SELECT count(*) FROM %s.%s" % (s, t))[0]
            if n:
                left.append("%s.%s: %d" % (s, t, n))
    (n,) = rows("SELECT count(*) FROM deadline.update WHERE NOT applied")[0]
    if n:
        left.append("deadline.update waiting: %d" % n)
    (n,) = rows("SELECT count(*) FROM routing.parked")[0]
    if n:
        left.append("routing.parked: %d" % n)
    v.check("nothing left in an outbox, parked, or waiting for its dossier", left)

    print("\nchecker counts:")
    print("  submissions accepted %d (dossiers %d), planted bad %d, non-JSON %d; rejections %d "
          "(%d for resent planted ones), dead letters %d"
          % (len(accepted), len(all_codes), len(expect["bad"]), len(expect["poison"]),
             sum(rejected.values()), resent_planted, sum(dead.values())))
    print("  assignments %d (transfers %d), updates %d, warnings %d, breaches %d on %d dossiers, "
          "letters %d, finished in time %d, clocks open at the end %d"
          % (sum(len(a) for a in assigned.values()), sum(transfers.values()),
             len(topics["dossier.updates"].first), sum(warnings.values()), len(breaches),
             len(overdue), sum(len(s) for s in letters.values()), len(in_time),
             sum(1 for k in clocks.values() if k["state"] == "open")))
    print("  redelivered copies (same event id again, not effects): " + ", ".join(
        "%s %d" % (t, e.copies) for t, e in topics.items()))
    print("checker: %s" % ("%d violation(s)" % v.violations if v.violations else "no violation"))
    return 1 if v.violations else 0


def leader(args):
    md = AdminClient({"bootstrap.servers": args.brokers}).list_topics(args.topic, timeout=10)
    print(md.topics[args.topic].partitions[0].leader)
    return 0


def lag(args):
    """Prints the messages the services' consumer groups have not committed
    yet, over the topics each group consumes (those it committed an offset
    on): 0 when every service has read everything."""
    admin = AdminClient({"bootstrap.servers": args.brokers})
    md = admin.list_topics(timeout=30)
    parts = [TopicPartition(t, p) for t, m in md.topics.items() if t.startswith(args.prefix)
             for p in m.partitions]
    total = 0
    for group in args.groups.split(","):
        c = Consumer({"bootstrap.servers": args.brokers, "group.id": group,
                      "enable.auto.commit": False})
        committed = c.committed(parts, timeout=30)
        consumed = {tp.topic for tp in committed if tp.offset >= 0}
        for tp in committed:
            if tp.topic in consumed:
                _, hi = c.get_watermark_offsets(TopicPartition(tp.topic, tp.partition), timeout=30)
                total += max(0, hi - max(tp.offset, 0))
        c.close()
    print(total)
    return 0


def plant(args):
    from confluent_kafka import Producer
    topic = args.prefix + "dossier.deadlines"
    for _, _, key, value in read_topic(args.brokers, topic):
        ev = json.loads(value)
        if ev.get("type") == "dossier.overdue":
            ev["event_id"] = str(uuid.uuid4())
            p = Producer({"bootstrap.servers": args.brokers})
            p.produce(topic, key=key, value=json.dumps(ev, ensure_ascii=False).encode())
            if p.flush(30) != 0:
                sys.exit("check: could not publish the planted event")
            print("planted a second dossier.overdue for %s breach %s"
                  % (ev["dossier_code"], ev["data"]["breach"]))
            return 0
    sys.exit("check: no dossier.overdue to copy")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("verify")
    s.add_argument("--brokers", required=True)
    s.add_argument("--prefix", required=True)
    s.add_argument("--pg", required=True)
    s.add_argument("--expect", required=True)
    s = sub.add_parser("leader")
    s.add_argument("--brokers", required=True)
    s.add_argument("--topic", required=True)
    s = sub.add_parser("lag")
    s.add_argument("--brokers", required=True)
    s.add_argument("--prefix", required=True)
    s.add_argument("--groups", required=True, help="comma-separated consumer group ids")
    s = sub.add_parser("plant")
    s.add_argument("--brokers", required=True)
    s.add_argument("--prefix", required=True)
    args = p.parse_args()
    sys.exit({"verify": verify, "leader": leader, "lag": lag, "plant": plant}[args.cmd](args))


if __name__ == "__main__":
    main()
