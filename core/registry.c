/*
 * registry.c — the core's only door to the storage driver (see registry.h).
 *
 * Records the driver lends to visitors are copied into owned rows and JSON
 * before the visitor returns; writes are assembled in a registry_txn whose
 * strings live until the commit is done.
 */
#include "autoconfig.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "doc_cache.h"
#include "events.h"
#include "plugin_loader.h"
#include "registry.h"
#include "registry_internal.h"
#include "util.h"
#include "workflow.h"

struct registry {
	const struct tnd_storage_ops *ops;
	void *ctx;
	uint64_t capabilities;
	struct doc_cache *docs;
};

struct registry *registry_new(const struct tnd_loaded_plugin *storage, size_t cache_entries)
{
	struct registry *reg = tnd_xcalloc(1, sizeof(*reg));

	reg->ops = storage->ops;
	reg->ctx = storage->ctx;
	reg->capabilities = storage->desc->capabilities;
	/* another instance could write a shared registry behind our back */
	reg->docs = doc_cache_new((reg->capabilities & TND_STORAGE_CAP_SHARED) ? 0 : cache_entries);
	return reg;
}

void registry_free(struct registry *reg)
{
	if (reg == NULL)
		return;
	doc_cache_free(reg->docs);
	free(reg);
}

bool registry_has_group_commit(const struct registry *reg)
{
	return (reg->capabilities & TND_STORAGE_CAP_GROUP_COMMIT) != 0;
}

void tenant_row_free(struct tenant_row *row)
{
	if (row == NULL)
		return;
	free(row->id);
	free(row->plan);
	free(row->isolation);
	free(row->region);
	json_decref(row->labels);
	json_decref(row->manifest);
	json_decref(row->status);
	free(row);
}

json_t *tenant_document(const struct tenant_row *row)
{
	json_t *doc = json_deep_copy(row->manifest);
	json_t *metadata = json_object_get(doc, "metadata");
	char when[32];

	if (!json_is_object(metadata)) {
		metadata = json_object();
		json_object_set_new(doc, "metadata", metadata);
	}
	json_object_set_new(metadata, "version", json_integer(row->version));
	tnd_format_time(row->created_ms, when);
	json_object_set_new(metadata, "createdAt", json_string(when));
	tnd_format_time(row->updated_ms, when);
	json_object_set_new(metadata, "updatedAt", json_string(when));
	json_object_set(doc, "status", row->status);
	return doc;
}

static char *registry_render(const struct tenant_row *row)
{
	json_t *doc = tenant_document(row);
	char *text = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);

	json_decref(doc);
	return text ? text : tnd_xstrdup("null");
}

static json_t *registry_parse_json(const char *text, const char *fallback)
{
	json_t *v = text ? json_loads(text, JSON_DECODE_ANY, NULL) : NULL;

	return v ? v : json_loads(fallback, JSON_DECODE_ANY, NULL);
}

static struct tenant_row *registry_row_from_record(const struct tnd_tenant_record *rec)
{
	struct tenant_row *row = tnd_xcalloc(1, sizeof(*row));

	row->id = tnd_xstrdup(rec->id);
	row->revision = rec->revision;
	row->version = rec->version;
	row->observed_version = rec->observed_version;
	row->phase = lifecycle_phase_parse(rec->phase);
	row->state = lifecycle_phase_parse(rec->state);
	row->plan = tnd_xstrdup(rec->plan);
	row->isolation = tnd_xstrdup(rec->isolation);
	row->region = tnd_xstrdup(rec->region);
	row->labels = registry_parse_json(rec->labels_json, "{}");
	row->manifest = registry_parse_json(rec->manifest_json, "{}");
	row->status = registry_parse_json(rec->status_json, "{}");
	row->created_ms = rec->created_ms;
	row->updated_ms = rec->updated_ms;
	return row;
}

static int registry_get_visit(const struct tnd_tenant_record *rec, void *userdata)
{
	struct tenant_row **out = userdata;

	*out = registry_row_from_record(rec);
	return 1;
}

int registry_tenant_get(struct registry *reg, const char *id, struct tenant_row **ret_row,
			struct tnd_error *err)
{
	struct tenant_row *row = NULL;
	int r = reg->ops->tenant_get(reg->ctx, id, registry_get_visit, &row, err);

