/*
 * credentials.c — generating and sealing tenants' data-plane passwords
 * (see credentials.h).  OpenSSL EVP, AES-256-GCM.
 */
#include "autoconfig.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "credentials.h"
#include "util.h"

#define CRED_KEY_BYTES 32
#define CRED_NONCE_BYTES 12
#define CRED_TAG_BYTES 16
#define CRED_MAX_PLAINTEXT 1024

struct credentials_key {
	unsigned char bytes[CRED_KEY_BYTES];
	char id[17];
};

static int cred_hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* 64 hex digits, or base64 / base64url (padding optional) of 32 bytes. */
static int cred_key_decode(const char *text, size_t len, unsigned char out[CRED_KEY_BYTES])
{
	char buf[128];
	size_t n = 0;

	if (len == 64) {
		for (size_t i = 0; i < 32; i++) {
			int hi = cred_hex_value(text[2 * i]), lo = cred_hex_value(text[2 * i + 1]);
			if (hi < 0 || lo < 0)
				goto base64;
			out[i] = (unsigned char)(hi << 4 | lo);
		}
		return 0;
	}
base64:
	if (len >= sizeof(buf))
		return -EINVAL;
	for (size_t i = 0; i < len; i++)
		buf[i] = text[i] == '+' ? '-' : text[i] == '/' ? '_' : text[i];
	if (tnd_base64url_decode(buf, len, out, CRED_KEY_BYTES, &n) < 0 || n != CRED_KEY_BYTES) {
		explicit_bzero(buf, sizeof(buf));
		return -EINVAL;
	}
	explicit_bzero(buf, sizeof(buf));
	return 0;
}

int credentials_key_load(const char *path, struct credentials_key **ret_key, struct tnd_error *err)
{
	struct credentials_key *key;
	char *text = NULL, digest[65];
	size_t len = 0;
	int r;

	r = tnd_file_check(path, TND_FILE_SECRET, err);
	if (r < 0)
		return r;
	r = tnd_read_file(path, 4096, &text, &len, err);
	if (r < 0)
		return r;
	while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r' || text[len - 1] == ' '))
		len--;
	key = tnd_xcalloc(1, sizeof(*key));
	r = cred_key_decode(text, len, key->bytes);
	explicit_bzero(text, len);
	free(text);
	if (r < 0) {
		tnd_error_set(err, "%s: not a 32-byte key in base64 or hex", path);
		credentials_key_free(key);
		return -EINVAL;
	}
	tnd_sha256_hex(key->bytes, sizeof(key->bytes), digest);
	memcpy(key->id, digest, 16);
	key->id[16] = '\0';
	*ret_key = key;
	return 0;
}

void credentials_key_free(struct credentials_key *key)
{
	if (key == NULL)
		return;
	explicit_bzero(key, sizeof(*key));
	free(key);
}

const char *credentials_key_id(const struct credentials_key *key)
{
	return key->id;
}

void credentials_password_generate(char out[44])
{
	unsigned char raw[32];

	if (tnd_random_bytes(raw, sizeof(raw)) < 0)
		abort(); /* no entropy: nothing safe to do */
	tnd_base64url_encode(raw, sizeof(raw), out);
	explicit_bzero(raw, sizeof(raw));
}

void credentials_username(const char *tenant_id, char out[48])
{
	size_t i = 0;

	out[i++] = 't';
	out[i++] = '_';
	for (const char *p = tenant_id; *p && i < 47; p++)
		out[i++] = *p == '-' ? '_' : *p;
	out[i] = '\0';
}

