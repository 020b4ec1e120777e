/* The sender's channel drivers: e-mail over SMTP (libcurl's SMTP and MIME
 * API), SMS and Zalo as signed JSON webhooks (libcurl), the post and the
 * counter as files in a print queue. Each turns what happened into a
 * receipt's status:
 *
 *   delivered          the server took it (SMTP 250, HTTP 2xx), or it is printed
 *   temporary-failure  try again later: a timeout, no connection, SMTP 4xx, HTTP 5xx or 429
 *   permanent-failure  this channel cannot reach the applicant: SMTP 5xx (an
 *                      unknown mailbox), HTTP 4xx, no address to send to
 *   technical-failure  the sender itself is at fault: the channel is not
 *                      configured, a file cannot be written
 */
#include "sender.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "motcua/jsonutil.h"

/* Sets the outcome; the detail is cut at a UTF-8 character boundary to
 * fit the receipt's 500 characters. */
static void outcome(struct sender_outcome *out, const char *status, const char *fmt, ...)
{
    va_list ap;
    size_t n, start;
    unsigned char lead;
    out->status = status;
    va_start(ap, fmt);
    vsnprintf(out->detail, sizeof out->detail, fmt, ap);
    va_end(ap);
    /* The last character starts at start; drop it if it was cut short. */
    if ((n = strlen(out->detail)) == 0)
        return;
    start = n - 1;
    while (start > 0 && ((unsigned char)out->detail[start] & 0xC0) == 0x80)
        start--;
    lead = (unsigned char)out->detail[start];
    if (lead >= 0x80 && n - start < (size_t)(lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2))
        out->detail[start] = '\0';
}

/* ---- e-mail ---------------------------------------------------------------- */

/* A header's non-ASCII text as RFC 2047 encoded words, "=?UTF-8?B?...?="
 * each at most 75 characters (45 bytes of text, cut between characters),
 * separated by spaces, which decoders drop between encoded words. */
static char *encoded_words(const char *text)
{
    size_t len = strlen(text), at = 0, size;
    unsigned char b64[64];
    char *out = NULL;
    FILE *f = open_memstream(&out, &size);
    while (at < len) {
        size_t n = len - at < 45 ? len - at : 45;
        while (at + n < len && ((unsigned char)text[at + n] & 0xC0) == 0x80)
            n--; /* do not split a character */
        EVP_EncodeBlock(b64, (const unsigned char *)text + at, (int)n);
        fprintf(f, "%s=?UTF-8?B?%s?=", at ? " " : "", b64);
        at += n;
    }
    fclose(f);
    return out;
}

/* The SMTP server's last reply code and curl's words for the failure. */
static void email_outcome(CURL *c, CURLcode rc, const char *errbuf, int timeout_ms,
                          struct sender_outcome *out)
{
    long code = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    if (rc == CURLE_OK)
        outcome(out, "delivered", "SMTP %ld: accepted for delivery", code ? code : 250);
    else if (rc == CURLE_OPERATION_TIMEDOUT)
        outcome(out, "temporary-failure", "SMTP: no answer within %d ms", timeout_ms);
    else if (code >= 500)
        outcome(out, "permanent-failure", "SMTP %ld: %s", code, errbuf);
    else if (code >= 400 || rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST ||
             rc == CURLE_RECV_ERROR || rc == CURLE_SEND_ERROR || rc == CURLE_GOT_NOTHING)
        outcome(out, "temporary-failure", "SMTP %ld: %s", code, errbuf);
    else
        outcome(out, "technical-failure", "SMTP: %s", errbuf);
}

