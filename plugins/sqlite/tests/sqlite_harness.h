/*
 * sqlite_harness.h — what the sqlite plugin tests share: loading the built
 * sqlite.so the way the core does (dlopen, dlsym tnd_plugin_v1, a host table
 * from host_new()), opening instances on a scratch directory, building
 * records (tenants, workflows), and visitors that copy what a read hands
 * them.
 */
#ifndef TND_SQLITE_HARNESS_H
#define TND_SQLITE_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <tenancyd/host.h>
#include <tenancyd/storage.h>

struct harness {
	void *dl;
	const struct tnd_plugin *desc;
	const struct tnd_storage_ops *ops;
	struct tnd_host *host;
	char *dir;       /* scratch state directory */
	char *db_path;   /* <dir>/registry.db */
	void *ctx;       /* the open instance, NULL when closed */
};

/** dlopen the built plugin and make a scratch state directory; aborts on failure. */
void harness_load(struct harness *h, const char *tag);
/** init() with @settings_json (NULL: "{}"); returns init's result. */
int harness_open(struct harness *h, const char *settings_json, struct tnd_error *err);
/** check_config() with @settings_json. */
int harness_check(struct harness *h, const char *settings_json, struct tnd_error *err);
/** fini() if open. */
void harness_close(struct harness *h);
/** Close, remove the directory, free the host, dlclose. */
void harness_unload(struct harness *h);

/** A fully populated tenant record borrowing @id, @phase and @labels_json. */
struct tnd_tenant_record harness_tenant(const char *id, const char *phase, const char *labels_json);

/** One-write commit; returns commit()'s result. */
int harness_commit1(struct harness *h, uint32_t kind, int64_t expect_revision, const void *record,
		    struct tnd_error *err);
/** Insert tenant @id (phase Active, labels {}), failing the test on error. */
void harness_insert(struct harness *h, const char *id);
/** True when tenant @id has a head row. */
bool harness_exists(struct harness *h, const char *id);

/** An owned copy of a tenant record. */
struct tenant_copy {
	char *id, *phase, *state, *plan, *isolation, *region, *labels_json, *manifest_json, *status_json;
	int64_t revision, version, observed_version, created_ms, updated_ms;
};
/** Ids (and full copies) collected by harness_collect_tenant(). */
struct tenant_list {
	struct tenant_copy *items;
	size_t n;
	size_t stop_after; /* 0: never stop the read early */
};
tnd_tenant_visit_fn harness_collect_tenant;
void tenant_list_free(struct tenant_list *list);

/** Search @query and collect every match. */
int harness_search(struct harness *h, const struct tnd_tenant_query *query, struct tenant_list *list);

/** A fully populated workflow record (revision 1) borrowing @id, @tenant_id and @state. */
struct tnd_workflow_record harness_workflow(const char *id, const char *tenant_id, const char *state);

/** An owned copy of a workflow record. */
struct workflow_copy {
	char *id, *tenant_id, *kind, *state, *document_json;
	int64_t revision, target_version, step, attempts, next_attempt_ms, created_ms, updated_ms;
};
/** Workflows collected by harness_collect_workflow(). */
struct workflow_list {
	struct workflow_copy *items;
	size_t n;
	size_t stop_after; /* 0: never stop the read early */
};
tnd_workflow_visit_fn harness_collect_workflow;
void workflow_list_free(struct workflow_list *list);
/** workflow_get() into a fresh @list (one item), failing the test unless it returns 0. */
void harness_get_workflow(struct harness *h, const char *id, struct workflow_list *list);

/** cmocka fixtures: a loaded plugin with an open instance (or none), logs captured. */
int harness_setup_open(void **state);
int harness_setup_closed(void **state);
int harness_teardown(void **state);

/** Versions (their numbers) or phase transitions (their seqs) collected by
 *  the visitors below, each with a one-line rendering of the record. */
struct int_list {
	int64_t values[32];
	char *texts[32];
	size_t n;
	size_t stop_after;
};
void int_list_free(struct int_list *list);
tnd_version_visit_fn harness_collect_version;
tnd_phase_visit_fn harness_collect_phase;

#endif /* TND_SQLITE_HARNESS_H */