int credentials_seal(const struct credentials_key *key, const char *tenant_id, const char *plaintext,
		     char **ret_sealed, struct tnd_error *err)
{
	size_t len = strlen(plaintext);
	unsigned char *blob;
	EVP_CIPHER_CTX *ctx;
	int n = 0, m = 0, ok;
	char *sealed;

	if (len > CRED_MAX_PLAINTEXT) {
		tnd_error_set(err, "credential too long");
		return -EINVAL;
	}
	blob = tnd_xmalloc(CRED_NONCE_BYTES + len + CRED_TAG_BYTES);
	if (tnd_random_bytes(blob, CRED_NONCE_BYTES) < 0) {
		free(blob);
		tnd_error_set(err, "no randomness for a nonce");
		return -EIO;
	}
	ctx = EVP_CIPHER_CTX_new();
	ok = ctx && EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) &&
	     EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, CRED_NONCE_BYTES, NULL) &&
	     EVP_EncryptInit_ex(ctx, NULL, NULL, key->bytes, blob) &&
	     EVP_EncryptUpdate(ctx, NULL, &n, (const unsigned char *)tenant_id, (int)strlen(tenant_id)) &&
	     EVP_EncryptUpdate(ctx, blob + CRED_NONCE_BYTES, &n, (const unsigned char *)plaintext, (int)len) &&
	     EVP_EncryptFinal_ex(ctx, blob + CRED_NONCE_BYTES + n, &m) &&
	     EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, CRED_TAG_BYTES, blob + CRED_NONCE_BYTES + n + m);
	EVP_CIPHER_CTX_free(ctx);
	if (!ok) {
		explicit_bzero(blob, CRED_NONCE_BYTES + len + CRED_TAG_BYTES);
		free(blob);
		tnd_error_set(err, "AES-256-GCM encryption failed");
		return -EIO;
	}
	len = CRED_NONCE_BYTES + (size_t)(n + m) + CRED_TAG_BYTES;
	sealed = tnd_xmalloc(4 * ((len + 2) / 3) + 1);
	tnd_base64url_encode(blob, len, sealed);
	free(blob);
	*ret_sealed = sealed;
	return 0;
}

int credentials_open(const struct credentials_key *key, const char *key_id, const char *tenant_id,
		     const char *sealed, char **ret_plaintext, struct tnd_error *err)
{
	size_t cap = strlen(sealed), len = 0, ct_len;
	unsigned char *blob;
	char *plain;
	EVP_CIPHER_CTX *ctx;
	int n = 0, m = 0, ok;

	if (!tnd_streq(key_id, key->id)) {
		tnd_error_set(err, "sealed with key %s, the configured key is %s", key_id ? key_id : "(none)", key->id);
		return -ENOKEY;
	}
	blob = tnd_xmalloc(cap + 1);
	if (tnd_base64url_decode(sealed, cap, blob, cap, &len) < 0 || len < CRED_NONCE_BYTES + CRED_TAG_BYTES) {
		free(blob);
		tnd_error_set(err, "sealed credential is malformed");
		return -EBADMSG;
	}
	ct_len = len - CRED_NONCE_BYTES - CRED_TAG_BYTES;
	plain = tnd_xmalloc(ct_len + 1);
	ctx = EVP_CIPHER_CTX_new();
	ok = ctx && EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) &&
	     EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, CRED_NONCE_BYTES, NULL) &&
	     EVP_DecryptInit_ex(ctx, NULL, NULL, key->bytes, blob) &&
	     EVP_DecryptUpdate(ctx, NULL, &n, (const unsigned char *)tenant_id, (int)strlen(tenant_id)) &&
	     EVP_DecryptUpdate(ctx, (unsigned char *)plain, &n, blob + CRED_NONCE_BYTES, (int)ct_len) &&
	     EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, CRED_TAG_BYTES, blob + CRED_NONCE_BYTES + ct_len) &&
	     EVP_DecryptFinal_ex(ctx, (unsigned char *)plain + n, &m) > 0;
	EVP_CIPHER_CTX_free(ctx);
	free(blob);
	if (!ok) {
		explicit_bzero(plain, ct_len + 1);
		free(plain);
		tnd_error_set(err, "sealed credential does not authenticate for tenant %s", tenant_id);
		return -EBADMSG;
	}
	plain[n + m] = '\0';
	*ret_plaintext = plain;
	return 0;
}
