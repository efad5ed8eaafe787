/*
 * audit_load.c — what the audit trail costs, beside the raw Ed25519 speed of
 * this machine measured in the same run.
 *
 *   ed25519_signs_per_s <n>        raw EVP signatures of 32 bytes, one thread
 *   ed25519_verifies_per_s <n>     raw EVP verifications, one thread
 *   audit_hashes_per_s <n>         canonical form + SHA-256 of records, one thread
 *   audit_batch_signs_per_s <n>    record signatures in batches of 64, as the
 *                                  driver asks for them before COMMIT (the
 *                                  core's signing pool: every core)
 *   audit_appends_per_s <n>        signed audit records committed durably
 *                                  through the sqlite plugin (group commit),
 *                                  --threads writers, each record alone
 *   audit_appends_vs_signs <ratio> appends/s over batch signs/s: near 1 means
 *                                  signing is the bound
 *   audit_verify_records_per_s <n> the verifier over the appended trail
 *                                  (read pages + hash + verify), one thread
 *   audit_verify_vs_raw <ratio>    over ed25519_verifies_per_s
 *
 * usage: audit_load [--dir DIR] [--seconds N] [--threads N] [--plugin FILE]
 */
#include "autoconfig.h"

#include <dlfcn.h>
#include <errno.h>
#include <ftw.h>
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include <tenancyd/storage.h>

#include "audit.h"
#include "audit_key.h"
#include "audit_record.h"
#include "audit_verify.h"
#include "host.h"
#include "util.h"

static struct tnd_audit_record load_record(const char *actor)
{
	struct tnd_audit_record rec = {
		.size = sizeof(rec),
		.time_ms = tnd_now_ms(),
		.tenant_id = "bench-tenant",
		.actor = actor,
		.action = "tenant.apply",
		.target = "/v1/tenants/bench-tenant",
		.previous_state = "active",
		.new_state = "suspended",
		.outcome = "succeeded",
		.request_id = "0f8fad5b-d9cb-469f-a165-70867728950e",
		.correlation_id = "0f8fad5b-d9cb-469f-a165-70867728950e",
	};
	return rec;
}

static double load_raw(const struct audit_signer *signer, const struct audit_keyring *ring, double seconds,
		       double *ret_verifies)
{
	unsigned char msg[32] = { 1, 2, 3 };
	char sig[AUDIT_SIG_B64_LEN + 1];
	struct tnd_error err = { { 0 } };
	int64_t start = tnd_monotonic_us(), end = start + (int64_t)(seconds * 1e6);
	long signs = 0, verifies = 0;

	while (tnd_monotonic_us() < end) {
		msg[0] = (unsigned char)signs;
		audit_sign(signer, msg, sizeof(msg), sig, &err);
		signs++;
	}
	start = tnd_monotonic_us();
	end = start + (int64_t)(seconds * 1e6);
	while (tnd_monotonic_us() < end) {
		if (audit_keyring_verify(ring, audit_signer_key_id(signer), msg, sizeof(msg), sig) != 0)
			fprintf(stderr, "audit_load: a raw verification failed\n");
		verifies++;
	}
	*ret_verifies = verifies / seconds;
	return signs / seconds;
}

static double load_hashes(double seconds)
{
	struct tnd_audit_record rec = load_record("bench");
	struct tnd_audit_digest digest;
	struct tnd_error err = { { 0 } };
	int64_t end = tnd_monotonic_us() + (int64_t)(seconds * 1e6);
	long n = 0;

	while (tnd_monotonic_us() < end) {
		if (audit_digest(&rec, n + 1, AUDIT_ZERO_HASH, &digest, &err) != 0) {
			fprintf(stderr, "audit_load: hash: %s\n", err.message);
			return 0;
		}
		n++;
	}
	return n / seconds;
}

#define LOAD_BATCH 64

