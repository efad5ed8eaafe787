/*
 * sqlite_ceiling.c — the durable-write ceiling of this machine, for the
 * benchmark suite to compare tenancyd against.
 *
 * Raw: one connection, WAL, synchronous=FULL, one single-row INSERT per
 * transaction (so one WAL fsync each), for --seconds.  Prints
 *
 *   sqlite_full_wal_tx_per_s <number>
 *
 * Then, unless --threads 0, the same durability through the sqlite storage
 * plugin: --threads threads calling commit() with an apply-shaped commit
 * (tenant insert + version append) for --seconds.  Prints
 *
 *   sqlite_plugin_commits_per_s <number>
 *   sqlite_plugin_tx_per_s <number>        (physical transactions = fsyncs)
 *   sqlite_plugin_vs_raw <ratio>
 *
 * usage: sqlite_ceiling [--dir DIR] [--seconds N] [--threads N] [--plugin FILE]
 *                       [--mode raw|plugin|both]
 * DIR defaults to a fresh directory under $TMPDIR that is removed afterwards;
 * put it on the file system the registry will live on.
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
#include <sqlite3.h>

#include <tenancyd/storage.h>

#include "host.h"
#include "log.h"
#include "metrics.h"
#include "util.h"

static const char ceiling_payload[] =
	"{\"apiVersion\":\"tenancy/v1\",\"kind\":\"Tenant\",\"metadata\":{\"id\":\"bench\"},"
	"\"spec\":{\"plan\":\"business\",\"isolation\":\"shared\",\"placement\":{\"residency\":\"eu\"}}}";

static int ceiling_exec(sqlite3 *db, const char *sql)
{
	char *message = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &message) != SQLITE_OK) {
		fprintf(stderr, "sqlite_ceiling: %s: %s\n", sql, message ? message : "?");
		sqlite3_free(message);
		return -EIO;
	}
	return 0;
}

static int ceiling_raw(const char *dir, double seconds, double *ret_tx_per_s)
{
	char *path = tnd_xasprintf("%s/ceiling.db", dir);
	sqlite3 *db = NULL;
	sqlite3_stmt *stmt = NULL;
	int64_t start, end, n = 0;
	int r = -EIO;

	if (sqlite3_open(path, &db) != SQLITE_OK) {
		fprintf(stderr, "sqlite_ceiling: cannot open %s\n", path);
		goto out;
	}
	if (ceiling_exec(db, "PRAGMA journal_mode=WAL") < 0 || ceiling_exec(db, "PRAGMA synchronous=FULL") < 0 ||
	    ceiling_exec(db, "CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, payload TEXT NOT NULL)") < 0)
		goto out;
	if (sqlite3_prepare_v2(db, "INSERT INTO t (payload) VALUES (?1)", -1, &stmt, NULL) != SQLITE_OK)
		goto out;
	start = tnd_monotonic_us();
	end = start + (int64_t)(seconds * 1e6);
	do {
		sqlite3_bind_text(stmt, 1, ceiling_payload, -1, SQLITE_STATIC);
		if (sqlite3_step(stmt) != SQLITE_DONE) {
			fprintf(stderr, "sqlite_ceiling: insert: %s\n", sqlite3_errmsg(db));
			goto out;
		}
		sqlite3_reset(stmt);
		n++;
	} while (tnd_monotonic_us() < end);
	*ret_tx_per_s = (double)n / ((double)(tnd_monotonic_us() - start) / 1e6);
	r = 0;
out:
	sqlite3_finalize(stmt);
	sqlite3_close(db);
	free(path);
	return r;
}

struct ceiling_worker {
	const struct tnd_storage_ops *ops;
	void *ctx;
	int index;
	int64_t end_us;
	atomic_long *commits;
	int failed;
};

static void *ceiling_worker_run(void *arg)
{
	struct ceiling_worker *w = arg;
	char id[48];

	for (long i = 0; tnd_monotonic_us() < w->end_us; i++) {
		struct tnd_tenant_record rec = {
			.size = sizeof(rec), .revision = 1, .version = 1, .phase = "Active", .state = "active",
			.plan = "business", .isolation = "shared", .region = "eu-west-1", .labels_json = "{}",
			.manifest_json = ceiling_payload, .status_json = "{}",
		};
		struct tnd_version_record v = {
			.size = sizeof(v), .version = 1, .manifest_json = ceiling_payload, .actor = "bench",
		};
		struct tnd_write writes[2] = {
			{ .kind = TND_WRITE_TENANT_INSERT, .record = &rec },
			{ .kind = TND_WRITE_VERSION_APPEND, .record = &v },
		};
		struct tnd_error err = { { 0 } };

		snprintf(id, sizeof(id), "bench-%03d-%09ld", w->index, i);
		rec.id = v.tenant_id = id;
		if (w->ops->commit(w->ctx, writes, 2, NULL, &err) != 0) {
			fprintf(stderr, "sqlite_ceiling: commit: %s\n", err.message);
			w->failed = 1;
			return NULL;
		}
		atomic_fetch_add(w->commits, 1);
	}
	return NULL;
}

static int ceiling_plugin(const char *plugin_path, const char *dir, double seconds, int n_threads,
			  double *ret_commits_per_s, double *ret_tx_per_s)
{
	char *state_dir = tnd_xasprintf("%s/plugin", dir);
	struct ceiling_worker *workers = tnd_xcalloc((size_t)n_threads, sizeof(*workers));
	pthread_t *threads = tnd_xcalloc((size_t)n_threads, sizeof(*threads));
	const struct tnd_plugin *desc = NULL;
	struct tnd_host *host = NULL;
	struct tnd_error err = { { 0 } };
	json_t *settings = json_object();
	atomic_long commits = 0;
	uint64_t tx0;
	int64_t start, end;
	void *dl, *ctx = NULL;
	int r = -EIO, failed = 0;

	dl = dlopen(plugin_path, RTLD_NOW | RTLD_LOCAL);
	if (dl == NULL) {
		fprintf(stderr, "sqlite_ceiling: %s\n", dlerror());
		goto out;
	}
	desc = dlsym(dl, TND_PLUGIN_SYMBOL);
	if (desc == NULL || desc->kind != TND_PLUGIN_STORAGE) {
		fprintf(stderr, "sqlite_ceiling: %s is not a storage plugin\n", plugin_path);
		goto out;
	}
	tnd_mkdir_p(state_dir, 0700);
	host = host_new("sqlite", state_dir);
	if (desc->init(host, host_json(settings), &ctx, &err) != 0) {
		fprintf(stderr, "sqlite_ceiling: init: %s\n", err.message);
		goto out;
	}
	tx0 = metrics_counter_get("tenancyd_plugin_sqlite_transactions_total", NULL);
	start = tnd_monotonic_us();
	end = start + (int64_t)(seconds * 1e6);
	for (int i = 0; i < n_threads; i++) {
		workers[i] = (struct ceiling_worker){
			.ops = desc->ops, .ctx = ctx, .index = i, .end_us = end, .commits = &commits,
		};
		pthread_create(&threads[i], NULL, ceiling_worker_run, &workers[i]);
	}
	for (int i = 0; i < n_threads; i++) {
		pthread_join(threads[i], NULL);
		failed |= workers[i].failed;
	}
	end = tnd_monotonic_us();
	*ret_commits_per_s = (double)atomic_load(&commits) / ((double)(end - start) / 1e6);
	*ret_tx_per_s = (double)(metrics_counter_get("tenancyd_plugin_sqlite_transactions_total", NULL) - tx0) /
			((double)(end - start) / 1e6);
	r = failed ? -EIO : 0;
out:
	if (ctx)
		desc->fini(ctx);
	host_free(host);
	if (dl)
		dlclose(dl);
	json_decref(settings);
	free(workers);
	free(threads);
	free(state_dir);
	return r;
}

static int ceiling_rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "dir", required_argument, NULL, 'd' },     { "seconds", required_argument, NULL, 's' },
		{ "threads", required_argument, NULL, 't' }, { "plugin", required_argument, NULL, 'p' },
		{ "mode", required_argument, NULL, 'm' },    { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char *dir = NULL, *plugin = tnd_xasprintf("%s/plugins/sqlite/.libs/sqlite.so", TND_ABS_BUILDDIR);
	double seconds = 3, raw = 0, commits = 0, txs = 0;
	int threads = 32, c, r = 0;
	bool run_raw = true;
	bool own_dir = false;

	while ((c = getopt_long(argc, argv, "d:s:t:p:m:h", options, NULL)) != -1) {
		switch (c) {
		case 'd':
			dir = tnd_xstrdup(optarg);
			break;
		case 's':
			seconds = atof(optarg);
			break;
		case 't':
			threads = atoi(optarg);
			break;
		case 'p':
			free(plugin);
			plugin = tnd_xstrdup(optarg);
			break;
		case 'm':
			if (strcmp(optarg, "raw") == 0)
				threads = 0;
			else if (strcmp(optarg, "plugin") == 0)
				run_raw = false;
			else if (strcmp(optarg, "both") != 0)
				c = '?';
			if (c != '?')
				break;
			/* fall through */
		default:
			fprintf(stderr,
				"usage: %s [--dir DIR] [--seconds N] [--threads N (0: raw only)] [--plugin FILE]\n"
				"       [--mode raw|plugin|both]\n",
				argv[0]);
			return c == 'h' ? 0 : 2;
		}
	}
	if (seconds <= 0 || threads < 0) {
		fprintf(stderr, "sqlite_ceiling: --seconds must be > 0 and --threads >= 0\n");
		return 2;
	}
	if (dir == NULL) {
		const char *tmp = getenv("TMPDIR");
		dir = tnd_xasprintf("%s/sqlite-ceiling-XXXXXX", tmp && *tmp ? tmp : "/tmp");
		if (mkdtemp(dir) == NULL) {
			perror("sqlite_ceiling: mkdtemp");
			return 1;
		}
		own_dir = true;
	}
	log_open(NULL, TND_LOG_WARNING);

	if (run_raw) {
		r = ceiling_raw(dir, seconds, &raw);
		if (r == 0) {
			printf("sqlite_full_wal_tx_per_s %.0f\n", raw);
			fflush(stdout);
		}
	}
	if (r == 0 && threads > 0) {
		r = ceiling_plugin(plugin, dir, seconds, threads, &commits, &txs);
		if (r == 0) {
			printf("sqlite_plugin_commits_per_s %.0f\n", commits);
			printf("sqlite_plugin_tx_per_s %.0f\n", txs);
			if (run_raw)
				printf("sqlite_plugin_vs_raw %.2f\n", raw > 0 ? commits / raw : 0.0);
		}
	}
	if (own_dir)
		nftw(dir, ceiling_rm, 16, FTW_DEPTH | FTW_PHYS);
	free(dir);
	free(plugin);
	return r == 0 ? 0 : 1;
}