	if (r < 0) {
		tenant_row_free(row);
		return r;
	}
	if (row == NULL)
		return -ENOENT;
	*ret_row = row;
	return 0;
}

int registry_tenant_document(struct registry *reg, const char *id, const struct doc_entry **ret_entry,
			     struct tnd_error *err)
{
	uint64_t ticket;
	const struct doc_entry *entry = doc_cache_get1(reg->docs, id, &ticket);
	struct tenant_row *row = NULL;
	char *text;
	int r;

	if (entry) {
		*ret_entry = entry;
		return 0;
	}
	r = registry_tenant_get(reg, id, &row, err);
	if (r < 0)
		return r;
	text = registry_render(row);
	*ret_entry = doc_cache_fill(reg->docs, id, ticket, row->revision, row->version, text);
	free(text);
	tenant_row_free(row);
	return 0;
}

void registry_cache_stats(struct registry *reg, uint64_t *ret_hits, uint64_t *ret_misses)
{
	doc_cache_stats(reg->docs, ret_hits, ret_misses);
}

struct registry_search_state {
	registry_row_visit_fn *visit;
	void *userdata;
};

static int registry_search_visit(const struct tnd_tenant_record *rec, void *userdata)
{
	struct registry_search_state *st = userdata;
	struct tenant_row *row = registry_row_from_record(rec);
	int r = st->visit(row, st->userdata);

	tenant_row_free(row);
	return r;
}

int registry_tenant_search(struct registry *reg, const struct tnd_tenant_query *query,
			   registry_row_visit_fn *visit, void *userdata, struct tnd_error *err)
{
	struct registry_search_state st = { visit, userdata };

	return reg->ops->tenant_search(reg->ctx, query, registry_search_visit, &st, err);
}

static json_t *registry_version_json(const struct tnd_version_record *rec)
{
	char when[32];
	json_t *item = json_object();

	tnd_format_time(rec->time_ms, when);
	json_object_set_new(item, "version", json_integer(rec->version));
	json_object_set_new(item, "manifest", registry_parse_json(rec->manifest_json, "{}"));
	json_object_set_new(item, "actor", json_string(rec->actor ? rec->actor : ""));
	json_object_set_new(item, "requestId", json_string(rec->request_id ? rec->request_id : ""));
	json_object_set_new(item, "time", json_string(when));
	return item;
}

static int registry_versions_visit(const struct tnd_version_record *rec, void *userdata)
{
	json_array_append_new(userdata, registry_version_json(rec));
	return 0;
}

int registry_versions(struct registry *reg, const char *id, int64_t after, uint32_t limit,
		      json_t **ret_items, struct tnd_error *err)
{
	json_t *items = json_array();
	int r = reg->ops->version_list(reg->ctx, id, after, limit, registry_versions_visit, items, err);

	if (r < 0) {
		json_decref(items);
		return r;
	}
	*ret_items = items;
	return 0;
}

static int registry_version_visit(const struct tnd_version_record *rec, void *userdata)
{
	json_t **out = userdata;

	*out = registry_version_json(rec);
	return 1;
}

int registry_version(struct registry *reg, const char *id, int64_t version, json_t **ret_item,
		     struct tnd_error *err)
{
	json_t *item = NULL;
	int r = reg->ops->version_get(reg->ctx, id, version, registry_version_visit, &item, err);

	if (r < 0) {
		json_decref(item);
		return r;
	}
	if (item == NULL)
		return -ENOENT;
	*ret_item = item;
	return 0;
}

static int registry_transitions_visit(const struct tnd_phase_record *rec, void *userdata)
{
	char when[32];
	json_t *item = json_object();

	tnd_format_time(rec->time_ms, when);
	json_object_set_new(item, "seq", json_integer(rec->seq));
	json_object_set_new(item, "from", rec->from_phase ? json_string(rec->from_phase) : json_null());
	json_object_set_new(item, "to", json_string(rec->to_phase));
	json_object_set_new(item, "version", json_integer(rec->version));
	json_object_set_new(item, "actor", json_string(rec->actor ? rec->actor : ""));
	json_object_set_new(item, "requestId", json_string(rec->request_id ? rec->request_id : ""));
	if (rec->reason)
		json_object_set_new(item, "reason", json_string(rec->reason));
	json_object_set_new(item, "time", json_string(when));
	json_array_append_new(userdata, item);
	return 0;
}

