/* SPDX-License-Identifier: MIT */
/* Ed25519 keys through OpenSSL: generate, load/save PEM, sign, verify, keyrings. */
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "key.h"

struct bl_key {
    EVP_PKEY *pkey;
    int priv;
    uint8_t raw[BL_PUBKEY_SIZE];
    uint8_t id[BL_KEYID_SIZE];
};

static int key_wrap(EVP_PKEY *pkey, int priv, bl_key_t **out)
{
    if (EVP_PKEY_get_id(pkey) != EVP_PKEY_ED25519) {
        EVP_PKEY_free(pkey);
        return BL_EKEY;
    }
    bl_key_t *k = calloc(1, sizeof *k);
    if (!k) {
        EVP_PKEY_free(pkey);
        return BL_ENOMEM;
    }
    size_t len = sizeof k->raw;
    if (EVP_PKEY_get_raw_public_key(pkey, k->raw, &len) != 1 || len != sizeof k->raw) {
        EVP_PKEY_free(pkey);
        free(k);
        return BL_EKEY;
    }
    uint8_t md[SHA256_DIGEST_LENGTH];
    SHA256(k->raw, sizeof k->raw, md);
    memcpy(k->id, md, sizeof k->id);
    k->pkey = pkey;
    k->priv = priv;
    *out = k;
    return 0;
}

int bl_key_generate(bl_key_t **out)
{
    EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    if (!pkey)
        return BL_ENOMEM;
    return key_wrap(pkey, 1, out);
}

int bl_key_from_raw(const uint8_t raw[BL_PUBKEY_SIZE], bl_key_t **out)
{
    EVP_PKEY *pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, raw, BL_PUBKEY_SIZE);
    if (!pkey)
        return BL_EKEY;
    return key_wrap(pkey, 0, out);
}

int bl_key_load(const char *path, bl_key_t **out)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return BL_EIO;
    EVP_PKEY *pkey = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    int priv = 1;
    if (!pkey) {
        rewind(f);
        pkey = PEM_read_PUBKEY(f, NULL, NULL, NULL);
        priv = 0;
    }
    fclose(f);
    if (!pkey)
        return BL_EKEY;
    return key_wrap(pkey, priv, out);
}

int bl_key_save(const bl_key_t *k, const char *priv_path, const char *pub_path)
{
    if (priv_path) {
        if (!k->priv)
            return BL_EINVAL;
        int fd = open(priv_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0)
            return BL_EIO;
        FILE *f = fdopen(fd, "w");
        if (!f) {
            close(fd);
            return BL_EIO;
        }
        int ok = PEM_write_PrivateKey(f, k->pkey, NULL, NULL, 0, NULL, NULL) == 1;
        if (fclose(f) != 0 || !ok)
            return BL_EIO;
    }
    if (pub_path) {
        FILE *f = fopen(pub_path, "w");
        if (!f)
            return BL_EIO;
        int ok = PEM_write_PUBKEY(f, k->pkey) == 1;
        if (fclose(f) != 0 || !ok)
            return BL_EIO;
    }
    return 0;
}

void bl_key_free(bl_key_t *k)
{
    if (!k)
        return;
    EVP_PKEY_free(k->pkey);
    free(k);
}

int bl_key_is_private(const bl_key_t *k)
{
    return k->priv;
}

const uint8_t *bl_key_id(const bl_key_t *k)
{
    return k->id;
}

const uint8_t *bl_key_raw(const bl_key_t *k)
{
    return k->raw;
}

char *bl_keyid_hex(const uint8_t id[BL_KEYID_SIZE], char out[17])
{
    for (int i = 0; i < BL_KEYID_SIZE; i++)
        snprintf(out + 2 * i, 3, "%02x", id[i]);
    return out;
}

char *bl_key_id_hex(const bl_key_t *k, char out[17])
{
    return bl_keyid_hex(k->id, out);
}

int bl_key_sign(const bl_key_t *k, const void *msg, size_t len, uint8_t sig[BL_SIG_SIZE])
{
    if (!k->priv)
        return BL_EKEY;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    size_t siglen = BL_SIG_SIZE;
    int ok = ctx && EVP_DigestSignInit(ctx, NULL, NULL, NULL, k->pkey) == 1 &&
             EVP_DigestSign(ctx, sig, &siglen, msg, len) == 1 && siglen == BL_SIG_SIZE;
    EVP_MD_CTX_free(ctx);
    return ok ? 0 : BL_EKEY;
}

int bl_key_verify(const bl_key_t *k, const void *msg, size_t len, const uint8_t sig[BL_SIG_SIZE])
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx)
        return BL_ENOMEM;
    int ok = EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, k->pkey) == 1 &&
             EVP_DigestVerify(ctx, sig, BL_SIG_SIZE, msg, len) == 1;
    EVP_MD_CTX_free(ctx);
    return ok ? 0 : BL_ESIG;
}

struct bl_keyring {
    bl_key_t **k;
    size_t n;
};

bl_keyring_t *bl_keyring_new(void)
{
    return calloc(1, sizeof(bl_keyring_t));
}

void bl_keyring_free(bl_keyring_t *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n; i++)
        bl_key_free(r->k[i]);
    free(r->k);
    free(r);
}

int bl_keyring_add(bl_keyring_t *r, bl_key_t *k)
{
    if (bl_keyring_find(r, k->id)) {
        bl_key_free(k);
        return 0;
    }
    bl_key_t **nk = realloc(r->k, (r->n + 1) * sizeof *nk);
    if (!nk) {
        bl_key_free(k);
        return BL_ENOMEM;
    }
    r->k = nk;
    r->k[r->n++] = k;
    return 0;
}

int bl_keyring_add_file(bl_keyring_t *r, const char *path)
{
    bl_key_t *k;
    int rc = bl_key_load(path, &k);
    if (rc)
        return rc;
    return bl_keyring_add(r, k);
}

const bl_key_t *bl_keyring_find(const bl_keyring_t *r, const uint8_t id[BL_KEYID_SIZE])
{
    for (size_t i = 0; i < r->n; i++)
        if (!memcmp(r->k[i]->id, id, BL_KEYID_SIZE))
            return r->k[i];
    return NULL;
}

size_t bl_keyring_count(const bl_keyring_t *r)
{
    return r->n;
}

const bl_key_t *bl_keyring_at(const bl_keyring_t *r, size_t i)
{
    return i < r->n ? r->k[i] : NULL;
}
