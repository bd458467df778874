/* SPDX-License-Identifier: MIT */
/* Ed25519 signing keys (OpenSSL, PEM files) and the set of keys a mirror trusts. */
#ifndef BL_KEY_H
#define BL_KEY_H

#include <stddef.h>
#include <stdint.h>

#define BL_KEYID_SIZE  8
#define BL_SIG_SIZE    64
#define BL_PUBKEY_SIZE 32

/* A key: public only, or a private key (which includes the public half).
 * The key id is the first 8 bytes of SHA-256 over the raw 32-byte public key. */
typedef struct bl_key bl_key_t;

int bl_key_generate(bl_key_t **out);
/* Loads a PEM private key (PKCS#8) or public key (SubjectPublicKeyInfo).
 * Errors: BL_EIO (unreadable: errno set), BL_EKEY (not an Ed25519 key). */
int bl_key_load(const char *path, bl_key_t **out);
/* Builds a public key from its raw 32 bytes. */
int bl_key_from_raw(const uint8_t raw[BL_PUBKEY_SIZE], bl_key_t **out);
/* Writes the private key (mode 0600) and/or the public key as PEM; either path may be NULL. */
int bl_key_save(const bl_key_t *k, const char *priv_path, const char *pub_path);
void bl_key_free(bl_key_t *k);
int bl_key_is_private(const bl_key_t *k);
const uint8_t *bl_key_id(const bl_key_t *k);
const uint8_t *bl_key_raw(const bl_key_t *k); /* 32-byte public key */
/* Hex of the key id, needs 17 bytes. */
char *bl_key_id_hex(const bl_key_t *k, char out[17]);
/* Hex of a key id as objects carry it (bl_hdr_t.key_id), needs 17 bytes. */
char *bl_keyid_hex(const uint8_t id[BL_KEYID_SIZE], char out[17]);
int bl_key_sign(const bl_key_t *k, const void *msg, size_t len, uint8_t sig[BL_SIG_SIZE]);
/* Returns 0 or BL_ESIG. */
int bl_key_verify(const bl_key_t *k, const void *msg, size_t len, const uint8_t sig[BL_SIG_SIZE]);

/* Trusted public keys, looked up by id. The ring owns the keys added to it. */
typedef struct bl_keyring bl_keyring_t;
bl_keyring_t *bl_keyring_new(void);
void bl_keyring_free(bl_keyring_t *r);
/* Takes ownership of k (also on error). Adding a key already present is a no-op. */
int bl_keyring_add(bl_keyring_t *r, bl_key_t *k);
/* Loads a PEM public (or private) key file into the ring. */
int bl_keyring_add_file(bl_keyring_t *r, const char *path);
const bl_key_t *bl_keyring_find(const bl_keyring_t *r, const uint8_t id[BL_KEYID_SIZE]);
size_t bl_keyring_count(const bl_keyring_t *r);
const bl_key_t *bl_keyring_at(const bl_keyring_t *r, size_t i);

#endif