int registry_transitions(struct registry *reg, const char *id, int64_t after, uint32_t limit,
			 json_t **ret_items, struct tnd_error *err)
{
	json_t *items = json_array();
	int r = reg->ops->phase_list(reg->ctx, id, after, limit, registry_transitions_visit, items, err);

	if (r < 0) {
		json_decref(items);
		return r;
	}
	*ret_items = items;
	return 0;
}

static int registry_idempotency_visit(const struct tnd_idempotency_record *rec, void *userdata)
{
	struct idempotent_response *out = userdata;

	tnd_strlcpy(out->request_hash, rec->request_hash ? rec->request_hash : "", sizeof(out->request_hash));
	out->status = rec->status;
	out->response = registry_parse_json(rec->response_json, "{}");
	return 1;
}

int registry_idempotency_get(struct registry *reg, const char *key, struct idempotent_response *ret,
			     struct tnd_error *err)
{
	struct idempotent_response found = { .response = NULL };
	int r = reg->ops->idempotency_get(reg->ctx, key, tnd_now_ms(), registry_idempotency_visit, &found, err);

	if (r < 0) {
		json_decref(found.response);
		return r;
	}
	if (found.response == NULL)
		return -ENOENT;
	*ret = found;
	return 0;
}

/* --- reconcile (storage ABI 1.1) ------------------------------------------------ */

bool registry_supports_reconcile(const struct registry *reg)
{
	return TND_HAS_FIELD(reg->ops, struct tnd_storage_ops, credential_get) && reg->ops->workflow_get &&
	       reg->ops->workflow_list && reg->ops->credential_get;
}

struct workflow *workflow_from_record(const struct tnd_workflow_record *rec)
{
	struct workflow *wf = tnd_xcalloc(1, sizeof(*wf));

	wf->id = tnd_xstrdup(rec->id);
	wf->revision = rec->revision;
	wf->tenant_id = tnd_xstrdup(rec->tenant_id);
	wf->kind = tnd_xstrdup(rec->kind);
	wf->target_version = rec->target_version;
	wf->state = workflow_state_parse(rec->state);
	wf->step = rec->step;
	wf->attempts = rec->attempts;
	wf->next_attempt_ms = rec->next_attempt_ms;
	wf->doc = registry_parse_json(rec->document_json, "{}");
	wf->created_ms = rec->created_ms;
	wf->updated_ms = rec->updated_ms;
	return wf;
}

static int registry_workflow_get_visit(const struct tnd_workflow_record *rec, void *userdata)
{
	struct workflow **out = userdata;

	*out = workflow_from_record(rec);
	return 1;
}

int registry_workflow_get(struct registry *reg, const char *id, struct workflow **ret_workflow,
			  struct tnd_error *err)
{
	struct workflow *wf = NULL;
	int r;

	if (!registry_supports_reconcile(reg))
		return -ENOTSUP;
	r = reg->ops->workflow_get(reg->ctx, id, registry_workflow_get_visit, &wf, err);
	if (r < 0) {
		workflow_free(wf);
		return r;
	}
	if (wf == NULL)
		return -ENOENT;
	*ret_workflow = wf;
	return 0;
}

struct registry_workflow_state {
	registry_workflow_visit_fn *visit;
	void *userdata;
};

static int registry_workflow_list_visit(const struct tnd_workflow_record *rec, void *userdata)
{
	struct registry_workflow_state *st = userdata;
	struct workflow *wf = workflow_from_record(rec);
	int r = st->visit(wf, st->userdata);

	workflow_free(wf);
	return r;
}

int registry_workflow_list_records(struct registry *reg, const struct tnd_workflow_query *query,
				   tnd_workflow_visit_fn *visit, void *userdata, struct tnd_error *err)
{
	if (!registry_supports_reconcile(reg))
		return -ENOTSUP;
	return reg->ops->workflow_list(reg->ctx, query, visit, userdata, err);
}

int registry_workflow_list(struct registry *reg, const struct tnd_workflow_query *query,
			   registry_workflow_visit_fn *visit, void *userdata, struct tnd_error *err)
{
	struct registry_workflow_state st = { visit, userdata };

	if (!registry_supports_reconcile(reg))
		return -ENOTSUP;
	return reg->ops->workflow_list(reg->ctx, query, registry_workflow_list_visit, &st, err);
}

