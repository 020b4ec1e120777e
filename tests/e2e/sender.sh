#!/usr/bin/env bash
# End-to-end test of the notification lifecycle with the reference sender
# (issue 8): motcua-notify and motcua-sender as processes, a real SMTP
# server (aiosmtpd, delivering into a maildir) and a real HTTP endpoint
# standing for the SMS gateway, both on loopback ports of the test's own.
# Breaches of seven dossiers are published on dossier.deadlines; each
# applicant's letter meets another fate:
#
#   A  e-mail, accepted: the maildir holds it (headers, UTF-8 subject, the
#      text and HTML parts)
#   B  e-mail refused by the server (550): permanent failure, then SMS
#   C  SMS answered 500, then 200: retried after the schedule, delivered
#   D  SMS answered 400: permanent failure, then the counter (printed)
#   E  SMS with no answer within the timeout: retried, delivered
#   F  the post: printed with the address for the envelope
#   G  Zalo, which this sender does not offer: technical failure twice
#      (retried), then the counter
#
# Checks the receipts and the letters' states, the webhook's HMAC signature
# and idempotency key, the print queue and its index, the letter as a PDF
# (its text by pdftotext) with its detached CMS signature, verified by
# `openssl cms -verify` against the test's CA and refused once one byte of
# the PDF changed, that a notification
# sent again is not delivered again, `motcua notification show`, and that
# the sender's log holds none of the applicants' personal data. A picture
# of the e-mailed letter's page is kept in <build>/test-output/letter.png.
#
#   bash tests/e2e/sender.sh <build dir>
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/e2e/lib.sh
. "$here/lib.sh"
# shellcheck source=deploy/local/lib.sh
. "$here/../../deploy/local/lib.sh"
set +e # lib.sh's callers handle failures themselves

