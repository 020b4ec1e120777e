/* The reference notification sender: its mc_service_def, driven by main.c
 * and by tests; the channel drivers it delivers through. */
#ifndef MOTCUA_SENDER_H
#define MOTCUA_SENDER_H

#include <curl/curl.h>
#include <jansson.h>

#include "motcua/config.h"
#include "motcua/service.h"

extern const struct mc_service_def mc_sender_def;

/* What one delivery came to: a receipt's status (delivered,
 * temporary-failure, permanent-failure, technical-failure) and its detail
 * (at most 500 bytes: an SMTP reply, an HTTP status, a file). */
struct sender_outcome {
    const char *status;
    char detail[501];
};

/* The letter as a document: its PDF and the PDF's detached CMS signature
 * (sig NULL when no signer is configured). */
struct sender_doc {
    unsigned char *pdf, *sig;
    size_t pdf_len, sig_len;
    char name[200]; /* "<reference with / as _>-<attempt>.pdf": no personal data */
};

/* The drivers (channels.c). Each delivers one attempt of a notification
 * (data: the notification event's data; doc: its letter as a PDF, or NULL
 * for a notification without one) and says what came of it. They block
 * for at most cfg->sender_timeout_ms. */
/* c: the instance's e-mail handle, so one SMTP connection (and its
 * STARTTLS) serves e-mail after e-mail. */
void sender_email(const struct mc_config *cfg, CURL *c, const json_t *data,
                  const struct sender_doc *doc, struct sender_outcome *out);
void sender_webhook(const struct mc_config *cfg, const char *url, const char *code,
                    const json_t *data, struct sender_outcome *out);
void sender_print(const struct mc_config *cfg, const char *code, const json_t *data,
                  const struct sender_doc *doc, struct sender_outcome *out);

/* The webhook's signature of body: "sha256=" and the hex HMAC-SHA256 with
 * key (buf holds 72 bytes). */
char *sender_signature(const char *key, const char *body, size_t len, char buf[72]);

#endif