struct registry_credential_state {
	char *key_id;
	char *sealed;
};

static int registry_credential_visit(const struct tnd_credential_record *rec, void *userdata)
{
	struct registry_credential_state *st = userdata;

	st->key_id = tnd_xstrdup(rec->key_id);
	st->sealed = tnd_xstrdup(rec->ciphertext);
	return 1;
}

int registry_credential_get(struct registry *reg, const char *tenant_id, char **ret_key_id, char **ret_sealed,
			    struct tnd_error *err)
{
	struct registry_credential_state st = { NULL, NULL };
	int r;

	if (!registry_supports_reconcile(reg))
		return -ENOTSUP;
	r = reg->ops->credential_get(reg->ctx, tenant_id, registry_credential_visit, &st, err);
	if (r == 0 && st.sealed == NULL)
		r = -ENOENT;
	if (r < 0) {
		free(st.key_id);
		free(st.sealed);
		return r;
	}
	*ret_key_id = st.key_id;
	*ret_sealed = st.sealed;
	return 0;
}

/* --- audit (storage ABI 1.2) --------------------------------------------------- */

bool registry_supports_audit(const struct registry *reg)
{
	return TND_HAS_FIELD(reg->ops, struct tnd_storage_ops, audit_head_get) && reg->ops->audit_list &&
	       reg->ops->audit_head_get;
}

int registry_audit_list(struct registry *reg, const struct tnd_audit_query *query, tnd_audit_visit_fn *visit,
			void *userdata, struct tnd_error *err)
{
	if (!registry_supports_audit(reg))
		return -ENOTSUP;
	return reg->ops->audit_list(reg->ctx, query, visit, userdata, err);
}

int registry_audit_head(struct registry *reg, tnd_audit_head_visit_fn *visit, void *userdata, struct tnd_error *err)
{
	if (!registry_supports_audit(reg))
		return -ENOTSUP;
	return reg->ops->audit_head_get(reg->ctx, visit, userdata, err);
}

int registry_ping(struct registry *reg, struct tnd_error *err)
{
	if (!TND_HAS_FIELD(reg->ops, struct tnd_storage_ops, ping) || reg->ops->ping == NULL)
		return 0;
	return reg->ops->ping(reg->ctx, err);
}

int registry_maintain(struct registry *reg, struct tnd_error *err)
{
	if (!TND_HAS_FIELD(reg->ops, struct tnd_storage_ops, maintain) || reg->ops->maintain == NULL)
		return 0;
	return reg->ops->maintain(reg->ctx, tnd_now_ms(), err);
}

/* --- writing ------------------------------------------------------------------ */

void registry_txn_init(struct registry_txn *txn)
{
	memset(txn, 0, sizeof(*txn));
	txn->idempotency_index = -1;
	txn->audit_index = -1;
}

void registry_txn_clear(struct registry_txn *txn)
{
	for (size_t i = 0; i < txn->n; i++)
		free(txn->records[i]);
	for (size_t i = 0; i < txn->n_strings; i++)
		free(txn->strings[i]);
	free(txn->strings);
	free(txn->doc_id);
	json_decref((json_t *)txn->last_json);
	registry_txn_init(txn);
}

static const char *txn_keep(struct registry_txn *txn, char *owned)
{
	if (owned == NULL)
		return NULL;
	txn->strings = tnd_xrealloc(txn->strings, (txn->n_strings + 1) * sizeof(*txn->strings));
	txn->strings[txn->n_strings++] = owned;
	return owned;
}

static const char *txn_str(struct registry_txn *txn, const char *s)
{
	return txn_keep(txn, tnd_xstrdup(s));
}

static const char *txn_json(struct registry_txn *txn, const json_t *value)
{
	/* the head row and its version row carry the same manifest: dump it once */
	if (value != NULL && value == txn->last_json)
		return txn->last_json_text;
	/* held until the txn is cleared, so its address cannot be reused meanwhile */
	json_decref((json_t *)txn->last_json);
	txn->last_json = json_incref((json_t *)value);
	txn->last_json_text = txn_keep(txn, json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER));
	return txn->last_json_text;
}

