/* Letters as documents: a notification's letter (Mẫu 04) laid out as a PDF
 * with pango and cairo, and signed by a signer (a detached CMS signature,
 * RFC 5652) whose key is behind one interface, so that a PKCS#11 token can
 * replace the PEM files. */
#ifndef MOTCUA_LETTERS_H
#define MOTCUA_LETTERS_H

#include <jansson.h>
#include <stddef.h>

/* The letter of a notification's personalisation (notification.v2) as an A4
 * PDF in *pdf (malloc'd, *len bytes). Returns 0, or -1 with err. */
int mc_letter_pdf(const json_t *personalisation, unsigned char **pdf, size_t *len, char *err,
                  size_t errlen);

/* A signer: signs bytes into a detached CMS signature (DER). */
struct mc_signer {
    const char *name; /* what signs, for logs: "pem:<certificate's subject>" */
    int (*sign)(struct mc_signer *s, const unsigned char *data, size_t len, unsigned char **sig,
                size_t *siglen, char *err, size_t errlen);
    void (*free)(struct mc_signer *s);
};

/* The signer of a certificate and its private key in PEM files (the
 * certificate file may carry the chain after it). NULL with err when they
 * cannot be read or do not belong together. */
struct mc_signer *mc_signer_pem(const char *cert_path, const char *key_path, char *err,
                                size_t errlen);

static inline int mc_signer_sign(struct mc_signer *s, const unsigned char *data, size_t len,
                                 unsigned char **sig, size_t *siglen, char *err, size_t errlen)
{
    return s->sign(s, data, len, sig, siglen, err, errlen);
}

static inline void mc_signer_free(struct mc_signer *s)
{
    if (s)
        s->free(s);
}

#endif
