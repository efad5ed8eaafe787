/*
 * audit_key.c — Ed25519 signing and verification keys of the audit trail
 * (see audit_key.h), with OpenSSL EVP.  The private key never leaves the
 * EVP_PKEY it is loaded into: nothing here logs or formats it.
 */
#include "autoconfig.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "audit_key.h"
#include "util.h"

#define AUDIT_KEY_FILE_MAX 16384

struct audit_signer {
	EVP_PKEY *pkey;
	char key_id[AUDIT_KEY_ID_LEN + 1];
	char *public_pem;
};

struct audit_public_key {
	EVP_PKEY *pkey;
	char key_id[AUDIT_KEY_ID_LEN + 1];
	char *pem;
};

struct audit_keyring {
	struct audit_public_key *keys;
	size_t n;
};

/* The id and the PEM of @pkey's public half. */
static int key_describe(EVP_PKEY *pkey, char key_id[AUDIT_KEY_ID_LEN + 1], char **ret_pem)
{
	unsigned char raw[32];
	size_t raw_len = sizeof(raw);
	char digest[65];
	BIO *bio;
	BUF_MEM *mem;

	if (EVP_PKEY_get_raw_public_key(pkey, raw, &raw_len) != 1 || raw_len != sizeof(raw))
		return -EINVAL;
	tnd_sha256_hex(raw, raw_len, digest);
	memcpy(key_id, digest, AUDIT_KEY_ID_LEN);
	key_id[AUDIT_KEY_ID_LEN] = '\0';
	bio = BIO_new(BIO_s_mem());
	if (bio == NULL || PEM_write_bio_PUBKEY(bio, pkey) != 1) {
		BIO_free(bio);
		return -ENOMEM;
	}
	BIO_get_mem_ptr(bio, &mem);
	*ret_pem = tnd_xstrndup(mem->data, mem->length);
	BIO_free(bio);
	return 0;
}

static bool key_is_ed25519(EVP_PKEY *pkey)
{
	return EVP_PKEY_get_id(pkey) == EVP_PKEY_ED25519;
}

int audit_signer_load(const char *path, struct audit_signer **ret_signer, struct tnd_error *err)
{
	struct audit_signer *signer;
	char *text = NULL;
	size_t len = 0;
	EVP_PKEY *pkey;
	BIO *bio;
	int r;

	r = tnd_file_check(path, TND_FILE_SECRET, err);
	if (r < 0)
		return r;
	r = tnd_read_file(path, AUDIT_KEY_FILE_MAX, &text, &len, err);
	if (r < 0)
		return r;
	bio = BIO_new_mem_buf(text, (int)len);
	pkey = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
	BIO_free(bio);
	explicit_bzero(text, len);
	free(text);
	if (pkey == NULL || !key_is_ed25519(pkey)) {
		EVP_PKEY_free(pkey);
		tnd_error_set(err, "%s: not an Ed25519 private key in PEM (openssl genpkey -algorithm ed25519)", path);
		return -EINVAL;
	}
	signer = tnd_xcalloc(1, sizeof(*signer));
	signer->pkey = pkey;
	if (key_describe(pkey, signer->key_id, &signer->public_pem) < 0) {
		audit_signer_free(signer);
		tnd_error_set(err, "%s: cannot derive the public key", path);
		return -EINVAL;
	}
	*ret_signer = signer;
	return 0;
}

int audit_key_generate(const char *path, struct tnd_error *err)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, NULL);
	EVP_PKEY *pkey = NULL;
	BIO *bio = NULL;
	BUF_MEM *mem;
	struct stat st;
	int r = -EIO;

	if (lstat(path, &st) == 0) {
		tnd_error_set(err, "%s exists", path);
		EVP_PKEY_CTX_free(ctx);
		return -EEXIST;
	}
	if (ctx == NULL || EVP_PKEY_keygen_init(ctx) != 1 || EVP_PKEY_keygen(ctx, &pkey) != 1) {
		tnd_error_set(err, "cannot generate an Ed25519 key");
		goto out;
	}
	bio = BIO_new(BIO_s_mem());
	if (bio == NULL || PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL) != 1) {
		tnd_error_set(err, "cannot encode the Ed25519 key");
		goto out;
	}
	BIO_get_mem_ptr(bio, &mem);
	r = tnd_write_file_atomic(path, mem->data, mem->length, 0600, err);
	explicit_bzero(mem->data, mem->length);
out:
	BIO_free(bio);
	EVP_PKEY_free(pkey);
	EVP_PKEY_CTX_free(ctx);
	return r;
}

void audit_signer_free(struct audit_signer *signer)
{
	if (signer == NULL)
		return;
	EVP_PKEY_free(signer->pkey);
	free(signer->public_pem);
	free(signer);
}

const char *audit_signer_key_id(const struct audit_signer *signer)
{
	return signer->key_id;
}

const char *audit_signer_public_pem(const struct audit_signer *signer)
{
	return signer->public_pem;
}

