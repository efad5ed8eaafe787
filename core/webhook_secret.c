/*
 * webhook_secret.c — generating, sealing and opening subscription secrets
 * (see webhook_secret.h).  The associated data is "webhook:<id>", so a
 * sealed secret copied onto another subscription (or a tenant's
 * credentials row) does not open.
 */
#include "autoconfig.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "credentials.h"
#include "util.h"
#include "webhook_secret.h"

static _Atomic(const struct credentials_key *) webhook_key;

void webhook_secret_set_key(const struct credentials_key *key)
{
	atomic_store(&webhook_key, key);
}

bool webhook_secret_available(void)
{
	return atomic_load(&webhook_key) != NULL;
}

int webhook_secret_generate(char out[WEBHOOK_SECRET_SIZE])
{
	unsigned char key[32];

	if (tnd_random_bytes(key, sizeof(key)) < 0)
		return -EIO;
	memcpy(out, "whsec_", 6);
	EVP_EncodeBlock((unsigned char *)out + 6, key, sizeof(key));
	explicit_bzero(key, sizeof(key));
	return 0;
}

static int webhook_secret_nokey(struct tnd_error *err)
{
	tnd_error_set(err, "no credentials key: set reconcile.credentials_key_file");
	return -ENOKEY;
}

int webhook_secret_seal(const char *id, const char *secret, char **ret_sealed, char **ret_key_id,
			struct tnd_error *err)
{
	const struct credentials_key *key = atomic_load(&webhook_key);
	char aad[96];
	int r;

	if (key == NULL)
		return webhook_secret_nokey(err);
	snprintf(aad, sizeof(aad), "webhook:%s", id);
	r = credentials_seal(key, aad, secret, ret_sealed, err);
	if (r == 0)
		*ret_key_id = tnd_xstrdup(credentials_key_id(key));
	return r;
}

int webhook_secret_open(const char *id, const char *key_id, const char *sealed, char **ret_secret,
			struct tnd_error *err)
{
	const struct credentials_key *key = atomic_load(&webhook_key);
	char aad[96];

	if (key == NULL)
		return webhook_secret_nokey(err);
	snprintf(aad, sizeof(aad), "webhook:%s", id);
	return credentials_open(key, key_id, aad, sealed, ret_secret, err);
}
