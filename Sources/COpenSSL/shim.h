#ifndef CONSENT_LEDGER_COPENSSL_SHIM_H
#define CONSENT_LEDGER_COPENSSL_SHIM_H

/* SHA256_Init/Update/Final are deprecated in OpenSSL 3 but kept: ConsentCrypto.Digest uses them for
 * SHA-256 because EVP_DigestInit_ex2 frees and reallocates its context on every hash in 3.0. */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>
#include <openssl/evp.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/params.h>

/* Function-like macros are invisible to Swift; wrap the ones we need. */
static inline int cl_EVP_PKEY_CTX_set1_id(EVP_PKEY_CTX *ctx, const void *id, int len) {
    return EVP_PKEY_CTX_set1_id(ctx, id, len);
}
static inline long cl_BIO_get_mem_data(BIO *bio, char **out) {
    return BIO_get_mem_data(bio, out);
}

static inline int cl_EVP_PKEY_PUBLIC_KEY(void) {
    return EVP_PKEY_PUBLIC_KEY;
}

#endif