int audit_sign(const struct audit_signer *signer, const void *msg, size_t len, char ret_b64[AUDIT_SIG_B64_LEN + 1],
	       struct tnd_error *err)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char sig[64];
	size_t sig_len = sizeof(sig);
	int ok;

	ok = md != NULL && EVP_DigestSignInit(md, NULL, NULL, NULL, signer->pkey) == 1 &&
	     EVP_DigestSign(md, sig, &sig_len, msg, len) == 1 && sig_len == sizeof(sig);
	EVP_MD_CTX_free(md);
	if (!ok) {
		tnd_error_set(err, "Ed25519 signing failed");
		return -EIO;
	}
	EVP_EncodeBlock((unsigned char *)ret_b64, sig, (int)sig_len);
	return 0;
}

/* --- keyring ------------------------------------------------------------------------- */

struct audit_keyring *audit_keyring_new(void)
{
	return tnd_xcalloc(1, sizeof(struct audit_keyring));
}

void audit_keyring_free(struct audit_keyring *ring)
{
	if (ring == NULL)
		return;
	for (size_t i = 0; i < ring->n; i++) {
		EVP_PKEY_free(ring->keys[i].pkey);
		free(ring->keys[i].pem);
	}
	free(ring->keys);
	free(ring);
}

/* Takes @pkey over; a key already in the ring is dropped. */
static int keyring_take(struct audit_keyring *ring, EVP_PKEY *pkey)
{
	struct audit_public_key key = { .pkey = pkey };

	if (key_describe(pkey, key.key_id, &key.pem) < 0) {
		EVP_PKEY_free(pkey);
		return -EINVAL;
	}
	for (size_t i = 0; i < ring->n; i++)
		if (strcmp(ring->keys[i].key_id, key.key_id) == 0) {
			EVP_PKEY_free(pkey);
			free(key.pem);
			return 0;
		}
	ring->keys = tnd_xrealloc(ring->keys, (ring->n + 1) * sizeof(*ring->keys));
	ring->keys[ring->n++] = key;
	return 0;
}

void audit_keyring_add_signer(struct audit_keyring *ring, const struct audit_signer *signer)
{
	EVP_PKEY_up_ref(signer->pkey);
	keyring_take(ring, signer->pkey);
}

int audit_keyring_add_pem(struct audit_keyring *ring, const char *pem, size_t len, struct tnd_error *err)
{
	BIO *bio = BIO_new_mem_buf(pem, (int)len);
	EVP_PKEY *pkey = bio ? PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL) : NULL;

	BIO_free(bio);
	if (pkey == NULL || !key_is_ed25519(pkey)) {
		EVP_PKEY_free(pkey);
		tnd_error_set(err, "not an Ed25519 public key in PEM");
		return -EINVAL;
	}
	return keyring_take(ring, pkey);
}

int audit_keyring_add_file(struct audit_keyring *ring, const char *path, struct tnd_error *err)
{
	char *text = NULL;
	size_t len = 0;
	int r;

	r = tnd_read_file(path, AUDIT_KEY_FILE_MAX, &text, &len, err);
	if (r < 0)
		return r;
	r = audit_keyring_add_pem(ring, text, len, err);
	free(text);
	if (r < 0)
		tnd_error_set(err, "%s: not an Ed25519 public key in PEM", path);
	return r;
}

size_t audit_keyring_size(const struct audit_keyring *ring)
{
	return ring->n;
}

const char *audit_keyring_id(const struct audit_keyring *ring, size_t index, const char **ret_pem)
{
	if (index >= ring->n)
		return NULL;
	if (ret_pem)
		*ret_pem = ring->keys[index].pem;
	return ring->keys[index].key_id;
}

int audit_keyring_verify(const struct audit_keyring *ring, const char *key_id, const void *msg, size_t len,
			 const char *sig_b64)
{
	unsigned char sig[66];
	EVP_MD_CTX *md;
	EVP_PKEY *pkey = NULL;
	int ok;

	for (size_t i = 0; key_id && i < ring->n; i++)
		if (strcmp(ring->keys[i].key_id, key_id) == 0)
			pkey = ring->keys[i].pkey;
	if (pkey == NULL)
		return -ENOKEY;
	/* 88 base64 characters with "==" decode to 66 bytes, the last two padding */
	if (sig_b64 == NULL || strlen(sig_b64) != AUDIT_SIG_B64_LEN ||
	    EVP_DecodeBlock(sig, (const unsigned char *)sig_b64, AUDIT_SIG_B64_LEN) != 66)
		return -EBADMSG;
	md = EVP_MD_CTX_new();
	ok = md != NULL && EVP_DigestVerifyInit(md, NULL, NULL, NULL, pkey) == 1 &&
	     EVP_DigestVerify(md, sig, 64, msg, len) == 1;
	EVP_MD_CTX_free(md);
	return ok ? 0 : -EBADMSG;
}