if [ $# -ne 1 ] || [ ! -d "$1" ]; then
    echo "usage: bash sender.sh <build dir>" >&2
    exit 2
fi
if ! e2e_binaries "$1" || [ -z "${MOTCUA_TEST_PG_URL:-}" ]; then
    echo "e2e: needs the programs built and MOTCUA_TEST_PG_URL (./tests/run sets it)" >&2
    echo "e2e: 0 passed, 1 failed"
    exit 1
fi
PY=/usr/bin/python3 # Debian's, with python3-aiosmtpd
if ! "$PY" -c 'import aiosmtpd' 2>/dev/null; then
    echo "e2e: needs Debian's python3-aiosmtpd (./tests/run installs it)" >&2
    echo "e2e: 0 passed, 1 failed"
    exit 1
fi

E2E_TMP=$(mktemp -d "${TMPDIR:-/tmp}/motcua-sender.XXXXXX")
e2e_database "sender_$$"
db_created=
SECRET=$(head -c 18 /dev/urandom | base64 | tr '+/' '-_')

# shellcheck disable=SC2317 # reached through the trap
finish() {
    local status=$?
    trap - EXIT INT TERM
    stop_all
    [ -z "$db_created" ] || sql_admin "DROP DATABASE IF EXISTS $E2E_DB WITH (FORCE)" >/dev/null 2>&1
    if [ "$E2E_FAILED" -gt 0 ] || [ "$status" -ne 0 ]; then
        [ "$E2E_FAILED" -gt 0 ] || e2e_fail "the test stopped with status $status"
        printf '\nfailed:\n' >&2
        printf '  - %s\n' "${E2E_FAILURES[@]}" >&2
        dump_logs
        e2e_log "logs kept in $E2E_TMP"
        status=1
    else
        rm -rf "$E2E_TMP"
    fi
    e2e_exit "$status"
}
e2e_traps finish

# ---- the database, the broker, the SMTP server and the gateway -----------------
e2e_log "database $E2E_DB, notify, sender, SMTP and webhook servers (in $E2E_TMP)"
sql_admin "CREATE DATABASE $E2E_DB" >/dev/null || e2e_abort "cannot create database $E2E_DB"
db_created=1
unset MOTCUA_CONFIG_FILE MOTCUA_GROUP_ID MOTCUA_HTTP_PORT MOTCUA_TOPIC_PREFIX
export MOTCUA_PG_URL=$E2E_DB_URL MOTCUA_TOPIC_PARTITIONS=2
mc migrate >"$E2E_TMP/cli.log" 2>&1 || e2e_abort "motcua migrate failed"
mc catalog load >>"$E2E_TMP/cli.log" 2>&1 || e2e_abort "motcua catalog load failed"
e2e_broker "sender-$$." || e2e_abort "motcua topics apply failed"

smtp_port=$(free_port) || e2e_abort "no free port"
hook_port=$(free_port) || e2e_abort "no free port"
# Per phone, what the gateway answers to its requests in turn.
cat >"$E2E_TMP/script.json" <<'EOF'
{"0900000003": [500, 200], "0900000004": [400], "0900000005": ["slow", 200]}
EOF
# The SMTP server offers STARTTLS and requires it, with a certificate of a
# test CA the sender is told of (MOTCUA_SENDER_SMTP_CA).
make_test_tls "$E2E_TMP/tls" || e2e_abort "cannot make the SMTP server's certificate"
start_proc smtp "$E2E_TMP/smtp.log" "$PY" "$here/../../deploy/local/sinks/smtp_sink.py" "$smtp_port" \
    "$E2E_TMP/maildir" "$E2E_TMP/smtp.pid" "$E2E_TMP/tls/server.pem" "$E2E_TMP/tls/server.key"
start_proc gateway "$E2E_TMP/gateway.log" "$PY" "$here/../../deploy/local/sinks/gateway_sink.py" "$hook_port" \
    "$E2E_TMP/script.json" "$E2E_TMP/requests.jsonl" "$E2E_TMP/gateway.pid"
must "the SMTP server and the gateway listen" 30 \
    bash -c "exec 3<>/dev/tcp/127.0.0.1/$smtp_port && exec 4<>/dev/tcp/127.0.0.1/$hook_port"

export MOTCUA_NOTIFY_RETRY_SCHEDULE=1,1
export MOTCUA_SENDER_SMTP_URL="smtp://127.0.0.1:$smtp_port"
export MOTCUA_SENDER_SMTP_CA=$E2E_TMP/tls/ca.pem
export MOTCUA_SENDER_MAIL_FROM="mot-cua@hoabinh.example.vn"
export MOTCUA_SENDER_SMS_URL="http://127.0.0.1:$hook_port/sms"
export MOTCUA_SENDER_ZALO_URL= # Zalo is not offered: technical failures
export MOTCUA_SENDER_WEBHOOK_SECRET=$SECRET
export MOTCUA_SENDER_TIMEOUT_MS=1500
export MOTCUA_SENDER_PRINT_DIR=$E2E_TMP/print
make_test_signer "$E2E_TMP/signer" || e2e_abort "cannot make the signing certificate"
export MOTCUA_SENDER_SIGNING_CERT=$E2E_TMP/signer/signer.pem
export MOTCUA_SENDER_SIGNING_KEY=$E2E_TMP/signer/signer.key
for svc in notify sender; do
    start_service "$svc"
done
for svc in notify sender; do
    must "motcua-$svc ready" 60 ready "$svc"
done

# ---- seven breaches ------------------------------------------------------------------
# LETTER NAME EMAIL PHONE ADDRESS CHANNELS: a dossier.overdue line for produce.
overdue_line() {
    "$PY" - "$@" <<'PY'
import json, sys, uuid
letter, name, email, phone, address, channels = sys.argv[1:7]
code = "000.31.26.H17-240301-09%02d" % (ord(letter) - ord("A"))
ev = {"event_id": str(uuid.uuid4()), "type": "dossier.overdue",
      "occurred_at": "2024-03-06T16:30:00+07:00", "producer": "motcua-deadline",
      "dossier_code": code,
      "data": {"kind": "overdue", "breach": 1, "rung": None, "deadline_version": 1,
               "channel": "online", "notify_channels": channels.split(","),
               "applicant": dict({"kind": "citizen", "name": name, "id_number": "0171900049%02d" % ord(letter)},
                                 **{k: v for k, v in (("phone", phone), ("email", email), ("address", address)) if v}),
               "procedure": {"code": "1.001612", "name": "Đăng ký thành lập hộ kinh doanh"},
               "unit": None, "received_at": "2024-03-01T16:00:00+07:00",
               "receipt_at": "2024-03-01T16:00:00+07:00", "due_at": "2024-03-06T16:00:00+07:00",
               "rescheduled_due_at": None, "new_appointment_at": "2024-03-11T16:30:00+07:00",
               "fired_at": "2024-03-06T16:30:00+07:00", "reason": "Cần xác minh thực địa."}}
print(code + "\t" + json.dumps(ev, ensure_ascii=False))
PY
}
{
    overdue_line A "Nguyễn Thị Ánh" anh.nguyen@example.vn "" "" email
    overdue_line B "Trần Văn Bảo" khongton.bao@example.vn 0900000002 "" email,sms
    overdue_line C "Lê Thị Cúc" "" 0900000003 "" sms
    overdue_line D "Phạm Văn Dũng" "" 0900000004 "" sms,counter
    overdue_line E "Hoàng Thị Én" "" 0900000005 "" sms
    overdue_line F "Đỗ Văn Phúc" "" "" "Số 9 đường Cù Chính Lan, phường Phương Lâm" post
    overdue_line G "Vũ Thị Giang" "" 0900000007 "" zalo
} >"$E2E_TMP/overdue.tsv"
produce dossier.deadlines <"$E2E_TMP/overdue.tsv"

code_of() { printf '000.31.26.H17-240301-09%02d' "$(($(printf '%d' "'$1") - 65))"; }
# fate LETTER: "status attempt channel" of its letter.
fate() {
    sql "SELECT status || ' ' || attempt || ' ' || delivery_channel FROM notify.letter
         WHERE dossier_code = $(q "$(code_of "$1")")"
}
fate_is() { [ "$(fate "$1")" == "$2" ]; }

must "seven letters written" 60 sql_is 7 "SELECT count(*) FROM notify.letter"
must "A: e-mailed and delivered" 60 fate_is A "delivered 1 email"
must "B: refused by the mail server, then delivered by SMS" 60 fate_is B "delivered 2 sms"
must "C: 500, retried after a second, then delivered" 60 fate_is C "delivered 2 sms"
must "D: 400, then printed for the counter" 60 fate_is D "delivered 2 counter"
must "E: no answer in time, retried, delivered" 60 fate_is E "delivered 2 sms"
must "F: printed for the post" 60 fate_is F "delivered 1 post"
must "G: Zalo not offered (technical failure), retried twice, then the counter" 60 \
    fate_is G "delivered 4 counter"

# ---- the receipts ----------------------------------------------------------------------
# receipts LETTER: "attempt:status" of its receipts, in order.
receipts() {
    sql "SELECT string_agg(d.attempt || ':' || d.status, ' ' ORDER BY d.attempt, d.status DESC)
         FROM notify.delivery d JOIN notify.letter l USING (notification_id)
         WHERE l.dossier_code = $(q "$(code_of "$1")")"
}
check_eq "A's receipts" "1:sending 1:delivered" "$(receipts A)"
check_eq "B's receipts" "1:sending 1:permanent-failure 2:sending 2:delivered" "$(receipts B)"
check_eq "C's receipts" "1:temporary-failure 1:sending 2:sending 2:delivered" "$(receipts C)"
check_eq "D's receipts" "1:sending 1:permanent-failure 2:sending 2:delivered" "$(receipts D)"
check_eq "E's receipts" "1:temporary-failure 1:sending 2:sending 2:delivered" "$(receipts E)"
check_eq "G's receipts" \
    "1:technical-failure 1:sending 2:technical-failure 2:sending 3:technical-failure 3:sending 4:sending 4:delivered" \
    "$(receipts G)"
check "B: the SMTP server's 550 in the receipt" \
    sql_true "SELECT detail LIKE 'SMTP 550:%' FROM notify.delivery d JOIN notify.letter l USING (notification_id)
              WHERE l.dossier_code = $(q "$(code_of B)") AND d.status = 'permanent-failure'"
check "E: the timeout in the receipt" \
    sql_true "SELECT detail = 'sms gateway: no answer within 1500 ms' FROM notify.delivery d
              JOIN notify.letter l USING (notification_id)
              WHERE l.dossier_code = $(q "$(code_of E)") AND d.status = 'temporary-failure'"
load_topics notification.receipts notifications
check_eq "every receipt on the topic is motcua-sender's, one per attempt and status" \
    "$(sql "SELECT count(*) FROM notify.delivery")" \
    "$(sql "SELECT count(DISTINCT (payload->'data'->>'notification_id', payload->'data'->>'attempt',
                                   payload->'data'->>'status'))
            FROM e2e.msg WHERE topic = 'notification.receipts' AND payload->>'producer' = 'motcua-sender'")"
check_eq "the sender took each attempt once (its jobs)" \
    "$(sql "SELECT count(*) FROM e2e.msg WHERE topic = 'notifications'")" \
    "$(sql "SELECT count(*) FROM sender.job WHERE state = 'done'")"

# ---- what reached the applicants --------------------------------------------------------
mkdir -p "$E2E_TMP/attached"
"$PY" - "$E2E_TMP/maildir" "$(code_of A)" "$E2E_TMP/attached" >"$E2E_TMP/mail.txt" 2>&1 <<'PY'
import mailbox, sys
from email import policy
from email.parser import BytesParser
box = mailbox.Maildir(sys.argv[1], create=False)
msgs = [BytesParser(policy=policy.default).parse(box.get_file(k)) for k in box.keys()]
print("messages", len(msgs))
m = msgs[0]
print("to", m["To"]); print("from", m["From"]); print("subject", m["Subject"])
print("message-id", m["Message-ID"]); print("reference", m["X-Motcua-Reference"])
print("tls", m["X-Sink-TLS"])
text = m.get_body(("plain",)).get_content(); html = m.get_body(("html",)).get_content()
print("text-title", "PHIẾU XIN LỖI VÀ HẸN LẠI NGÀY TRẢ KẾT QUẢ" in text)
print("text-name", "Kính gửi: Ông/Bà Nguyễn Thị Ánh" in text)
print("html-title", "<p>PHIẾU XIN LỖI VÀ HẸN LẠI NGÀY TRẢ KẾT QUẢ</p>" in html)
for part in m.iter_attachments():
    print("attachment", part.get_content_type(), part.get_filename())
    with open(sys.argv[3] + "/" + part.get_filename(), "wb") as f:
        f.write(part.get_content())
PY
a_id=$(sql "SELECT notification_id FROM notify.letter WHERE dossier_code = $(q "$(code_of A)")")
check "one e-mail in the maildir (B's address was refused)" grep -qx "messages 1" "$E2E_TMP/mail.txt"
check "... to A, from the configured address" grep -qx "to anh.nguyen@example.vn" "$E2E_TMP/mail.txt"
check "... from the configured address" grep -qx "from mot-cua@hoabinh.example.vn" "$E2E_TMP/mail.txt"
check "... over STARTTLS (the server refuses mail in the clear), its certificate verified" \
    grep -qE "^tls TLSv1\.[23]$" "$E2E_TMP/mail.txt"
check "... its UTF-8 subject" \
    grep -qx "subject Phiếu xin lỗi và hẹn lại ngày trả kết quả - hồ sơ $(code_of A)" "$E2E_TMP/mail.txt"
check "... Message-ID of the notification and attempt" \
    grep -qx "message-id <$a_id.1@motcua>" "$E2E_TMP/mail.txt"
check "... the reference, free of personal data" \
    grep -qx "reference $(code_of A)/apology/1" "$E2E_TMP/mail.txt"
check "... the letter as text" grep -qx "text-title True" "$E2E_TMP/mail.txt"
check "... addressed to the applicant" grep -qx "text-name True" "$E2E_TMP/mail.txt"
check "... and as HTML" grep -qx "html-title True" "$E2E_TMP/mail.txt"
a_pdf=$(code_of A)_apology_1-1.pdf
check_eq "... with the letter as a PDF and its signature attached" \
    "attachment application/pdf $a_pdf|attachment application/pkcs7-signature $a_pdf.p7s" \
    "$(grep '^attachment' "$E2E_TMP/mail.txt" | paste -sd'|')"

# pdf_text_ok PDF NAME CODE: the PDF's text (pdftotext) is the letter to
# NAME about dossier CODE. verify PDF P7S: the detached signature verifies
# against the test's CA.
pdf_text_ok() {
    pdftotext -layout "$1" - >"$1.txt" 2>/dev/null &&
        grep -q "PHIẾU XIN LỖI VÀ HẸN LẠI NGÀY TRẢ KẾT QUẢ" "$1.txt" &&
        grep -q "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" "$1.txt" &&
        grep -q "Độc lập - Tự do - Hạnh phúc" "$1.txt" &&
        grep -q "Kính gửi: Ông/Bà $2" "$1.txt" &&
        grep -q "mã hồ sơ: $3" "$1.txt" &&
        grep -q "(Đã ký số)" "$1.txt"
}
verify() {
    openssl cms -verify -binary -inform DER -in "$2" -content "$1" \
        -CAfile "$E2E_TMP/signer/ca.pem" -out /dev/null 2>"$1.verify"
}
check "the e-mailed PDF is A's letter (pdftotext)" \
    pdf_text_ok "$E2E_TMP/attached/$a_pdf" "Nguyễn Thị Ánh" "$(code_of A)"
# A picture of the letter's page, for a person to look at.
mkdir -p "$1/test-output"
pdftoppm -r 100 -png -singlefile "$E2E_TMP/attached/$a_pdf" "$1/test-output/letter" 2>/dev/null &&
    e2e_log "the letter's page: $1/test-output/letter.png"
check "... its signature verifies against the city's CA (openssl cms -verify)" \
    verify "$E2E_TMP/attached/$a_pdf" "$E2E_TMP/attached/$a_pdf.p7s"
cp "$E2E_TMP/attached/$a_pdf" "$E2E_TMP/tampered.pdf"
printf 'X' | dd of="$E2E_TMP/tampered.pdf" bs=1 seek=2000 conv=notrunc 2>/dev/null
check "... and fails once one byte of the PDF changed" \
    bash -c "! openssl cms -verify -binary -inform DER -in '$E2E_TMP/attached/$a_pdf.p7s' \
        -content '$E2E_TMP/tampered.pdf' -CAfile '$E2E_TMP/signer/ca.pem' -out /dev/null 2>/dev/null"

"$PY" - "$E2E_TMP/requests.jsonl" "$SECRET" >"$E2E_TMP/hooks.txt" 2>&1 <<'PY'
import hashlib, hmac, json, sys
reqs = [json.loads(l) for l in open(sys.argv[1])]
print("requests", len(reqs))
ok = all(r["headers"]["X-Motcua-Signature"] == "sha256=" + hmac.new(
    sys.argv[2].encode(), r["body"].encode(), hashlib.sha256).hexdigest() for r in reqs)
print("signed", ok)
keys = [r["headers"]["Idempotency-Key"] for r in reqs]
bodies = [json.loads(r["body"]) for r in reqs]
print("keys", all(k == "%s:%d" % (b["notification_id"], b["attempt"]) for k, b in zip(keys, bodies)))
print("answers", " ".join("%s:%s" % (b["to"], r["answer"]) for r, b in zip(reqs, bodies)))
c = [b for b in bodies if b["to"] == "0900000003"][0]
print("short", len(c["text"]) < 400 and "xin lỗi Ông/Bà Lê Thị Cúc" in c["text"])
PY
check "the gateway got B, C twice, D, E twice: 6 requests" grep -qx "requests 6" "$E2E_TMP/hooks.txt"
check "... each signed with HMAC-SHA256 of its body" grep -qx "signed True" "$E2E_TMP/hooks.txt"
check "... each with the idempotency key notification_id:attempt" grep -qx "keys True" "$E2E_TMP/hooks.txt"
check "... the SMS is a short notice to the applicant" grep -qx "short True" "$E2E_TMP/hooks.txt"

check_eq "the print queue: D and G for the counter, F for the post" \
    "$(code_of D)_apology_1-2.pdf counter|$(code_of F)_apology_1-1.pdf post|$(code_of G)_apology_1-4.pdf counter" \
    "$(cut -f1,2 "$E2E_TMP/print/index.tsv" | sort | tr '\t' ' ' | paste -sd'|')"
check "... F's line carries the address for the envelope" \
    grep -q "Số 9 đường Cù Chính Lan, phường Phương Lâm$" "$E2E_TMP/print/index.tsv"
f_pdf=$E2E_TMP/print/$(code_of F)_apology_1-1.pdf
check "... F's PDF is F's letter" pdf_text_ok "$f_pdf" "Đỗ Văn Phúc" "$(code_of F)"
check "... with its signature beside it" verify "$f_pdf" "$f_pdf.p7s"
check "... and its text beside it" \
    grep -q "PHIẾU XIN LỖI VÀ HẸN LẠI NGÀY TRẢ KẾT QUẢ" "${f_pdf%.pdf}.txt"

# ---- a notification sent again is not delivered again ---------------------------------------
# A's first attempt published again under a new event id (a replay): the
# sender's job key (notification_id, attempt) stops it.
sql "SELECT key || chr(9) || jsonb_set(payload, '{event_id}', to_jsonb(gen_random_uuid()::text))::text
     FROM e2e.msg WHERE topic = 'notifications' AND key = $(q "$(code_of A)")" | produce notifications
must "the sender read the replayed notification" 30 \
    sql_is "$(($(sql "SELECT count(*) FROM e2e.msg WHERE topic = 'notifications'") + 1))" \
    "SELECT count(*) FROM sender.inbox"
sleep 1 # a delivery would follow within the work round
check_eq "... and delivered nothing" "messages 1" \
    "$("$PY" -c 'import mailbox,sys; print("messages", len(mailbox.Maildir(sys.argv[1], create=False)))' "$E2E_TMP/maildir")"

# ---- one connection for e-mail after e-mail ------------------------------------------------
# I and J, e-mailed one after the other, come on one SMTP connection (and
# one STARTTLS): the sender keeps it between e-mails.
{
    overdue_line I "Mai Văn Ích" ich.mai@example.vn "" "" email
    overdue_line J "Tạ Thị Jang" jang.ta@example.vn "" "" email
} | produce dossier.deadlines
must "I and J: e-mailed and delivered" 60 \
    sql_is 2 "SELECT count(*) FROM notify.letter WHERE status = 'delivered' AND
              dossier_code IN ($(q "$(code_of I)"), $(q "$(code_of J)"))"
"$PY" - "$E2E_TMP/maildir" >"$E2E_TMP/sessions.txt" 2>&1 <<'PY'
import mailbox, sys
box = mailbox.Maildir(sys.argv[1], create=False)
by_to = {m["To"]: m["X-Sink-Session"] for m in box}
print("messages", len(by_to))
print("same", by_to.get("ich.mai@example.vn") == by_to.get("jang.ta@example.vn") is not None)
PY
check "... on one SMTP connection (the SMTP server's session numbers)" \
    grep -qx "same True" "$E2E_TMP/sessions.txt"

# ---- a server whose certificate is not the expected CA's -------------------------------------
# The sender again, told of another CA (the signer's): H's e-mail is not
# sent, a technical failure naming the certificate; retried, then the
# counter.
stop_proc sender
MOTCUA_SENDER_SMTP_CA=$E2E_TMP/signer/ca.pem start_service sender
must "motcua-sender ready (another CA)" 60 ready sender
overdue_line H "Lý Thị Hạnh" hanh.ly@example.vn "" "" email | produce dossier.deadlines
must "H: the e-mail refused for its server's certificate, retried, then the counter" 60 \
    fate_is H "delivered 4 counter"
check "... the receipts name the certificate check" \
    sql_true "SELECT count(*) = 3 FROM notify.delivery d JOIN notify.letter l USING (notification_id)
               WHERE l.dossier_code = $(q "$(code_of H)") AND d.status = 'technical-failure'
                 AND d.detail ILIKE '%certificate%'"
check_eq "... and nothing reached the maildir" "messages 3" \
    "$("$PY" -c 'import mailbox,sys; print("messages", len(mailbox.Maildir(sys.argv[1], create=False)))' "$E2E_TMP/maildir")"

# ---- the operator's view and the logs ------------------------------------------------------
g_id=$(sql "SELECT notification_id FROM notify.letter WHERE dossier_code = $(q "$(code_of G)")")
mc notification show "$g_id" >"$E2E_TMP/show.txt" 2>&1
check "motcua notification show: G's attempts, retries and fallback with the sender's words" \
    grep -qz "attempt 1 .*started (first).*technical-failure: no zalo gateway is configured.*attempt 2 .*started (retry).*attempt 4 .*started (fallback).*delivered: printed for the counter" \
    "$E2E_TMP/show.txt"
check "... each attempt's receipts in order: its delivery last" \
    grep -q "attempt 4 .*counter .*delivered: printed for the counter" <<<"$(tail -n 1 "$E2E_TMP/show.txt")"
check "no applicant's name, e-mail, phone or address in the sender's log" \
    bash -c "! grep -E 'Nguyễn Thị Ánh|Trần Văn Bảo|anh.nguyen|khongton|090000000|Cù Chính Lan' \
        '$E2E_TMP/sender.log' '$E2E_TMP/notify.log'"