static void txn_push(struct registry_txn *txn, uint32_t kind, int64_t expect_revision, void *record)
{
	if (txn->n >= REGISTRY_TXN_MAX_WRITES)
		abort(); /* a programming error: a mutation never writes this many rows */
	txn->records[txn->n] = record;
	txn->writes[txn->n].kind = kind;
	txn->writes[txn->n].expect_revision = expect_revision;
	txn->writes[txn->n].record = record;
	txn->n++;
}

void registry_txn_put_tenant(struct registry_txn *txn, const struct tenant_row *row, int64_t expect_revision)
{
	struct tnd_tenant_record *rec = tnd_xcalloc(1, sizeof(*rec));

	rec->size = sizeof(*rec);
	rec->id = txn_str(txn, row->id);
	rec->revision = row->revision;
	rec->version = row->version;
	rec->observed_version = row->observed_version;
	rec->phase = lifecycle_phase_name(row->phase);
	rec->state = lifecycle_state_name(row->state);
	rec->plan = txn_str(txn, row->plan);
	rec->isolation = txn_str(txn, row->isolation);
	rec->region = txn_str(txn, row->region);
	rec->labels_json = txn_json(txn, row->labels);
	rec->manifest_json = txn_json(txn, row->manifest);
	rec->status_json = txn_json(txn, row->status);
	rec->created_ms = row->created_ms;
	rec->updated_ms = row->updated_ms;
	txn_push(txn, expect_revision < 0 ? TND_WRITE_TENANT_INSERT : TND_WRITE_TENANT_UPDATE,
		 expect_revision < 0 ? 0 : expect_revision, rec);
	/* the head row goes first, whenever it is added: lineage, transitions,
	 * workflows and credentials of the mutation refer to it */
	if (txn->n > 1) {
		struct tnd_write w = txn->writes[txn->n - 1];
		void *r = txn->records[txn->n - 1];
		memmove(&txn->writes[1], &txn->writes[0], (txn->n - 1) * sizeof(txn->writes[0]));
		memmove(&txn->records[1], &txn->records[0], (txn->n - 1) * sizeof(txn->records[0]));
		txn->writes[0] = w;
		txn->records[0] = r;
		if (txn->idempotency_index >= 0)
			txn->idempotency_index++;
		if (txn->audit_index >= 0)
			txn->audit_index++;
	}
	free(txn->doc_id);
	txn->doc_id = tnd_xstrdup(row->id);
}

void registry_txn_add_version(struct registry_txn *txn, const char *id, int64_t version, const json_t *manifest,
			      const char *actor, const char *request_id, int64_t time_ms)
{
	struct tnd_version_record *rec = tnd_xcalloc(1, sizeof(*rec));

	rec->size = sizeof(*rec);
	rec->tenant_id = txn_str(txn, id);
	rec->version = version;
	rec->manifest_json = txn_json(txn, manifest);
	rec->actor = txn_str(txn, actor);
	rec->request_id = txn_str(txn, request_id);
	rec->time_ms = time_ms;
	txn_push(txn, TND_WRITE_VERSION_APPEND, 0, rec);
}

void registry_txn_add_transition(struct registry_txn *txn, const char *id, enum tnd_phase from, enum tnd_phase to,
				 int64_t version, const char *actor, const char *request_id, const char *reason,
				 int64_t time_ms)
{
	struct tnd_phase_record *rec = tnd_xcalloc(1, sizeof(*rec));

	rec->size = sizeof(*rec);
	rec->tenant_id = txn_str(txn, id);
	rec->from_phase = from == TND_PHASE_INVALID ? NULL : lifecycle_phase_name(from);
	rec->to_phase = lifecycle_phase_name(to);
	rec->version = version;
	rec->actor = txn_str(txn, actor);
	rec->request_id = txn_str(txn, request_id);
	rec->reason = txn_str(txn, reason);
	rec->time_ms = time_ms;
	txn_push(txn, TND_WRITE_PHASE_APPEND, 0, rec);

	/* every lifecycle transition is audited, whoever makes it; a tenant's
	 * birth in Draft is not a transition between phases, and the record of
	 * the request that created it (new state draft or active) says it all:
	 * one Ed25519 signature less on every create */
	if (from != TND_PHASE_INVALID) {
		char target[160];
		struct audit_event ev = {
			.time_ms = time_ms,
			.tenant_id = id,
			.actor = actor,
			.action = "tenant.transition",
			.target = target,
			.previous_state = rec->from_phase,
			.new_state = rec->to_phase,
			.outcome = AUDIT_OUTCOME_SUCCEEDED,
			.reason = reason,
			.request_id = request_id,
			.correlation_id = request_id,
		};
		snprintf(target, sizeof(target), "tenant/%s", id);
		registry_txn_add_audit(txn, &ev);
	}
}

