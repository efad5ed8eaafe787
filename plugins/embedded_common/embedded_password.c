/*
 * embedded_password.c — the tenants' login passwords as they are stored in
 * roles.db: salted PBKDF2-HMAC-SHA256 (OpenSSL), never the password
 * itself.  The iteration count is stored with each hash, so raising the
 * plugin's setting rehashes a role at its next provision and old hashes
 * keep verifying meanwhile.
 */
#include "autoconfig.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "embedded.h"

#define PASSWORD_KEY_SIZE 32
#define PASSWORD_PREFIX "pbkdf2-sha256$"
/* Verification refuses absurd counts from a tampered row instead of
 * spinning for hours. */
#define PASSWORD_MAX_ITERATIONS 100000000

static void password_hex(const unsigned char *data, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[data[i] >> 4];
		out[2 * i + 1] = digits[data[i] & 0xf];
	}
	out[2 * len] = '\0';
}

static int password_unhex(const char *hex, size_t hex_len, unsigned char *out, size_t len)
{
	if (hex_len != 2 * len)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		unsigned value = 0;

		for (size_t k = 0; k < 2; k++) {
			char c = hex[2 * i + k];

			value <<= 4;
			if (c >= '0' && c <= '9')
				value |= (unsigned)(c - '0');
			else if (c >= 'a' && c <= 'f')
				value |= (unsigned)(c - 'a' + 10);
			else
				return -EINVAL;
		}
		out[i] = (unsigned char)value;
	}
	return 0;
}

static int password_derive(const char *password, const unsigned char *salt, int iterations,
			   unsigned char key[PASSWORD_KEY_SIZE])
{
	size_t len = strlen(password);

	if (len > EMBEDDED_PASSWORD_MAX)
		return -EINVAL;
	if (PKCS5_PBKDF2_HMAC(password, (int)len, salt, EMBEDDED_PASSWORD_SALT_SIZE, iterations, EVP_sha256(),
			      PASSWORD_KEY_SIZE, key) != 1)
		return -EIO;
	return 0;
}

int embedded_password_hash(const char *password, const unsigned char salt[EMBEDDED_PASSWORD_SALT_SIZE],
			   int iterations, char ret_hash[EMBEDDED_PASSWORD_HASH_MAX])
{
	unsigned char key[PASSWORD_KEY_SIZE];
	char salt_hex[2 * EMBEDDED_PASSWORD_SALT_SIZE + 1], key_hex[2 * PASSWORD_KEY_SIZE + 1];
	int r;

	if (iterations < EMBEDDED_PASSWORD_MIN_ITERATIONS || iterations > PASSWORD_MAX_ITERATIONS)
		return -EINVAL;
	r = password_derive(password, salt, iterations, key);
	if (r < 0)
		return r;
	password_hex(salt, EMBEDDED_PASSWORD_SALT_SIZE, salt_hex);
	password_hex(key, sizeof(key), key_hex);
	OPENSSL_cleanse(key, sizeof(key));
	snprintf(ret_hash, EMBEDDED_PASSWORD_HASH_MAX, PASSWORD_PREFIX "%d$%s$%s", iterations, salt_hex, key_hex);
	return 0;
}

int embedded_password_verify(const char *stored, const char *password)
{
	unsigned char salt[EMBEDDED_PASSWORD_SALT_SIZE], want[PASSWORD_KEY_SIZE], got[PASSWORD_KEY_SIZE];
	const char *p, *salt_hex, *key_hex;
	char *end;
	long iterations;
	int r;

	if (stored == NULL || password == NULL || strncmp(stored, PASSWORD_PREFIX, strlen(PASSWORD_PREFIX)) != 0)
		return -EINVAL;
	p = stored + strlen(PASSWORD_PREFIX);
	errno = 0;
	iterations = strtol(p, &end, 10);
	if (errno != 0 || end == p || *end != '$' || iterations < 1 || iterations > PASSWORD_MAX_ITERATIONS)
		return -EINVAL;
	salt_hex = end + 1;
	key_hex = strchr(salt_hex, '$');
	if (key_hex == NULL)
		return -EINVAL;
	if (password_unhex(salt_hex, (size_t)(key_hex - salt_hex), salt, sizeof(salt)) < 0)
		return -EINVAL;
	key_hex++;
	if (password_unhex(key_hex, strlen(key_hex), want, sizeof(want)) < 0)
		return -EINVAL;
	r = password_derive(password, salt, (int)iterations, got);
	if (r == -EINVAL)
		return -EACCES; /* a password longer than any we store cannot match */
	if (r < 0)
		return r;
	r = CRYPTO_memcmp(want, got, sizeof(want)) == 0 ? 0 : -EACCES;
	OPENSSL_cleanse(got, sizeof(got));
	return r;
}

/* The iteration count a stored hash was made with, 0 if unreadable. */
int embedded_password_iterations(const char *stored)
{
	long iterations;

	if (stored == NULL || strncmp(stored, PASSWORD_PREFIX, strlen(PASSWORD_PREFIX)) != 0)
		return 0;
	iterations = strtol(stored + strlen(PASSWORD_PREFIX), NULL, 10);
	return iterations > 0 && iterations <= PASSWORD_MAX_ITERATIONS ? (int)iterations : 0;
}
