/* The PEM signer: a certificate (with its chain after it, if any) and its
 * private key in PEM files; signs into a detached CMS SignedData (DER)
 * with the certificate and chain included, which `openssl cms -verify
 * -binary -inform DER -content <file>` verifies against the city's CA. A
 * PKCS#11 token would be another implementation of struct mc_signer. */
#include "letters.h"

#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct pem_signer {
    struct mc_signer base;
    X509 *cert;
    EVP_PKEY *key;
    STACK_OF(X509) * chain;
    char name[300];
};

/* The OpenSSL error queue's last reason after what. */
static void ssl_error(char *err, size_t errlen, const char *what)
{
    unsigned long e = ERR_peek_last_error();
    char reason[256];
    ERR_error_string_n(e, reason, sizeof reason);
    snprintf(err, errlen, "%s: %s", what, e ? reason : "unknown error");
    ERR_clear_error();
}

static int pem_sign(struct mc_signer *s, const unsigned char *data, size_t len, unsigned char **sig,
                    size_t *siglen, char *err, size_t errlen)
{
    struct pem_signer *p = (struct pem_signer *)s;
    BIO *in = BIO_new_mem_buf(data, (int)len);
    CMS_ContentInfo *cms;
    unsigned char *der = NULL;
    int n;

    *sig = NULL;
    *siglen = 0;
    cms = in ? CMS_sign(p->cert, p->key, p->chain, in, CMS_DETACHED | CMS_BINARY) : NULL;
    BIO_free(in);
    if (cms == NULL) {
        ssl_error(err, errlen, "cannot sign");
        return -1;
    }
    n = i2d_CMS_ContentInfo(cms, &der);
    CMS_ContentInfo_free(cms);
    if (n <= 0) {
        ssl_error(err, errlen, "cannot encode the signature");
        return -1;
    }
    *sig = malloc((size_t)n);
    memcpy(*sig, der, (size_t)n);
    *siglen = (size_t)n;
    OPENSSL_free(der);
    return 0;
}

static void pem_free(struct mc_signer *s)
{
    struct pem_signer *p = (struct pem_signer *)s;
    X509_free(p->cert);
    EVP_PKEY_free(p->key);
    sk_X509_pop_free(p->chain, X509_free);
    free(p);
}

struct mc_signer *mc_signer_pem(const char *cert_path, const char *key_path, char *err,
                                size_t errlen)
{
    struct pem_signer *p = calloc(1, sizeof *p);
    FILE *f;
    X509 *extra;

    p->base.sign = pem_sign;
    p->base.free = pem_free;
    p->base.name = p->name;
    p->chain = sk_X509_new_null();
    if ((f = fopen(cert_path, "r")) == NULL) {
        snprintf(err, errlen, "cannot open the signing certificate %s", cert_path);
        goto fail;
    }
    p->cert = PEM_read_X509(f, NULL, NULL, NULL);
    while (p->cert && (extra = PEM_read_X509(f, NULL, NULL, NULL)) != NULL)
        sk_X509_push(p->chain, extra);
    fclose(f);
    ERR_clear_error(); /* the end of the file ends the chain */
    if (p->cert == NULL) {
        snprintf(err, errlen, "%s holds no PEM certificate", cert_path);
        goto fail;
    }
    if ((f = fopen(key_path, "r")) == NULL) {
        snprintf(err, errlen, "cannot open the signing key %s", key_path);
        goto fail;
    }
    p->key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    if (p->key == NULL) {
        ssl_error(err, errlen, "cannot read the signing key");
        goto fail;
    }
    if (X509_check_private_key(p->cert, p->key) != 1) {
        snprintf(err, errlen, "the signing key %s does not belong to the certificate %s", key_path,
                 cert_path);
        ERR_clear_error();
        goto fail;
    }
    {
        /* The subject in UTF-8 ("CN=Chủ tịch ..."), for logs. */
        BIO *b = BIO_new(BIO_s_mem());
        int n;
        X509_NAME_print_ex(b, X509_get_subject_name(p->cert), 0,
                           XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
        n = BIO_read(b, p->name + 4, (int)sizeof p->name - 5);
        memcpy(p->name, "pem:", 4);
        p->name[4 + (n > 0 ? n : 0)] = '\0';
        BIO_free(b);
    }
    return &p->base;
fail:
    pem_free(&p->base);
    return NULL;
}
