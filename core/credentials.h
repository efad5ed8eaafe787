/*
 * credentials.h — tenants' data-plane logins: generating passwords and
 * sealing them for the registry with AES-256-GCM under the key in
 * reconcile.credentials_key_file.
 *
 * A sealed credential is base64url(nonce[12] || ciphertext || tag[16]); the
 * tenant id is bound in as associated data, so a ciphertext copied onto
 * another tenant's row does not decrypt.  The key id recorded with it (the
 * first 16 hex digits of SHA-256(key)) tells which key sealed it, so keys
 * can be rotated: records sealed with an older key fail with -ENOKEY.
 */
#ifndef TND_CREDENTIALS_H
#define TND_CREDENTIALS_H

#include <stddef.h>

#include <tenancyd/plugin.h>

struct credentials_key;

/** Read a 32-byte key (base64, base64url or 64 hex digits) from a 0600 file. */
int credentials_key_load(const char *path, struct credentials_key **ret_key, struct tnd_error *err);
/** Wipe and free.  Accepts NULL. */
void credentials_key_free(struct credentials_key *key);
/** The key's id (16 hex digits). */
const char *credentials_key_id(const struct credentials_key *key);

/** A fresh random password: 32 random bytes as base64url (43 characters). */
void credentials_password_generate(char out[44]);
/** The data-plane login name of tenant @id: "t_" + id with '-' → '_'. */
void credentials_username(const char *tenant_id, char out[48]);

/** Seal @plaintext for @tenant_id; caller frees *@ret_sealed. */
int credentials_seal(const struct credentials_key *key, const char *tenant_id, const char *plaintext,
		     char **ret_sealed, struct tnd_error *err);
/** Open a sealed credential; caller wipes and frees *@ret_plaintext.
 *  -ENOKEY when @key_id is not this key's, -EBADMSG when it does not authenticate. */
int credentials_open(const struct credentials_key *key, const char *key_id, const char *tenant_id,
		     const char *sealed, char **ret_plaintext, struct tnd_error *err);

#endif /* TND_CREDENTIALS_H */