static double load_batch_signs(double seconds)
{
	static char hashes[LOAD_BATCH][65], signatures[LOAD_BATCH][89];
	const char *ptrs[LOAD_BATCH];
	struct tnd_error err = { { 0 } };
	int64_t start = tnd_monotonic_us(), end = start + (int64_t)(seconds * 1e6);
	long n = 0;

	for (int i = 0; i < LOAD_BATCH; i++) {
		snprintf(hashes[i], sizeof(hashes[i]), "%064x", i);
		ptrs[i] = hashes[i];
	}
	while (tnd_monotonic_us() < end) {
		if (audit_sign_records(LOAD_BATCH, ptrs, signatures, &err) != 0) {
			fprintf(stderr, "audit_load: sign: %s\n", err.message);
			return 0;
		}
		n += LOAD_BATCH;
	}
	return n / ((tnd_monotonic_us() - start) / 1e6);
}

struct load_worker {
	const struct tnd_storage_ops *ops;
	void *ctx;
	int64_t end_us;
	atomic_long *appends;
	char actor[16];
};

static void *load_worker_run(void *arg)
{
	struct load_worker *w = arg;

	while (tnd_monotonic_us() < w->end_us) {
		struct tnd_audit_record rec = load_record(w->actor);
		struct tnd_write write = { .kind = TND_WRITE_AUDIT, .record = &rec };
		struct tnd_error err = { { 0 } };

		if (w->ops->commit(w->ctx, &write, 1, NULL, &err) != 0) {
			fprintf(stderr, "audit_load: commit: %s\n", err.message);
			return NULL;
		}
		atomic_fetch_add(w->appends, 1);
	}
	return NULL;
}

struct load_feed {
	struct audit_verifier *v;
	int64_t last;
	size_t n;
};

static int load_feed_visit(const struct tnd_audit_record *rec, void *userdata)
{
	struct load_feed *f = userdata;

	f->n++;
	f->last = rec->seq;
	return audit_verifier_feed(f->v, rec) ? 0 : 1;
}

/* Verify every record of the trail (the head is not re-read: nothing writes now). */
static double load_verify(const struct tnd_storage_ops *ops, void *ctx, long expect)
{
	struct audit_verifier v;
	struct tnd_audit_query q = { .size = sizeof(q), .limit = 1000 };
	struct tnd_error err = { { 0 } };
	int64_t start = tnd_monotonic_us();
	double secs;

	audit_verifier_init(&v, audit_keyring_get0(), 1);
	for (;;) {
		struct load_feed f = { &v, 0, 0 };
		if (ops->audit_list(ctx, &q, load_feed_visit, &f, &err) != 0 || v.first_bad || f.n < q.limit)
			break;
		q.after_seq = f.last;
	}
	secs = (tnd_monotonic_us() - start) / 1e6;
	if (v.first_bad || v.checked != expect) {
		fprintf(stderr, "audit_load: verified %lld of %ld records (%s)\n", (long long)v.checked, expect,
			v.first_bad ? v.reason : "count differs");
		return 0;
	}
	return secs > 0 ? v.checked / secs : 0;
}

