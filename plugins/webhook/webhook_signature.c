/*
 * webhook_signature.c — Standard Webhooks v1 signatures (see
 * webhook_signature.h): secret decoding, signing and verification with
 * OpenSSL 3's EVP_MAC interface.
 */
#include "autoconfig.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "webhook_signature.h"

#define SIGNATURE_HMAC_LEN 32 /* SHA-256 */

int webhook_key_from_secret(const char *secret, struct webhook_key *ret_key, const char **ret_why)
{
	static const char prefix[] = WEBHOOK_SECRET_PREFIX;
	unsigned char decoded[WEBHOOK_KEY_MAX + 3];
	const char *b64;
	size_t b64_len, padding = 0;
	int n;

	if (secret == NULL || strncmp(secret, prefix, sizeof(prefix) - 1) != 0) {
		*ret_why = "the secret must start with \"" WEBHOOK_SECRET_PREFIX "\"";
		return -EINVAL;
	}
	b64 = secret + sizeof(prefix) - 1;
	b64_len = strlen(b64);
	/* EVP_DecodeBlock would skip blanks and accept any length; be strict. */
	if (b64_len == 0 || b64_len % 4 != 0 || b64_len > 4 * ((WEBHOOK_KEY_MAX + 2) / 3)) {
		*ret_why = "the secret's key must be standard base64 of 24 to 64 bytes";
		return -EINVAL;
	}
	for (size_t i = 0; i < b64_len; i++) {
		char c = b64[i];
		bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
			  c == '/' || (c == '=' && i >= b64_len - 2);

		if (!ok || (padding > 0 && c != '=')) {
			*ret_why = "the secret's key is not standard base64";
			return -EINVAL;
		}
		padding += c == '=';
	}
	n = EVP_DecodeBlock(decoded, (const unsigned char *)b64, (int)b64_len);
	if (n < 0 || (size_t)n < padding) {
		OPENSSL_cleanse(decoded, sizeof(decoded));
		*ret_why = "the secret's key is not standard base64";
		return -EINVAL;
	}
	n -= (int)padding; /* EVP_DecodeBlock counts the padding as zero bytes */
	if (n < WEBHOOK_KEY_MIN || n > WEBHOOK_KEY_MAX) {
		OPENSSL_cleanse(decoded, sizeof(decoded));
		*ret_why = "the secret's key must be 24 to 64 bytes long";
		return -EINVAL;
	}
	memcpy(ret_key->bytes, decoded, (size_t)n);
	ret_key->len = (size_t)n;
	OPENSSL_cleanse(decoded, sizeof(decoded));
	return 0;
}

void webhook_key_clear(struct webhook_key *key)
{
	if (key != NULL)
		OPENSSL_cleanse(key, sizeof(*key));
}

static int signature_hmac(const struct webhook_key *key, const char *id, int64_t timestamp, const char *body,
			  size_t body_len, unsigned char mac_out[SIGNATURE_HMAC_LEN])
{
	char digest[] = "SHA256";
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
		OSSL_PARAM_construct_end(),
	};
	char stamp[24];
	EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	EVP_MAC_CTX *mctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
	size_t out_len = 0;
	int ok;

	snprintf(stamp, sizeof(stamp), ".%" PRId64 ".", timestamp);
	ok = mctx != NULL && EVP_MAC_init(mctx, key->bytes, key->len, params) &&
	     EVP_MAC_update(mctx, (const unsigned char *)id, strlen(id)) &&
	     EVP_MAC_update(mctx, (const unsigned char *)stamp, strlen(stamp)) &&
	     EVP_MAC_update(mctx, (const unsigned char *)body, body_len) &&
	     EVP_MAC_final(mctx, mac_out, &out_len, SIGNATURE_HMAC_LEN) && out_len == SIGNATURE_HMAC_LEN;
	EVP_MAC_CTX_free(mctx);
	EVP_MAC_free(mac);
	return ok ? 0 : -EIO;
}

int webhook_sign(const struct webhook_key *key, const char *id, int64_t timestamp, const char *body,
		 size_t body_len, char ret_signature[WEBHOOK_SIGNATURE_MAX])
{
	unsigned char mac[SIGNATURE_HMAC_LEN];
	int r = signature_hmac(key, id, timestamp, body, body_len, mac);

	if (r < 0)
		return r;
	memcpy(ret_signature, "v1,", 3);
	EVP_EncodeBlock((unsigned char *)ret_signature + 3, mac, SIGNATURE_HMAC_LEN); /* 44 chars + NUL */
	return 0;
}

bool webhook_verify(const struct webhook_key *key, const char *id, int64_t timestamp, const char *body,
		    size_t body_len, const char *header)
{
	char expected[WEBHOOK_SIGNATURE_MAX];
	size_t expected_len;
	bool match = false;

	if (header == NULL || webhook_sign(key, id, timestamp, body, body_len, expected) < 0)
		return false;
	expected_len = strlen(expected);
	while (*header != '\0') {
		size_t len = strcspn(header, " ");

		/* every candidate is compared in full, so timing says nothing about which matched */
		if (len == expected_len && CRYPTO_memcmp(header, expected, len) == 0)
			match = true;
		header += len;
		header += strspn(header, " ");
	}
	return match;
}