void sender_email(const struct mc_config *cfg, CURL *c, const json_t *data,
                  const struct sender_doc *doc, struct sender_outcome *out)
{
    const char *to = mc_json_str(data, "recipient/email");
    const char *text = mc_json_str(data, "rendered/text");
    const char *html = mc_json_str(data, "rendered/html");
    char errbuf[CURL_ERROR_SIZE] = "", header[512], from[300], rcpt[300], date[64];
    struct curl_slist *headers = NULL, *rcpts = NULL;
    curl_mime *mime, *alt;
    curl_mimepart *part;
    char *subject;
    time_t now = time(NULL);
    struct tm tm;
    CURLcode rc;

    if (to == NULL || *to == '\0') {
        outcome(out, "permanent-failure", "the applicant has no e-mail address");
        return;
    }
    if (text == NULL)
        text = mc_json_str(data, "body");
    /* The options of the last e-mail go; its connection stays for this one
     * (libcurl closes a connection whose transfer failed). */
    curl_easy_reset(c);
    snprintf(from, sizeof from, "<%s>", cfg->sender_mail_from);
    snprintf(rcpt, sizeof rcpt, "<%s>", to);
    rcpts = curl_slist_append(rcpts, rcpt);
    subject = encoded_words(mc_json_str(data, "subject") ? mc_json_str(data, "subject") : "");
    snprintf(header, sizeof header, "Subject: %s", subject);
    headers = curl_slist_append(headers, header);
    snprintf(header, sizeof header, "From: %s", cfg->sender_mail_from);
    headers = curl_slist_append(headers, header);
    snprintf(header, sizeof header, "To: %s", to);
    headers = curl_slist_append(headers, header);
    gmtime_r(&now, &tm);
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);
    snprintf(header, sizeof header, "Date: %s", date);
    headers = curl_slist_append(headers, header);
    /* Stable per attempt: a redelivered job is recognisable as the same. */
    snprintf(header, sizeof header, "Message-ID: <%s.%lld@motcua>",
             mc_json_str(data, "notification_id"),
             (long long)json_integer_value(json_object_get(data, "attempt")));
    headers = curl_slist_append(headers, header);
    snprintf(header, sizeof header, "X-Motcua-Reference: %s",
             mc_json_str(data, "reference") ? mc_json_str(data, "reference") : "");
    headers = curl_slist_append(headers, header);

    /* multipart/alternative: the text, then the HTML. */
    mime = curl_mime_init(c);
    alt = curl_mime_init(c);
    part = curl_mime_addpart(alt);
    curl_mime_data(part, text ? text : "", CURL_ZERO_TERMINATED);
    curl_mime_type(part, "text/plain; charset=utf-8");
    curl_mime_encoder(part, "quoted-printable");
    if (html) {
        part = curl_mime_addpart(alt);
        curl_mime_data(part, html, CURL_ZERO_TERMINATED);
        curl_mime_type(part, "text/html; charset=utf-8");
        curl_mime_encoder(part, "quoted-printable");
    }
    part = curl_mime_addpart(mime);
    curl_mime_subparts(part, alt);
    curl_mime_type(part, "multipart/alternative");
    /* The letter as a PDF, and its signature beside it. */
    if (doc) {
        char sig_name[220];
        part = curl_mime_addpart(mime);
        curl_mime_data(part, (const char *)doc->pdf, doc->pdf_len);
        curl_mime_type(part, "application/pdf");
        curl_mime_filename(part, doc->name);
        curl_mime_encoder(part, "base64");
        if (doc->sig) {
            snprintf(sig_name, sizeof sig_name, "%s.p7s", doc->name);
            part = curl_mime_addpart(mime);
            curl_mime_data(part, (const char *)doc->sig, doc->sig_len);
            curl_mime_type(part, "application/pkcs7-signature");
            curl_mime_filename(part, sig_name);
            curl_mime_encoder(part, "base64");
        }
    }

    curl_easy_setopt(c, CURLOPT_URL, cfg->sender_smtp_url);
    curl_easy_setopt(c, CURLOPT_USE_SSL, (long)CURLUSESSL_TRY); /* STARTTLS when offered */
    if (cfg->sender_smtp_ca && *cfg->sender_smtp_ca)
        curl_easy_setopt(c, CURLOPT_CAINFO, cfg->sender_smtp_ca);
    curl_easy_setopt(c, CURLOPT_MAIL_FROM, from);
    curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpts);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(c, CURLOPT_MIMEPOST, mime);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)cfg->sender_timeout_ms);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    rc = curl_easy_perform(c);
    email_outcome(c, rc, *errbuf ? errbuf : curl_easy_strerror(rc), cfg->sender_timeout_ms, out);

    curl_mime_free(mime);
    curl_slist_free_all(headers);
    curl_slist_free_all(rcpts);
    free(subject);
}