static int load_rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "dir", required_argument, NULL, 'd' }, { "seconds", required_argument, NULL, 's' },
		{ "threads", required_argument, NULL, 't' }, { "plugin", required_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 },
	};
	char *dir = NULL, *plugin = tnd_xasprintf("%s/plugins/sqlite/.libs/sqlite.so", TND_ABS_BUILDDIR), *key;
	double seconds = 2, signs, verifies, hashes, batch_signs, appends, verified;
	const struct tnd_plugin *desc;
	struct tnd_error err = { { 0 } };
	struct audit_signer *signer = NULL;
	struct tnd_host *host;
	json_t *settings;
	atomic_long count = 0;
	bool own_dir = false;
	int threads = 16, c;
	void *dl, *ctx = NULL;

	while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (c) {
		case 'd': dir = tnd_xstrdup(optarg); break;
		case 's': seconds = atof(optarg); break;
		case 't': threads = atoi(optarg); break;
		case 'p': free(plugin); plugin = tnd_xstrdup(optarg); break;
		default:
			fprintf(stderr, "usage: %s [--dir DIR] [--seconds N] [--threads N] [--plugin FILE]\n", argv[0]);
			return 2;
		}
	}
	if (seconds <= 0 || threads < 1) {
		fprintf(stderr, "audit_load: --seconds and --threads must be positive\n");
		return 2;
	}
	if (dir == NULL) {
		const char *tmp = getenv("TMPDIR");
		dir = tnd_xasprintf("%s/audit-load-XXXXXX", tmp && *tmp ? tmp : "/tmp");
		if (mkdtemp(dir) == NULL) {
			perror("mkdtemp");
			return 1;
		}
		own_dir = true;
	}
	key = tnd_xasprintf("%s/audit.key", dir);
	if (audit_keys_load(key, true, NULL, 0, &err) < 0 || audit_signer_load(key, &signer, &err) < 0) {
		fprintf(stderr, "audit_load: %s\n", err.message);
		return 1;
	}

	signs = load_raw(signer, audit_keyring_get0(), seconds, &verifies);
	printf("ed25519_signs_per_s %.0f\ned25519_verifies_per_s %.0f\n", signs, verifies);
	hashes = load_hashes(seconds);
	printf("audit_hashes_per_s %.0f\n", hashes);
	batch_signs = load_batch_signs(seconds);
	printf("audit_batch_signs_per_s %.0f\n", batch_signs);

	dl = dlopen(plugin, RTLD_NOW | RTLD_LOCAL);
	desc = dl ? dlsym(dl, TND_PLUGIN_SYMBOL) : NULL;
	if (desc == NULL) {
		fprintf(stderr, "audit_load: %s: %s\n", plugin, dl ? "no descriptor" : dlerror());
		return 1;
	}
	host = host_new("sqlite", dir);
	settings = json_pack("{s:s}", "path", "registry.db");
	if (desc->init(host, host_json(settings), &ctx, &err) != 0) {
		fprintf(stderr, "audit_load: init: %s\n", err.message);
		return 1;
	}
	{
		const struct tnd_storage_ops *ops = desc->ops;
		struct load_worker *workers = tnd_xcalloc((size_t)threads, sizeof(*workers));
		pthread_t *ids = tnd_xcalloc((size_t)threads, sizeof(*ids));
		int64_t start = tnd_monotonic_us(), end = start + (int64_t)(seconds * 1e6);

		for (int i = 0; i < threads; i++) {
			workers[i] = (struct load_worker){ .ops = ops, .ctx = ctx, .end_us = end, .appends = &count };
			snprintf(workers[i].actor, sizeof(workers[i].actor), "w%d", i);
			pthread_create(&ids[i], NULL, load_worker_run, &workers[i]);
		}
		for (int i = 0; i < threads; i++)
			pthread_join(ids[i], NULL);
		appends = atomic_load(&count) / ((tnd_monotonic_us() - start) / 1e6);
		printf("audit_appends_per_s %.0f\n", appends);
		printf("audit_appends_vs_signs %.2f\n", batch_signs > 0 ? appends / batch_signs : 0.0);
		verified = load_verify(ops, ctx, atomic_load(&count));
		printf("audit_verify_records_per_s %.0f\n", verified);
		printf("audit_verify_vs_raw %.2f\n", verifies > 0 ? verified / verifies : 0.0);
		free(workers);
		free(ids);
	}
	desc->fini(ctx);
	json_decref(settings);
	host_free(host);
	audit_signer_free(signer);
	audit_stop();
	if (own_dir)
		nftw(dir, load_rm, 16, FTW_DEPTH | FTW_PHYS);
	free(key);
	free(dir);
	free(plugin);
	return 0;
}
