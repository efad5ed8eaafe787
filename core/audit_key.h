/*
 * audit_key.h — the Ed25519 keys of the audit trail: the signing key (a
 * PKCS#8 PEM file of mode 0600, audit.signing_key_file), and a keyring of
 * public keys that verification accepts (the signing key's own plus
 * audit.verify_keys, so records signed before a key rotation still verify).
 *
 * A key id is the first 16 hex digits of SHA-256 over the 32 raw public key
 * bytes.  Signatures travel as standard base64 (88 characters).
 */
#ifndef TND_AUDIT_KEY_H
#define TND_AUDIT_KEY_H

#include <stddef.h>

#include <tenancyd/plugin.h>

#define AUDIT_KEY_ID_LEN 16
#define AUDIT_SIG_B64_LEN 88

struct audit_signer;
struct audit_keyring;

/** Load the private key from @path; refuses a file group or others may read. */
int audit_signer_load(const char *path, struct audit_signer **ret_signer, struct tnd_error *err);
/** Write a fresh key to @path (mode 0600, atomically; -EEXIST if it exists). */
int audit_key_generate(const char *path, struct tnd_error *err);
/** Wipe and free.  Accepts NULL. */
void audit_signer_free(struct audit_signer *signer);
const char *audit_signer_key_id(const struct audit_signer *signer);
/** The public key as SubjectPublicKeyInfo PEM. */
const char *audit_signer_public_pem(const struct audit_signer *signer);
/** Sign @len bytes; @ret_b64 gets the NUL-terminated base64 signature. */
int audit_sign(const struct audit_signer *signer, const void *msg, size_t len, char ret_b64[AUDIT_SIG_B64_LEN + 1],
	       struct tnd_error *err);

struct audit_keyring *audit_keyring_new(void);
void audit_keyring_free(struct audit_keyring *ring);
/** Add the signer's public key. */
void audit_keyring_add_signer(struct audit_keyring *ring, const struct audit_signer *signer);
/** Add the public key(s) of a PEM file (a public key or a private key's public half). */
int audit_keyring_add_file(struct audit_keyring *ring, const char *path, struct tnd_error *err);
/** Add one public key given as PEM text. */
int audit_keyring_add_pem(struct audit_keyring *ring, const char *pem, size_t len, struct tnd_error *err);
size_t audit_keyring_size(const struct audit_keyring *ring);
/** The @index-th key's id and PEM, or NULL past the end. */
const char *audit_keyring_id(const struct audit_keyring *ring, size_t index, const char **ret_pem);
/** 0 when @sig_b64 is a valid signature of @msg by key @key_id; -ENOKEY for
 *  an unknown key id, -EBADMSG for a bad signature. */
int audit_keyring_verify(const struct audit_keyring *ring, const char *key_id, const void *msg, size_t len,
			 const char *sig_b64);

#endif /* TND_AUDIT_KEY_H */