void registry_txn_add_audit(struct registry_txn *txn, const struct audit_event *ev)
{
	struct tnd_audit_record *rec;

	if (!audit_enabled())
		return;
	rec = tnd_xcalloc(1, sizeof(*rec));
	rec->size = sizeof(*rec);
	rec->time_ms = ev->time_ms ? ev->time_ms : tnd_now_ms();
	rec->tenant_id = txn_str(txn, ev->tenant_id);
	rec->actor = txn_str(txn, ev->actor);
	rec->action = txn_str(txn, ev->action);
	rec->target = txn_str(txn, ev->target);
	rec->previous_state = txn_str(txn, ev->previous_state);
	rec->new_state = txn_str(txn, ev->new_state);
	rec->outcome = txn_str(txn, ev->outcome);
	rec->reason = txn_str(txn, ev->reason);
	rec->request_id = txn_str(txn, ev->request_id);
	rec->correlation_id = txn_str(txn, ev->correlation_id);
	if (txn->audit_index < 0)
		txn->audit_index = (int)txn->n;
	txn_push(txn, TND_WRITE_AUDIT, 0, rec);
}

void registry_txn_add_idempotency(struct registry_txn *txn, const char *key, const char *request_hash, int status,
				  const json_t *response, int64_t now_ms, int64_t ttl_ms)
{
	struct tnd_idempotency_record *rec = tnd_xcalloc(1, sizeof(*rec));

	rec->size = sizeof(*rec);
	rec->key = txn_str(txn, key);
	rec->request_hash = txn_str(txn, request_hash);
	rec->status = status;
	rec->response_json = txn_json(txn, response);
	rec->created_ms = now_ms;
	rec->expires_ms = now_ms + ttl_ms;
	txn->idempotency_index = (int)txn->n;
	txn_push(txn, TND_WRITE_IDEMPOTENCY_INSERT, 0, rec);
}

void registry_txn_put_workflow(struct registry_txn *txn, const struct workflow *wf, int64_t expect_revision)
{
	struct tnd_workflow_record *rec = tnd_xcalloc(1, sizeof(*rec));

	rec->size = sizeof(*rec);
	rec->id = txn_str(txn, wf->id);
	rec->revision = wf->revision;
	rec->tenant_id = txn_str(txn, wf->tenant_id);
	rec->kind = txn_str(txn, wf->kind);
	rec->target_version = wf->target_version;
	rec->state = workflow_state_name(wf->state);
	rec->step = wf->step;
	rec->attempts = wf->attempts;
	rec->next_attempt_ms = wf->next_attempt_ms;
	rec->document_json = txn_json(txn, wf->doc);
	rec->created_ms = wf->created_ms;
	rec->updated_ms = wf->updated_ms;
	txn_push(txn, expect_revision < 0 ? TND_WRITE_WORKFLOW_INSERT : TND_WRITE_WORKFLOW_UPDATE,
		 expect_revision < 0 ? 0 : expect_revision, rec);
}

void registry_txn_put_credential(struct registry_txn *txn, const char *tenant_id, const char *key_id,
				 const char *sealed, int64_t now_ms)
{
	struct tnd_credential_record *rec = tnd_xcalloc(1, sizeof(*rec));

	rec->size = sizeof(*rec);
	rec->tenant_id = txn_str(txn, tenant_id);
	rec->key_id = txn_str(txn, key_id);
	rec->ciphertext = txn_str(txn, sealed);
	rec->updated_ms = now_ms;
	txn_push(txn, TND_WRITE_CREDENTIAL_PUT, 0, rec);
}

void registry_txn_delete_credential(struct registry_txn *txn, const char *tenant_id)
{
	struct tnd_credential_record *rec = tnd_xcalloc(1, sizeof(*rec));

	rec->size = sizeof(*rec);
	rec->tenant_id = txn_str(txn, tenant_id);
	txn_push(txn, TND_WRITE_CREDENTIAL_DELETE, 0, rec);
}

