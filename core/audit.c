/*
 * audit.c — the core side of the audit trail (see audit.h): the signing key
 * and keyring in force, sealing records for the storage driver, and the
 * records of requests that changed nothing.
 *
 * The key and keyring are set once at start-up, before the API serves, and
 * dropped after it stopped; a key change takes a restart (as the
 * credentials key does), so sealing reads them without a lock.
 */
#include "autoconfig.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit.h"
#include "audit_key.h"
#include "audit_record.h"
#include "audit_signpool.h"
#include "conf.h"
#include "log.h"
#include "registry.h"
#include "util.h"

#define LOG_COMPONENT "audit"

static struct audit_signer *audit_signer;
static struct audit_keyring *audit_ring;
static struct audit_signpool *audit_pool;
static atomic_bool audit_on;
static atomic_bool audit_fail_seal;
static atomic_bool audit_fail_sign;

int audit_keys_load(const char *signing_key_file, bool generate, char *const *verify_keys, size_t n_verify_keys,
		    struct tnd_error *err)
{
	struct stat st;
	long n_cpus;
	int r;

	if (generate && lstat(signing_key_file, &st) < 0 && errno == ENOENT) {
		r = audit_key_generate(signing_key_file, err);
		if (r < 0)
			return r;
		log_notice("generated the audit signing key %s", signing_key_file);
	}
	r = audit_signer_load(signing_key_file, &audit_signer, err);
	if (r < 0)
		return r;
	/* helpers on the other cores; the committing thread is one signer too */
	n_cpus = sysconf(_SC_NPROCESSORS_ONLN);
	audit_pool = audit_signpool_new(audit_signer, n_cpus > 1 ? (size_t)(n_cpus < 8 ? n_cpus - 1 : 7) : 0);
	audit_ring = audit_keyring_new();
	audit_keyring_add_signer(audit_ring, audit_signer);
	for (size_t i = 0; i < n_verify_keys; i++) {
		r = audit_keyring_add_file(audit_ring, verify_keys[i], err);
		if (r < 0) {
			audit_stop();
			return r;
		}
	}
	return 0;
}

int audit_start(const struct tnd_conf *conf, struct registry *reg, struct tnd_error *err)
{
	int r;

	if (conf->audit.disabled) {
		log_warning("audit.enabled = false: running WITHOUT an audit trail");
		return 0;
	}
	r = audit_keys_load(conf->audit.signing_key_file, conf->audit.signing_key_generate, conf->audit.verify_keys,
				conf->audit.n_verify_keys, err);
	if (r < 0) {
		audit_stop();
		return r;
	}
	if (!registry_supports_audit(reg)) {
		log_warning("the storage driver %s predates storage ABI 1.2: running WITHOUT an audit trail",
			    conf->plugins.storage.name);
		return 0;
	}
	atomic_store(&audit_on, true);
	log_notice("audit trail on: records signed with key %s (%zu key(s) accepted for verification)",
		   audit_signer_key_id(audit_signer), audit_keyring_size(audit_ring));
	return 0;
}

void audit_stop(void)
{
	atomic_store(&audit_on, false);
	audit_signpool_free(audit_pool);
	audit_pool = NULL;
	audit_signer_free(audit_signer);
	audit_signer = NULL;
	audit_keyring_free(audit_ring);
	audit_ring = NULL;
}

bool audit_enabled(void)
{
	return atomic_load(&audit_on);
}

void audit_test_fail_seal(bool fail)
{
	atomic_store(&audit_fail_seal, fail);
}

void audit_test_fail_signing(bool fail)
{
	atomic_store(&audit_fail_sign, fail);
}

int audit_digest(const struct tnd_audit_record *rec, int64_t seq, const char *prev_hash,
		 struct tnd_audit_digest *ret_digest, struct tnd_error *err)
{
	struct tnd_audit_digest digest;
	unsigned char raw[32];
	char *canonical;

	if (audit_signer == NULL) {
		tnd_error_set(err, "audit: no signing key loaded");
		return -ENOKEY;
	}
	if (atomic_load(&audit_fail_seal)) {
		tnd_error_set(err, "audit: sealing disabled by a test");
		return -EIO;
	}
	if (seq < 1 || prev_hash == NULL || strlen(prev_hash) != 64) {
		tnd_error_set(err, "audit: record %lld after an invalid chain head", (long long)seq);
		return -EINVAL;
	}
	memset(&digest, 0, sizeof(digest));
	tnd_strlcpy(digest.key_id, audit_signer_key_id(audit_signer), sizeof(digest.key_id));
	canonical = audit_canonical(rec, seq, digest.key_id, prev_hash);
	audit_hash(canonical, raw, digest.hash);
	free(canonical);
	*ret_digest = digest;
	return 0;
}

int audit_sign_records(size_t n, const char *const *hashes, char (*ret_signatures)[89], struct tnd_error *err)
{
	if (audit_pool == NULL) {
		tnd_error_set(err, "audit: no signing key loaded");
		return -ENOKEY;
	}
	if (atomic_load(&audit_fail_seal) || atomic_load(&audit_fail_sign)) {
		tnd_error_set(err, "audit: sealing disabled by a test");
		return -EIO;
	}
	return audit_signpool_sign(audit_pool, n, hashes, ret_signatures, err);
}

int audit_sign_head(int64_t seq, const char *hash, char ret_signature[89], struct tnd_error *err)
{
	char signature[AUDIT_SIG_B64_LEN + 1], *message;
	int r;

	if (audit_signer == NULL) {
		tnd_error_set(err, "audit: no signing key loaded");
		return -ENOKEY;
	}
	if (atomic_load(&audit_fail_seal)) {
		tnd_error_set(err, "audit: sealing disabled by a test");
		return -EIO;
	}
	message = audit_head_message(seq, hash);
	r = audit_sign(audit_signer, message, strlen(message), signature, err);
	free(message);
	if (r < 0)
		return r;
	memcpy(ret_signature, signature, sizeof(signature));
	return 0;
}

const struct audit_keyring *audit_keyring_get0(void)
{
	return audit_ring;
}

const char *audit_key_id(void)
{
	return audit_signer ? audit_signer_key_id(audit_signer) : NULL;
}

const char *audit_public_key_pem(void)
{
	return audit_signer ? audit_signer_public_pem(audit_signer) : NULL;
}

int audit_record_event(struct registry *reg, const struct audit_event *ev, struct tnd_error *err)
{
	struct registry_txn txn;
	int r;

	if (!audit_enabled())
		return 0;
	registry_txn_init(&txn);
	registry_txn_add_audit(&txn, ev);
	r = registry_commit(reg, &txn, NULL, err);
	registry_txn_clear(&txn);
	if (r < 0)
		log_error("audit record of %s by %s not written: %s", ev->action ? ev->action : "?",
			  ev->actor ? ev->actor : "?", err->message);
	return r;
}

int audit_record_denial(struct registry *reg, const char *tenant_id, const char *actor, const char *action,
			const char *target, const char *reason, const char *request_id, struct tnd_error *err)
{
	struct audit_event ev = {
		.tenant_id = tenant_id,
		.actor = actor,
		.action = action,
		.target = target,
		.outcome = AUDIT_OUTCOME_DENIED,
		.reason = reason,
		.request_id = request_id,
		.correlation_id = request_id,
	};

	return audit_record_event(reg, &ev, err);
}
