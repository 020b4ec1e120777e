/* `motcua letter pdf --out FILE [--cert PEM --key PEM] < NOTIFICATION`: the
 * letter of a notification (an event of the notifications topic, as
 * `motcua consume notifications` prints it, or its data) as the PDF the
 * sender prints and attaches, and with --cert and --key its detached CMS
 * signature in FILE.p7s, as the sender signs it. */
#include "letter_cmd.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "letters.h"

static int usage(FILE *out)
{
    fprintf(out, "usage: motcua letter pdf --out FILE [--cert CERT.pem --key KEY.pem] "
                 "< notification.json\n\n"
                 "Writes the letter of a notification (an event of the notifications topic,\n"
                 "or its data) as a PDF to FILE; with --cert and --key, also its detached\n"
                 "CMS signature (DER) to FILE.p7s, which `openssl cms -verify -binary\n"
                 "-inform DER -in FILE.p7s -content FILE -CAfile CA.pem` verifies.\n");
    return out == stderr ? 2 : 0;
}

static int write_all(const char *path, const unsigned char *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    int ok = f && fwrite(data, 1, len, f) == len;
    if (f && fclose(f) != 0)
        ok = 0;
    if (!ok)
        fprintf(stderr, "motcua letter: cannot write %s\n", path);
    return ok ? 0 : 1;
}

int mc_cli_letter(int argc, char **argv)
{
    const char *out = NULL, *cert = NULL, *key = NULL;
    unsigned char *pdf = NULL, *sig = NULL;
    size_t pdf_len = 0, sig_len = 0;
    struct mc_signer *signer = NULL;
    json_t *doc, *pers;
    json_error_t jerr;
    char err[512], sig_path[1100];
    int rc = 1;

    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0))
        return usage(stdout);
    if (argc < 2 || strcmp(argv[1], "pdf") != 0)
        return usage(stderr);
    for (int i = 2; i < argc; i++) {
        if (i + 1 < argc && strcmp(argv[i], "--out") == 0)
            out = argv[++i];
        else if (i + 1 < argc && strcmp(argv[i], "--cert") == 0)
            cert = argv[++i];
        else if (i + 1 < argc && strcmp(argv[i], "--key") == 0)
            key = argv[++i];
        else
            return usage(stderr);
    }
    if (out == NULL || !cert != !key)
        return usage(stderr);
    if ((doc = json_loadf(stdin, 0, &jerr)) == NULL) {
        fprintf(stderr, "motcua letter: the notification is not JSON: %s (line %d)\n", jerr.text,
                jerr.line);
        return 1;
    }
    pers = json_object_get(json_object_get(doc, "data"), "personalisation");
    if (pers == NULL)
        pers = json_object_get(doc, "personalisation");
    if (!json_is_object(pers)) {
        fprintf(stderr, "motcua letter: the notification has no personalisation "
                        "(notification.v2)\n");
        goto out;
    }
    if (cert && (signer = mc_signer_pem(cert, key, err, sizeof err)) == NULL) {
        fprintf(stderr, "motcua letter: %s\n", err);
        goto out;
    }
    if (mc_letter_pdf(pers, &pdf, &pdf_len, err, sizeof err) != 0 ||
        (signer && mc_signer_sign(signer, pdf, pdf_len, &sig, &sig_len, err, sizeof err) != 0)) {
        fprintf(stderr, "motcua letter: %s\n", err);
        goto out;
    }
    if (write_all(out, pdf, pdf_len) != 0)
        goto out;
    printf("%s: %zu bytes\n", out, pdf_len);
    if (sig) {
        snprintf(sig_path, sizeof sig_path, "%s.p7s", out);
        if (write_all(sig_path, sig, sig_len) != 0)
            goto out;
        printf("%s: signed by %s\n", sig_path, signer->name);
    }
    rc = 0;
out:
    free(pdf);
    free(sig);
    mc_signer_free(signer);
    json_decref(doc);
    return rc;
}