int registry_commit(struct registry *reg, struct registry_txn *txn, size_t *ret_failed_index,
		    struct tnd_error *err)
{
	size_t failed = SIZE_MAX;
	int r;

	if (txn->doc_id)
		doc_cache_write_begin(reg->docs, txn->doc_id);
	r = reg->ops->commit(reg->ctx, txn->writes, txn->n, &failed, err);
	/* drop the cached document; the next read renders the new one (rendering
	 * here would cost every write a serialization that reads may never need) */
	if (txn->doc_id)
		doc_cache_write_end(reg->docs, txn->doc_id, 0, 0, NULL);
	if (r < 0 && ret_failed_index)
		*ret_failed_index = failed;
	txn->committed = r == 0;
	if (r == 0 && registry_txn_has_events(txn))
		events_committed(); /* wake long-polling replays */
	return r;
}

/* --- overrides (storage ABI 1.2) ------------------------------------------- */

bool registry_supports_overrides(const struct registry *reg)
{
	return TND_HAS_FIELD(reg->ops, struct tnd_storage_ops, override_list) && reg->ops->override_list;
}

int registry_override_list(struct registry *reg, const struct tnd_override_query *query,
			   tnd_override_visit_fn *visit, void *userdata, struct tnd_error *err)
{
	if (!registry_supports_overrides(reg)) {
		tnd_error_set(err, "the storage driver predates overrides (storage ABI 1.2)");
		return -ENOTSUP;
	}
	return reg->ops->override_list(reg->ctx, query, visit, userdata, err);
}

void registry_txn_add_override(struct registry_txn *txn, const struct tnd_override_record *from)
{
	struct tnd_override_record *rec = tnd_xcalloc(1, sizeof(*rec));

	rec->size = sizeof(*rec);
	rec->id = txn_str(txn, from->id);
	rec->tenant_id = txn_str(txn, from->tenant_id);
	rec->limits_json = txn_str(txn, from->limits_json);
	rec->actor = txn_str(txn, from->actor);
	rec->request_id = from->request_id ? txn_str(txn, from->request_id) : NULL;
	rec->reason = from->reason ? txn_str(txn, from->reason) : NULL;
	rec->created_ms = from->created_ms;
	rec->expires_ms = from->expires_ms;
	txn_push(txn, TND_WRITE_OVERRIDE_INSERT, 0, rec);
}

/* --- for the registry_*.c files of later write kinds (registry_internal.h) ---- */

const char *registry_txn_copy(struct registry_txn *txn, const char *s)
{
	return s ? txn_str(txn, s) : NULL;
}

void registry_txn_push(struct registry_txn *txn, uint32_t kind, void *record)
{
	txn_push(txn, kind, 0, record);
}

const struct tnd_storage_ops *registry_storage_ops(const struct registry *reg, void **ret_ctx)
{
	*ret_ctx = reg->ctx;
	return reg->ops;
}

/* --- the event outbox (storage ABI 1.2) ------------------------------------ */

bool registry_supports_events(const struct registry *reg)
{
	return TND_HAS_FIELD(reg->ops, struct tnd_storage_ops, event_list) && reg->ops->event_list;
}

int registry_event_list(struct registry *reg, const struct tnd_event_query *query, tnd_event_visit_fn *visit,
			void *userdata, struct tnd_error *err)
{
	if (!registry_supports_events(reg)) {
		tnd_error_set(err, "the storage driver predates the event outbox (storage ABI 1.2)");
		return -ENOTSUP;
	}
	return reg->ops->event_list(reg->ctx, query, visit, userdata, err);
}

void registry_txn_add_event(struct registry_txn *txn, const struct tnd_event_record *from)
{
	struct tnd_event_record *rec = tnd_xcalloc(1, sizeof(*rec));

	rec->size = sizeof(*rec);
	rec->id = txn_str(txn, from->id);
	rec->tenant_id = txn_str(txn, from->tenant_id);
	rec->type = txn_str(txn, from->type);
	rec->time_ms = from->time_ms;
	rec->event_json = txn_str(txn, from->event_json);
	txn_push(txn, TND_WRITE_EVENT_APPEND, 0, rec);
}

bool registry_txn_has_events(const struct registry_txn *txn)
{
	for (size_t i = 0; i < txn->n; i++)
		if (txn->writes[i].kind == TND_WRITE_EVENT_APPEND)
			return true;
	return false;
}
