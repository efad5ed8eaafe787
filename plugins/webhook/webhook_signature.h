/*
 * webhook_signature.h — Standard Webhooks signatures, scheme v1: the key
 * from a `whsec_…` secret, HMAC-SHA256 over "<id>.<timestamp>.<body>",
 * rendered as "v1,<base64>", and the receiver's constant-time check.
 *
 * Self-contained (libcrypto only, no tenancyd types), so the core can link
 * it later to verify or to validate a subscription's secret when it is
 * created.  A key is secret material: clear it with webhook_key_clear()
 * and never log it, nor the secret it came from.
 */
#ifndef TND_WEBHOOK_SIGNATURE_H
#define TND_WEBHOOK_SIGNATURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WEBHOOK_SECRET_PREFIX "whsec_"
/* Standard Webhooks: a signing key is between 24 and 64 bytes. */
#define WEBHOOK_KEY_MIN 24
#define WEBHOOK_KEY_MAX 64
/* "v1," + base64 of 32 bytes (44 characters) + NUL */
#define WEBHOOK_SIGNATURE_MAX 48

struct webhook_key {
	unsigned char bytes[WEBHOOK_KEY_MAX];
	size_t len;
};

/**
 * Decode @secret ("whsec_" + standard base64 of 24..64 bytes) into
 * @ret_key.  -EINVAL if it is malformed; @ret_key is untouched then.
 * The error says what is wrong, never what the secret is.
 */
int webhook_key_from_secret(const char *secret, struct webhook_key *ret_key, const char **ret_why);

/** Overwrite the key bytes (OPENSSL_cleanse).  Accepts NULL. */
void webhook_key_clear(struct webhook_key *key);

/**
 * Sign one message: @ret_signature receives "v1,<base64 HMAC-SHA256(key,
 * id "." timestamp "." body)>", NUL-terminated.  0, or -EIO if libcrypto
 * fails.
 */
int webhook_sign(const struct webhook_key *key, const char *id, int64_t timestamp, const char *body,
		 size_t body_len, char ret_signature[WEBHOOK_SIGNATURE_MAX]);

/**
 * The receiver's check: true when one of the space-separated signatures in
 * @header (a webhook-signature value, e.g. "v1,abc= v1,def=") is the v1
 * signature of the message.  Comparison is constant-time.  Checking the
 * timestamp's age is the caller's business.
 */
bool webhook_verify(const struct webhook_key *key, const char *id, int64_t timestamp, const char *body,
		    size_t body_len, const char *header);

#endif /* TND_WEBHOOK_SIGNATURE_H */
