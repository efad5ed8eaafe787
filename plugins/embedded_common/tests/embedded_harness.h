/*
 * embedded_harness.h — what the embedded isolation plugin tests share:
 * loading a built embedded_*.so the way the core does (dlopen, dlsym
 * tnd_plugin_v1, a host table from host_new()) on a scratch state
 * directory, building isolation requests, running ops, and looking at the
 * data plane from outside (files, catalogue rows, bytes on disk).
 */
#ifndef TND_EMBEDDED_HARNESS_H
#define TND_EMBEDDED_HARNESS_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>
#include <sqlite3.h>

#include <tenancyd/host.h>
#include <tenancyd/isolation.h>

#include "embedded.h"

/* The data-plane directory every request names, relative to the state dir. */
#define EH_DIR_SETTING "plane"

struct eh {
	enum embedded_isolation isolation;
	const char *plugin_name;
	void *dl;
	const struct tnd_plugin *desc;
	const struct tnd_isolation_ops *ops;
	struct tnd_host *host;
	void *ctx;
	char *state_dir; /* scratch, removed on unload */
	char *dir;       /* <state_dir>/plane, the absolute data-plane directory */
};

/** The plugin serving @isolation, by its name. */
const char *eh_plugin_name(enum embedded_isolation isolation);
/** dlopen the built plugin, make a scratch state dir, init() with "{}"; aborts on failure. */
void eh_load(struct eh *h, enum embedded_isolation isolation);
void eh_unload(struct eh *h);
/** cmocka fixtures: @state is a struct eh; logs are captured. */
int eh_setup_shared(void **state);
int eh_setup_dedicated(void **state);
int eh_setup_hybrid(void **state);
int eh_teardown(void **state);

/** The test password of @tenant: distinctive, so a grep finds any copy. */
const char *eh_password(const char *tenant);
/** A full isolation request (isolation.h) for @tenant; @password NULL: no credentials. */
json_t *eh_request(const struct eh *h, const char *tenant, const char *state, const char *password);
/** Run @op on @request; the result is parsed into *@ret_result (NULL on failure). */
int eh_call(const struct eh *h, tnd_isolation_step_fn *op, json_t *request, json_t **ret_result,
	    struct tnd_error *err);
/** Run @op for @tenant with a standard request and fail the test unless it succeeds. */
json_t *eh_ok(const struct eh *h, tnd_isolation_step_fn *op, const char *tenant, const char *state);
/** Observe @tenant against @state; returns the whole result (caller decrefs). */
json_t *eh_observe(const struct eh *h, const char *tenant, const char *state);
/** True when observed.drift has an entry containing @needle. */
bool eh_drift_has(const json_t *result, const char *needle);
size_t eh_drift_count(const json_t *result);
bool eh_observed_flag(const json_t *result, const char *flag);

/** embedded_open_as on the harness's data plane. */
int eh_open(const struct eh *h, const char *tenant, const char *password, sqlite3 **ret_db);
/** The schema a tenant's data goes into: "t_<id>" in shared mode, "main" otherwise. */
const char *eh_data_schema(const struct eh *h, const char *tenant);
/** The tenant's main file: the schema file (shared) or the data file. */
char *eh_main_file(const struct eh *h, const char *tenant);
char *eh_schema_file(const struct eh *h, const char *tenant);
char *eh_data_file(const struct eh *h, const char *tenant);
/** sqlite3_exec; returns the primary result code. */
int eh_exec(sqlite3 *db, const char *sql);
/** The first column of the first row as a new string, NULL if none or on error. */
char *eh_query1(sqlite3 *db, const char *sql);
/** Run @sql on <dir>/@db_name (roles.db, shared.db) with a fresh connection. */
void eh_catalog_exec(const struct eh *h, const char *db_name, const char *sql);
/** Rows of @db_name's @table whose name is t_<tenant>; 0 if the file or table is missing. */
int eh_catalog_count(const struct eh *h, const char *db_name, const char *table, const char *tenant);
/** Files under @dir (recursively) whose name contains @needle. */
size_t eh_tree_count_names(const char *dir, const char *needle);
/** True when some file under @dir contains the bytes of @needle. */
bool eh_tree_contains_bytes(const char *dir, const char *needle);
/** The permission bits of @path, or -1. */
int eh_mode(const char *path);

#endif /* TND_EMBEDDED_HARNESS_H */
