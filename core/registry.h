/*
 * registry.h — the core's only door to the storage driver.
 *
 * Reads copy driver records into owned structs/JSON; writes are collected
 * in a struct registry_txn (one mutation = one txn = one storage commit, the
 * transaction rule of DESIGN.md §1).  Later issues add audit, outbox and
 * reconcile-work writes to the same txn builder.
 */
#ifndef TND_REGISTRY_H
#define TND_REGISTRY_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include <tenancyd/storage.h>

#include "lifecycle.h"

struct tnd_loaded_plugin;
struct registry;
struct doc_entry;
struct workflow;
struct audit_event;

/** An owned copy of a tenant's head row. */
struct tenant_row {
	char *id;
	int64_t revision;
	int64_t version;
	int64_t observed_version;
	enum tnd_phase phase;
	enum tnd_phase state;     /* desired, as a phase value */
	char *plan;
	char *isolation;
	char *region;             /* may be NULL */
	json_t *labels;
	json_t *manifest;
	json_t *status;
	int64_t created_ms;
	int64_t updated_ms;
};

/** @cache_entries: documents kept in memory (0: none; ignored for a shared driver). */
struct registry *registry_new(const struct tnd_loaded_plugin *storage, size_t cache_entries);
void registry_free(struct registry *reg);
bool registry_has_group_commit(const struct registry *reg);

void tenant_row_free(struct tenant_row *row);

/** The API representation of a tenant: manifest + server metadata + status. */
json_t *tenant_document(const struct tenant_row *row);

/**
 * The rendered document of tenant @id (what GET returns), from the document
 * cache when the driver is not shared, else freshly read.  0 and an entry to
 * release with doc_entry_unref(), or -ENOENT, or another negative errno.
 */
int registry_tenant_document(struct registry *reg, const char *id, const struct doc_entry **ret_entry,
			     struct tnd_error *err);
/** Document cache hits and misses (0/0 when the cache is off). */
void registry_cache_stats(struct registry *reg, uint64_t *ret_hits, uint64_t *ret_misses);

/** 0 and a new row, -ENOENT, or another negative errno (detail in @err). */
int registry_tenant_get(struct registry *reg, const char *id, struct tenant_row **ret_row,
			struct tnd_error *err);

/** Visit matching rows as owned tenant_rows (the visitor frees nothing; rows
 *  are freed after it returns).  Return non-zero from @visit to stop. */
typedef int registry_row_visit_fn(const struct tenant_row *row, void *userdata);
int registry_tenant_search(struct registry *reg, const struct tnd_tenant_query *query,
			   registry_row_visit_fn *visit, void *userdata, struct tnd_error *err);

/** Lineage as a JSON array of {version, manifest, actor, requestId, time}. */
int registry_versions(struct registry *reg, const char *id, int64_t after, uint32_t limit,
		      json_t **ret_items, struct tnd_error *err);
/** One version as {version, manifest, actor, requestId, time}; -ENOENT. */
int registry_version(struct registry *reg, const char *id, int64_t version, json_t **ret_item,
		     struct tnd_error *err);
/** Phase transitions as a JSON array of {seq, from, to, version, actor, requestId, reason, time}. */
int registry_transitions(struct registry *reg, const char *id, int64_t after, uint32_t limit,
			 json_t **ret_items, struct tnd_error *err);

/** A stored idempotent response: 0 and its fields, or -ENOENT. */
struct idempotent_response {
	char request_hash[65];
	int status;
	json_t *response;   /* as stored by the API layer */
};
int registry_idempotency_get(struct registry *reg, const char *key, struct idempotent_response *ret,
			     struct tnd_error *err);

/* --- reconcile (storage ABI 1.1) ----------------------------------------- */

/** True when the driver has the workflow and credential ops (ABI >= 1.1). */
bool registry_supports_reconcile(const struct registry *reg);
/** 0 and a new workflow, or -ENOENT. */
int registry_workflow_get(struct registry *reg, const char *id, struct workflow **ret_workflow,
			  struct tnd_error *err);
typedef int registry_workflow_visit_fn(const struct workflow *wf, void *userdata);
/** Visit workflows matching @query (owned copies, freed after each visit). */
int registry_workflow_list(struct registry *reg, const struct tnd_workflow_query *query,
			   registry_workflow_visit_fn *visit, void *userdata, struct tnd_error *err);
/** The same, handing the driver's records (borrowed) to @visit: for a caller
 *  that skips most rows and should not pay for copying and parsing them. */
int registry_workflow_list_records(struct registry *reg, const struct tnd_workflow_query *query,
				   tnd_workflow_visit_fn *visit, void *userdata, struct tnd_error *err);
/** An owned workflow from a driver record. */
struct workflow *workflow_from_record(const struct tnd_workflow_record *rec);
/** 0 and the sealed credential of @tenant_id (caller frees both), or -ENOENT. */
int registry_credential_get(struct registry *reg, const char *tenant_id, char **ret_key_id, char **ret_sealed,
			    struct tnd_error *err);

/* --- audit (storage ABI 1.2) --------------------------------------------- */