/* ---- webhooks (SMS, Zalo) -------------------------------------------------- */

char *sender_signature(const char *key, const char *body, size_t len, char buf[72])
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    HMAC(EVP_sha256(), key, (int)strlen(key), (const unsigned char *)body, len, mac, &maclen);
    memcpy(buf, "sha256=", 7);
    for (unsigned int i = 0; i < maclen && i < 32; i++)
        snprintf(buf + 7 + 2 * i, 3, "%02x", mac[i]);
    return buf;
}

/* Keeps the first bytes of the gateway's answer for the receipt. */
struct answer {
    char text[201];
    size_t len;
};

static size_t keep_answer(char *ptr, size_t size, size_t nmemb, void *opaque)
{
    struct answer *a = opaque;
    size_t n = size * nmemb, room = sizeof a->text - 1 - a->len;
    memcpy(a->text + a->len, ptr, n < room ? n : room);
    a->len += n < room ? n : room;
    a->text[a->len] = '\0';
    return n;
}

void sender_webhook(const struct mc_config *cfg, const char *url, const char *code,
                    const json_t *data, struct sender_outcome *out)
{
    const char *phone = mc_json_str(data, "recipient/phone");
    const char *channel = mc_json_str(data, "delivery_channel");
    char errbuf[CURL_ERROR_SIZE] = "", header[256], sig[72];
    struct curl_slist *headers = NULL;
    struct answer answer = {.len = 0};
    long status = 0;
    json_t *body;
    char *text;
    CURLcode rc;
    CURL *c;

    if (url == NULL || *url == '\0') {
        outcome(out, "technical-failure", "no %s gateway is configured", channel);
        return;
    }
    if (phone == NULL || *phone == '\0') {
        outcome(out, "permanent-failure", "the applicant has no phone number");
        return;
    }
    body = json_pack("{s:s, s:O, s:s, s:s?, s:s?, s:s, s:s}", "notification_id",
                     mc_json_str(data, "notification_id"), "attempt",
                     json_object_get(data, "attempt"), "channel", channel, "reference",
                     mc_json_str(data, "reference"), "dossier_code", code, "to", phone, "text",
                     mc_json_str(data, "rendered/text") ? mc_json_str(data, "rendered/text")
                                                        : mc_json_str(data, "subject"));
    if (body == NULL || (c = curl_easy_init()) == NULL) {
        json_decref(body);
        outcome(out, "technical-failure", "cannot build the webhook request");
        return;
    }
    text = json_dumps(body, JSON_COMPACT);
    headers = curl_slist_append(headers, "Content-Type: application/json; charset=utf-8");
    snprintf(header, sizeof header, "X-Motcua-Signature: %s",
             sender_signature(cfg->sender_webhook_secret, text, strlen(text), sig));
    headers = curl_slist_append(headers, header);
    /* Stable per attempt, so the gateway can drop a redelivered job. */
    snprintf(header, sizeof header, "Idempotency-Key: %s:%lld",
             mc_json_str(data, "notification_id"),
             (long long)json_integer_value(json_object_get(data, "attempt")));
    headers = curl_slist_append(headers, header);

    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, text);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)cfg->sender_timeout_ms);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, keep_answer);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &answer);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (rc == CURLE_OPERATION_TIMEDOUT)
        outcome(out, "temporary-failure", "%s gateway: no answer within %d ms", channel,
                cfg->sender_timeout_ms);
    else if (rc != CURLE_OK)
        outcome(out, "temporary-failure", "%s gateway: %s", channel,
                *errbuf ? errbuf : curl_easy_strerror(rc));
    else if (status >= 200 && status < 300)
        outcome(out, "delivered", "%s gateway: HTTP %ld", channel, status);
    else if (status >= 500 || status == 429 || status == 408)
        outcome(out, "temporary-failure", "%s gateway: HTTP %ld %s", channel, status, answer.text);
    else if (status >= 400)
        outcome(out, "permanent-failure", "%s gateway: HTTP %ld %s", channel, status, answer.text);
    else
        outcome(out, "technical-failure", "%s gateway: unexpected HTTP %ld", channel, status);

    curl_slist_free_all(headers);
    curl_easy_cleanup(c);
    free(text);
    json_decref(body);
}

