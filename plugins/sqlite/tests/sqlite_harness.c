/*
 * sqlite_harness.c — loading and driving the built sqlite plugin from the
 * tests (see sqlite_harness.h).
 */
#include "autoconfig.h"

#include <dlfcn.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "host.h"
#include "sqlite_harness.h"
#include "testutil.h"
#include "util.h"

void harness_load(struct harness *h, const char *tag)
{
	char *path = tnd_xasprintf("%s/plugins/sqlite/.libs/sqlite.so", testutil_builddir());

	memset(h, 0, sizeof(*h));
	h->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (h->dl == NULL)
		fail_msg("dlopen %s: %s", path, dlerror());
	free(path);
	h->desc = dlsym(h->dl, TND_PLUGIN_SYMBOL);
	assert_non_null(h->desc);
	h->ops = h->desc->ops;
	assert_non_null(h->ops);
	h->dir = testutil_mkdtemp(tag);
	h->db_path = tnd_xasprintf("%s/registry.db", h->dir);
	h->host = host_new("sqlite", h->dir);
}

static json_t *harness_settings(const char *settings_json)
{
	json_error_t jerr;
	json_t *settings = json_loads(settings_json ? settings_json : "{}", JSON_DECODE_ANY, &jerr);

	if (settings == NULL)
		fail_msg("bad settings in test: %s", jerr.text);
	return settings;
}

int harness_open(struct harness *h, const char *settings_json, struct tnd_error *err)
{
	json_t *settings = harness_settings(settings_json);
	int r;

	assert_null(h->ctx);
	r = h->desc->init(h->host, host_json(settings), &h->ctx, err);
	json_decref(settings);
	return r;
}

int harness_check(struct harness *h, const char *settings_json, struct tnd_error *err)
{
	json_t *settings = harness_settings(settings_json);
	int r = h->desc->check_config(h->host, host_json(settings), err);

	json_decref(settings);
	return r;
}

void harness_close(struct harness *h)
{
	if (h->ctx != NULL)
		h->desc->fini(h->ctx);
	h->ctx = NULL;
}

void harness_unload(struct harness *h)
{
	harness_close(h);
	testutil_rmrf(h->dir);
	free(h->dir);
	free(h->db_path);
	host_free(h->host);
	dlclose(h->dl);
	memset(h, 0, sizeof(*h));
}

struct tnd_tenant_record harness_tenant(const char *id, const char *phase, const char *labels_json)
{
	return (struct tnd_tenant_record){
		.size = sizeof(struct tnd_tenant_record),
		.id = id,
		.revision = 1,
		.version = 1,
		.observed_version = 0,
		.phase = phase,
		.state = "active",
		.plan = "business",
		.isolation = "shared",
		.region = "eu-west-1",
		.labels_json = labels_json,
		.manifest_json = "{\"apiVersion\":\"tenancy/v1\",\"kind\":\"Tenant\"}",
		.status_json = "{}",
		.created_ms = 1000,
		.updated_ms = 1000,
	};
}

int harness_commit1(struct harness *h, uint32_t kind, int64_t expect_revision, const void *record,
		    struct tnd_error *err)
{
	struct tnd_write write = { .kind = kind, .expect_revision = expect_revision, .record = record };
	size_t failed = 99;
	int r = h->ops->commit(h->ctx, &write, 1, &failed, err);

	if (r < 0)
		assert_int_equal(failed, 0);
	return r;
}

void harness_insert(struct harness *h, const char *id)
{
	struct tnd_tenant_record rec = harness_tenant(id, "Active", "{}");
	struct tnd_error err = { { 0 } };
	int r = harness_commit1(h, TND_WRITE_TENANT_INSERT, 0, &rec, &err);

	if (r != 0)
		fail_msg("insert %s: %d %s", id, r, err.message);
}

bool harness_exists(struct harness *h, const char *id)
{
	struct tnd_error err = { { 0 } };
	int r = h->ops->tenant_get(h->ctx, id, NULL, NULL, &err);

	if (r != 0 && r != -ENOENT)
		fail_msg("tenant_get %s: %d %s", id, r, err.message);
	return r == 0;
}

static char *harness_dup(const char *s)
{
	return s ? tnd_xstrdup(s) : NULL;
}

int harness_collect_tenant(const struct tnd_tenant_record *rec, void *userdata)
{
	struct tenant_list *list = userdata;
	struct tenant_copy *c;

	list->items = tnd_xrealloc(list->items, (list->n + 1) * sizeof(*list->items));
	c = &list->items[list->n++];
	c->id = harness_dup(rec->id);
	c->phase = harness_dup(rec->phase);
	c->state = harness_dup(rec->state);
	c->plan = harness_dup(rec->plan);
	c->isolation = harness_dup(rec->isolation);
	c->region = harness_dup(rec->region);
	c->labels_json = harness_dup(rec->labels_json);
	c->manifest_json = harness_dup(rec->manifest_json);
	c->status_json = harness_dup(rec->status_json);
	c->revision = rec->revision;
	c->version = rec->version;
	c->observed_version = rec->observed_version;
	c->created_ms = rec->created_ms;
	c->updated_ms = rec->updated_ms;
	return list->stop_after != 0 && list->n >= list->stop_after;
}

