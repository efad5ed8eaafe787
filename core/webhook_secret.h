/*
 * webhook_secret.h — subscription secrets: generating a `whsec_` secret
 * and sealing it for the registry with the credentials key (AES-256-GCM,
 * credentials.h), bound to the subscription's id.  The daemon installs the
 * key once at start; without one, subscriptions cannot be created.
 */
#ifndef TND_WEBHOOK_SECRET_H
#define TND_WEBHOOK_SECRET_H

#include <tenancyd/plugin.h>

struct credentials_key;

/* "whsec_" + base64 of 32 random bytes + NUL */
#define WEBHOOK_SECRET_SIZE (6 + 44 + 1)

/** Install (or, with NULL, remove) the key secrets are sealed with; borrowed. */
void webhook_secret_set_key(const struct credentials_key *key);
/** True when a key is installed. */
bool webhook_secret_available(void);
/** A fresh secret: "whsec_" + base64 of 32 random bytes. */
int webhook_secret_generate(char out[WEBHOOK_SECRET_SIZE]);
/** Seal @secret for subscription @id; *@ret_sealed and *@ret_key_id (its id) to free. */
int webhook_secret_seal(const char *id, const char *secret, char **ret_sealed, char **ret_key_id,
			struct tnd_error *err);
/** Open a sealed secret; the caller wipes and frees *@ret_secret. */
int webhook_secret_open(const char *id, const char *key_id, const char *sealed, char **ret_secret,
			struct tnd_error *err);

#endif /* TND_WEBHOOK_SECRET_H */