/* ---- the print queue (post, counter) --------------------------------------- */

/* Writes len bytes to path durably: a temporary file, fsync, rename. */
static int write_file(const char *path, const void *text, size_t len)
{
    char tmp[1200];
    int fd;
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0640)) < 0)
        return -1;
    if (write(fd, text, len) != (ssize_t)len || fsync(fd) != 0) {
        close(fd);
        unlink(tmp);
        return -1;
    }
    close(fd);
    return rename(tmp, path);
}

void sender_print(const struct mc_config *cfg, const char *code, const json_t *data,
                  const struct sender_doc *doc, struct sender_outcome *out)
{
    const char *channel = mc_json_str(data, "delivery_channel");
    const char *reference = mc_json_str(data, "reference");
    const char *text = mc_json_str(data, "rendered/text");
    const char *address = mc_json_str(data, "recipient/address");
    char name[400], path[1100], line[2048];
    long long attempt = (long long)json_integer_value(json_object_get(data, "attempt"));
    FILE *index;
    int fd;

    if (cfg->sender_print_dir == NULL || *cfg->sender_print_dir == '\0') {
        outcome(out, "technical-failure", "no print queue is configured");
        return;
    }
    if (strcmp(channel, "post") == 0 && (address == NULL || *address == '\0')) {
        outcome(out, "permanent-failure", "the applicant has no postal address");
        return;
    }
    /* <reference with / as _>-<attempt>.txt: no personal data in names. */
    snprintf(name, sizeof name, "%s-%lld.txt", reference ? reference : code, attempt);
    for (char *p = name; *p; p++)
        if (*p == '/')
            *p = '_';
    snprintf(path, sizeof path, "%s/%s", cfg->sender_print_dir, name);
    if (mkdir(cfg->sender_print_dir, 0750) != 0 && errno != EEXIST) {
        outcome(out, "technical-failure", "cannot make the print queue %s: %s",
                cfg->sender_print_dir, strerror(errno));
        return;
    }
    if (text == NULL)
        text = mc_json_str(data, "body");
    if (write_file(path, text, strlen(text)) != 0) {
        outcome(out, "technical-failure", "cannot write %s: %s", path, strerror(errno));
        return;
    }
    /* The letter to print: the PDF, and its signature beside it. */
    if (doc) {
        snprintf(path, sizeof path, "%s/%s", cfg->sender_print_dir, doc->name);
        if (write_file(path, doc->pdf, doc->pdf_len) != 0) {
            outcome(out, "technical-failure", "cannot write %s: %s", path, strerror(errno));
            return;
        }
        snprintf(path, sizeof path, "%s/%s.p7s", cfg->sender_print_dir, doc->name);
        if (doc->sig && write_file(path, doc->sig, doc->sig_len) != 0) {
            outcome(out, "technical-failure", "cannot write %s: %s", path, strerror(errno));
            return;
        }
        snprintf(name, sizeof name, "%s", doc->name);
    }
    /* The desk's index: one line per letter (tab-separated): the file, the
     * channel, the dossier, the document number, who it is for and, for the
     * post, where it goes. */
    snprintf(path, sizeof path, "%s/index.tsv", cfg->sender_print_dir);
    snprintf(line, sizeof line, "%s\t%s\t%s\t%s\t%s\t%s\n", name, channel, code,
             mc_json_str(data, "document_number") ? mc_json_str(data, "document_number") : "-",
             mc_json_str(data, "recipient/name"), strcmp(channel, "post") == 0 ? address : "");
    if ((fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0640)) < 0 ||
        (index = fdopen(fd, "a")) == NULL) {
        if (fd >= 0)
            close(fd);
        outcome(out, "technical-failure", "cannot open %s: %s", path, strerror(errno));
        return;
    }
    fputs(line, index);
    if (fflush(index) != 0 || fsync(fd) != 0) {
        fclose(index);
        outcome(out, "technical-failure", "cannot write %s: %s", path, strerror(errno));
        return;
    }
    fclose(index);
    outcome(out, "delivered", "printed for the %s: %s", channel, name);
}
