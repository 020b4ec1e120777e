#!/usr/bin/python3
"""The torture test's submissions (tests/torture/run), and what the checker
expects of them.

    workload.py submissions --count N --seed S --bin MOTCUA --out DIR

Takes N sample submissions from `MOTCUA sample submissions` (October 2026;
reads MOTCUA_PG_URL for the catalog) and writes into DIR:

  stream.tsv     every message to publish on `submissions`, "KEY<TAB>VALUE",
                 shuffled: the N submissions, a resend of 5% of them (the
                 same line again, as a portal that did not hear back does),
                 N/1000 (at least 5) planted rule-breaking submissions (an
                 unknown procedure, or no applicant) and N/5000 (at least 3)
                 messages that are not JSON;
  accepted.keys  the keys (source/external_id) that must become dossiers;
  bad.keys       the keys that must be rejected, and only rejected;
  poison.keys    the keys of the non-JSON messages: rejected as not JSON and
                 dead-lettered.

    workload.py transfers --pg URL --updates FILE --seed S --share F

Adds to FILE (the output of `motcua sample updates --with-time`, in time
order) a transfer for the share F of the dossiers that have no update at
all: one day after its receipt, its unit hands it to another department or
ward; nothing else happens to it, so it must still breach and be apologised
for, once, under the new unit.
"""
import argparse
import json
import random
import subprocess
import sys


def submissions(args):
    out = subprocess.run(
        [args.bin, "sample", "submissions", "--month", "2026-10", "--count", str(args.count),
         "--seed", str(args.seed)],
        check=True, capture_output=True, text=True).stdout
    lines = [l for l in out.split("\n") if l]
    if len(lines) != args.count:
        sys.exit("workload: asked for %d sample submissions, got %d" % (args.count, len(lines)))
    rng = random.Random(args.seed)
    accepted = [l.split("\t", 1)[0] for l in lines]
    if len(set(accepted)) != len(accepted):
        sys.exit("workload: the sample repeats a source/external_id")
    stream = list(lines)
    stream += rng.sample(lines, max(1, args.count // 20))

    bad = []
    for i in range(max(5, args.count // 1000)):
        doc = json.loads(rng.choice(lines).split("\t", 1)[1])
        doc["external_id"] = "TORTURE-BAD-%d" % i
        if i % 2 == 0:
            doc["procedure_code"] = "KHONG-CO-THU-TUC"
        else:
            del doc["applicant"]
        key = "%s/%s" % (doc["source"], doc["external_id"])
        bad.append(key)
        stream.append("%s\t%s" % (key, json.dumps(doc, ensure_ascii=False)))

    poison = []
    for i in range(max(3, args.count // 5000)):
        key = "torture-portal/TORTURE-POISON-%d" % i
        poison.append(key)
        stream.append('%s\t{"source": "torture-portal", "external_id": "TORTURE-POISON-%d", '
                      'hồ sơ này không phải JSON' % (key, i))

    rng.shuffle(stream)
    for name, rows in (("stream.tsv", stream), ("accepted.keys", accepted), ("bad.keys", bad),
                       ("poison.keys", poison)):
        with open("%s/%s" % (args.out, name), "w", encoding="utf-8") as f:
            f.write("".join(r + "\n" for r in rows))


def transfers(args):
    import datetime
    import uuid

    import psycopg2

    with open(args.updates, encoding="utf-8") as f:
        lines = [l for l in f.read().split("\n") if l]
    touched = {l.split("\t")[1] for l in lines}
    db = psycopg2.connect(args.pg)
    cur = db.cursor()
    cur.execute("SELECT dossier_code, unit_code, receipt_at FROM routing.assignment "
                "ORDER BY dossier_code")
    quiet = [r for r in cur.fetchall() if r[0] not in touched]
    cur.execute("SELECT code FROM catalog.unit WHERE kind IN ('department', 'ward') ORDER BY code")
    units = [u for (u,) in cur.fetchall()]
    rng = random.Random(args.seed)
    tz = datetime.timezone(datetime.timedelta(hours=7))
    for code, unit, receipt in rng.sample(quiet, int(len(quiet) * args.share)):
        at = (receipt + datetime.timedelta(days=1)).astimezone(tz).isoformat(timespec="seconds")
        ev = {"event_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
              "type": "dossier.update", "occurred_at": at, "producer": "unit-sim",
              "dossier_code": code,
              "data": {"status": "transfer", "unit_code": unit, "officer": "Đinh Văn Chuyển",
                       "reason": "Chuyển đơn vị có thẩm quyền giải quyết",
                       "to_unit_code": rng.choice([u for u in units if u != unit])}}
        lines.append("%s\t%s\t%s" % (at, code, json.dumps(ev, ensure_ascii=False)))
    lines.sort(key=lambda l: l.split("\t", 1)[0])
    with open(args.updates, "w", encoding="utf-8") as f:
        f.write("".join(l + "\n" for l in lines))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("submissions")
    s.add_argument("--count", type=int, required=True)
    s.add_argument("--seed", type=int, required=True)
    s.add_argument("--bin", required=True)
    s.add_argument("--out", required=True)
    t = sub.add_parser("transfers")
    t.add_argument("--pg", required=True)
    t.add_argument("--updates", required=True)
    t.add_argument("--seed", type=int, required=True)
    t.add_argument("--share", type=float, required=True)
    args = p.parse_args()
    submissions(args) if args.cmd == "submissions" else transfers(args)


if __name__ == "__main__":
    main()