void tenant_list_free(struct tenant_list *list)
{
	for (size_t i = 0; i < list->n; i++) {
		struct tenant_copy *c = &list->items[i];
		free(c->id);
		free(c->phase);
		free(c->state);
		free(c->plan);
		free(c->isolation);
		free(c->region);
		free(c->labels_json);
		free(c->manifest_json);
		free(c->status_json);
	}
	free(list->items);
	memset(list, 0, sizeof(*list));
}

int harness_search(struct harness *h, const struct tnd_tenant_query *query, struct tenant_list *list)
{
	struct tnd_error err = { { 0 } };
	int r = h->ops->tenant_search(h->ctx, query, harness_collect_tenant, list, &err);

	if (r < 0)
		print_error("tenant_search: %d %s\n", r, err.message);
	return r;
}

/* --- workflows -------------------------------------------------------------------------- */

struct tnd_workflow_record harness_workflow(const char *id, const char *tenant_id, const char *state)
{
	return (struct tnd_workflow_record){
		.size = sizeof(struct tnd_workflow_record),
		.id = id,
		.revision = 1,
		.tenant_id = tenant_id,
		.kind = "activate",
		.target_version = 1,
		.state = state,
		.step = 0,
		.attempts = 0,
		.next_attempt_ms = 0,
		.document_json = "{\"steps\":[{\"op\":\"provision\"}]}",
		.created_ms = 1000,
		.updated_ms = 1000,
	};
}

int harness_collect_workflow(const struct tnd_workflow_record *rec, void *userdata)
{
	struct workflow_list *list = userdata;
	struct workflow_copy *c;

	list->items = tnd_xrealloc(list->items, (list->n + 1) * sizeof(*list->items));
	c = &list->items[list->n++];
	c->id = harness_dup(rec->id);
	c->tenant_id = harness_dup(rec->tenant_id);
	c->kind = harness_dup(rec->kind);
	c->state = harness_dup(rec->state);
	c->document_json = harness_dup(rec->document_json);
	c->revision = rec->revision;
	c->target_version = rec->target_version;
	c->step = rec->step;
	c->attempts = rec->attempts;
	c->next_attempt_ms = rec->next_attempt_ms;
	c->created_ms = rec->created_ms;
	c->updated_ms = rec->updated_ms;
	return list->stop_after != 0 && list->n >= list->stop_after;
}

void workflow_list_free(struct workflow_list *list)
{
	for (size_t i = 0; i < list->n; i++) {
		struct workflow_copy *c = &list->items[i];
		free(c->id);
		free(c->tenant_id);
		free(c->kind);
		free(c->state);
		free(c->document_json);
	}
	free(list->items);
	memset(list, 0, sizeof(*list));
}

void harness_get_workflow(struct harness *h, const char *id, struct workflow_list *list)
{
	struct tnd_error err = { { 0 } };
	int r;

	workflow_list_free(list);
	r = h->ops->workflow_get(h->ctx, id, harness_collect_workflow, list, &err);
	if (r != 0)
		fail_msg("workflow_get %s: %d %s", id, r, err.message);
	assert_int_equal(list->n, 1);
}

/* --- cmocka fixtures ---------------------------------------------------------------- */

int harness_setup_open(void **state)
{
	struct harness *h = tnd_xcalloc(1, sizeof(*h));
	struct tnd_error err = { { 0 } };

	testutil_log_capture_start();
	harness_load(h, "sqlite");
	if (harness_open(h, NULL, &err) != 0)
		fail_msg("init: %s", err.message);
	*state = h;
	return 0;
}

int harness_setup_closed(void **state)
{
	struct harness *h = tnd_xcalloc(1, sizeof(*h));

	testutil_log_capture_start();
	harness_load(h, "sqlite");
	*state = h;
	return 0;
}

int harness_teardown(void **state)
{
	struct harness *h = *state;

	harness_unload(h);
	free(h);
	testutil_log_capture_stop();
	return 0;
}

/* --- lineage and phase collectors ------------------------------------------------------ */

void int_list_free(struct int_list *list)
{
	for (size_t i = 0; i < list->n; i++)
		free(list->texts[i]);
	list->n = 0;
}

int harness_collect_version(const struct tnd_version_record *rec, void *userdata)
{
	struct int_list *list = userdata;

	assert_true(list->n < 32);
	list->values[list->n] = rec->version;
	list->texts[list->n++] = tnd_xasprintf("%s|%s|%s|%s|%lld", rec->tenant_id, rec->manifest_json,
					       rec->actor, rec->request_id ? rec->request_id : "(null)",
					       (long long)rec->time_ms);
	return list->stop_after != 0 && list->n >= list->stop_after;
}

int harness_collect_phase(const struct tnd_phase_record *rec, void *userdata)
{
	struct int_list *list = userdata;

	assert_true(list->n < 32);
	list->values[list->n] = rec->seq;
	list->texts[list->n++] = tnd_xasprintf("%s>%s v%lld %s %s %s", rec->from_phase ? rec->from_phase : "-",
					       rec->to_phase, (long long)rec->version, rec->actor,
					       rec->request_id ? rec->request_id : "-",
					       rec->reason ? rec->reason : "-");
	return 0;
}