/** True when the driver has the audit write kind and read ops (ABI >= 1.2). */
bool registry_supports_audit(const struct registry *reg);
/** Visit audit records matching @query (driver records, borrowed). */
int registry_audit_list(struct registry *reg, const struct tnd_audit_query *query, tnd_audit_visit_fn *visit,
			void *userdata, struct tnd_error *err);
/** Visit the chain head; -ENOENT if no record was ever written. */
int registry_audit_head(struct registry *reg, tnd_audit_head_visit_fn *visit, void *userdata, struct tnd_error *err);

int registry_ping(struct registry *reg, struct tnd_error *err);
int registry_maintain(struct registry *reg, struct tnd_error *err);

/* --- writing -------------------------------------------------------------- */

#define REGISTRY_TXN_MAX_WRITES 32

/** A mutation being assembled.  Strings handed to txn_* are copied. */
struct registry_txn {
	struct tnd_write writes[REGISTRY_TXN_MAX_WRITES];
	size_t n;
	void *records[REGISTRY_TXN_MAX_WRITES];
	char **strings;       /* owned copies, freed by registry_txn_clear */
	size_t n_strings;
	/* what each write is, for telling conflicts apart after a failed commit */
	int idempotency_index;  /* -1 if none */
	int audit_index;        /* the first audit write, -1 if none */
	/* the tenant this txn writes, whose cached document it invalidates */
	char *doc_id;
	/* the last value serialized, so one manifest is dumped once per txn */
	const json_t *last_json;
	const char *last_json_text;
	/* set by a successful registry_commit() */
	bool committed;
};

void registry_txn_init(struct registry_txn *txn);
void registry_txn_clear(struct registry_txn *txn);

/** Insert (expect_revision < 0) or update (expect_revision = stored revision)
 *  the head row; it becomes the txn's first write whenever it is added. */
void registry_txn_put_tenant(struct registry_txn *txn, const struct tenant_row *row, int64_t expect_revision);
void registry_txn_add_version(struct registry_txn *txn, const char *id, int64_t version, const json_t *manifest,
			      const char *actor, const char *request_id, int64_t time_ms);
void registry_txn_add_transition(struct registry_txn *txn, const char *id, enum tnd_phase from, enum tnd_phase to,
				 int64_t version, const char *actor, const char *request_id, const char *reason,
				 int64_t time_ms);
void registry_txn_add_idempotency(struct registry_txn *txn, const char *key, const char *request_hash, int status,
				  const json_t *response, int64_t now_ms, int64_t ttl_ms);

/** Insert (expect_revision < 0) or update (expect_revision = stored revision) a workflow. */
void registry_txn_put_workflow(struct registry_txn *txn, const struct workflow *wf, int64_t expect_revision);
void registry_txn_put_credential(struct registry_txn *txn, const char *tenant_id, const char *key_id,
				 const char *sealed, int64_t now_ms);
void registry_txn_delete_credential(struct registry_txn *txn, const char *tenant_id);
/** Append the audit record of @ev (a no-op while auditing is off, see audit.h).
 *  Phase transitions add theirs by themselves. */
void registry_txn_add_audit(struct registry_txn *txn, const struct audit_event *ev);

/** Commit atomically and durably.  On failure *@ret_failed_index names the
 *  failing write (compare with txn->idempotency_index). */
int registry_commit(struct registry *reg, struct registry_txn *txn, size_t *ret_failed_index,
		    struct tnd_error *err);

/* --- overrides (storage ABI 1.2) ------------------------------------------- */

/** True when the driver stores overrides (ABI >= 1.2). */
bool registry_supports_overrides(const struct registry *reg);
/** Visit overrides matching @query (records borrowed); -ENOTSUP without driver support. */
int registry_override_list(struct registry *reg, const struct tnd_override_query *query,
			   tnd_override_visit_fn *visit, void *userdata, struct tnd_error *err);
/** Insert an override (its strings are copied) in the txn. */
void registry_txn_add_override(struct registry_txn *txn, const struct tnd_override_record *rec);

/* --- the event outbox (storage ABI 1.2) ------------------------------------ */

/** True when the driver keeps an event outbox (ABI >= 1.2 with event_list). */
bool registry_supports_events(const struct registry *reg);
/** Visit outbox events matching @query in seq order (records borrowed);
 *  -ENOTSUP without driver support. */
int registry_event_list(struct registry *reg, const struct tnd_event_query *query, tnd_event_visit_fn *visit,
			void *userdata, struct tnd_error *err);
/** Append an event (its strings are copied) to the txn; the driver assigns its seq. */
void registry_txn_add_event(struct registry_txn *txn, const struct tnd_event_record *rec);
/** True when the txn carries at least one event. */
bool registry_txn_has_events(const struct registry_txn *txn);
/* --- quota history (storage ABI 1.2: quotas) -------------------------------- */

/** True when the driver keeps quota history (the quota_list op). */
bool registry_supports_quotas(const struct registry *reg);
/** Visit quota history entries matching @query (records borrowed); -ENOTSUP without driver support. */
int registry_quota_list(struct registry *reg, const struct tnd_quota_query *query, tnd_quota_visit_fn *visit,
			void *userdata, struct tnd_error *err);
/** Append a quota history entry (its strings are copied) to the txn. */
void registry_txn_add_quota(struct registry_txn *txn, const struct tnd_quota_record *rec);

#endif /* TND_REGISTRY_H */
