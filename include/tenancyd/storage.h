/*
 * tenancyd/storage.h — the storage driver ops table (plugin kind STORAGE).
 *
 * The registry lives behind this table and nowhere else: the core never
 * opens a database itself.  A driver (the bundled `sqlite`, later a
 * PostgreSQL one) stores tenants, their lineage, phase transitions and
 * idempotency records, and applies one mutation as one atomic, durable
 * transaction.
 *
 * Writes: the core describes a mutation as an array of typed writes and
 * hands it to commit().  The driver applies all of them or none, in one
 * transaction, and returns only once the transaction is durable (unless the
 * operator lowered durability in the driver's settings).  Later minors
 * append write kinds (audit records, outbox events, reconcile work) so that
 * everything a mutation writes keeps landing in that one transaction; a
 * driver that meets a kind it does not know fails the commit with -ENOTSUP
 * and writes nothing.
 *
 * Concurrency: every op may be called from many threads at once.  commit()
 * calls are serializable.  A driver with TND_STORAGE_CAP_GROUP_COMMIT may
 * put several concurrent commits into one physical transaction (one fsync),
 * but each logical commit still succeeds or fails on its own.  A commit
 * that returned 0 is visible to every read started afterwards.
 *
 * Reads hand records to a visitor callback; every pointer in a record is
 * borrowed for the duration of the callback only.  A visitor returns 0 to
 * continue or non-zero to stop (the read then returns 0).
 *
 * History: ABI 1.0 — tenants, lineage, phase transitions, idempotency.
 * ABI 1.1 appended reconcile workflows and encrypted tenant credentials
 * (write kinds 6–9, the `unsettled` search filter, and the workflow and
 * credential read ops at the end of the ops table).  ABI 1.2 appended
 * time-limited administrative overrides (the block marked "ABI 1.2:
 * overrides": write kind 20, the override_list op); the signed,
 * hash-chained audit trail: write kind 10 (TND_WRITE_AUDIT), whose
 * seq, prevHash, hash and signature the driver fills in its serialized
 * commit path through the host's audit_hash(), audit_sign_records() and
 * audit_sign_head(), and the audit read ops (audit_list, audit_head_get);
 * API tokens and break-glass grants (the block marked "ABI 1.2: tokens
 * and grants": write kinds 30-33, the token_list and grant_list ops); and
 * the event outbox (the blocks marked "ABI 1.2: events": write kind 40,
 * the event_list op); and webhook subscriptions with their deliveries
 * (the blocks marked "ABI 1.2: webhooks": write kinds 60-63, the
 * webhook_list and delivery_list ops).  A
 * 1.2 core runs a 1.1 driver without them (it says so at start-up); a 1.1
 * core never sends the 1.2 kinds and never reads past credential_get.
 * The block marked "ABI 1.2: quotas" appends the history of a tenant's
 * effective quotas (write kind 50, the quota_list op).
 */
#ifndef TENANCYD_STORAGE_H
#define TENANCYD_STORAGE_H

#include <tenancyd/plugin.h>

#ifdef __cplusplus
extern "C" {
#endif

/** The driver groups concurrent commits into shared transactions. */
#define TND_STORAGE_CAP_GROUP_COMMIT (UINT64_C(1) << 0)
/** Several tenancyd instances may share this registry. */
#define TND_STORAGE_CAP_SHARED (UINT64_C(1) << 1)

/** The head row of one tenant: its newest version plus server-side state. */
struct tnd_tenant_record {
	uint32_t size;
	const char *id;            /**< immutable, never reused */
	int64_t revision;          /**< bumped by every write to this row (optimistic lock) */
	int64_t version;           /**< spec version, bumped by every accepted manifest change */
	int64_t observed_version;  /**< the version the data plane last reached */
	const char *phase;         /**< Draft, Active, Suspended, Archived, Deleted */
	const char *state;         /**< desired spec.state: draft, active, suspended, archived, deleted */
	const char *plan;
	const char *isolation;     /**< shared, dedicated, hybrid */
	const char *region;        /**< placement region, NULL if not placed */
	const char *labels_json;   /**< JSON object of string labels, "{}" if none */
	const char *manifest_json; /**< the normalized manifest of @version */
	const char *status_json;   /**< the status object */
	int64_t created_ms;
	int64_t updated_ms;
};

/** One entry of a tenant's lineage: a manifest version and who made it. */
struct tnd_version_record {
	uint32_t size;
	const char *tenant_id;
	int64_t version;
	const char *manifest_json;
	const char *actor;
	const char *request_id;
	int64_t time_ms;
};

/** One phase transition (Draft→Active, ...). */
struct tnd_phase_record {
	uint32_t size;
	const char *tenant_id;
	int64_t seq;               /**< assigned by the driver, increasing; ignored on write */
	const char *from_phase;    /**< NULL for the first phase of a tenant */
	const char *to_phase;
	int64_t version;           /**< the spec version that caused it */
	const char *actor;
	const char *request_id;
	const char *reason;        /**< may be NULL */
	int64_t time_ms;
};

/** A stored response to a request that carried an Idempotency-Key. */
struct tnd_idempotency_record {
	uint32_t size;
	const char *key;           /**< scoped by the core: "<actor>\n<Idempotency-Key>" */
	const char *request_hash;  /**< hex SHA-256 over method, path and body */
	int status;                /**< HTTP status of the stored response */
	const char *response_json; /**< the response as the core serialized it */
	int64_t created_ms;
	int64_t expires_ms;
};

/** What one element of a commit does.  Append-only. */
enum tnd_write_kind {
	/** record: tnd_tenant_record.  -EEXIST if the id was ever used. */
	TND_WRITE_TENANT_INSERT = 1,
	/** record: tnd_tenant_record.  -ENOENT if absent, -ESTALE unless the
	 *  stored revision equals expect_revision. */
	TND_WRITE_TENANT_UPDATE = 2,
	/** record: tnd_version_record.  -EEXIST if that version exists. */
	TND_WRITE_VERSION_APPEND = 3,
	/** record: tnd_phase_record. */
	TND_WRITE_PHASE_APPEND = 4,
	/** record: tnd_idempotency_record.  -EEXIST if an unexpired record
	 *  with that key exists (an expired one is replaced). */
	TND_WRITE_IDEMPOTENCY_INSERT = 5,
	/* --- ABI 1.1 --- */
	/** record: tnd_workflow_record.  -EEXIST if the id exists. */
	TND_WRITE_WORKFLOW_INSERT = 6,
	/** record: tnd_workflow_record.  -ENOENT if absent, -ESTALE unless the
	 *  stored revision equals expect_revision (record->revision is
	 *  expect_revision + 1, as for tenants).  A workflow's tenant_id is
	 *  fixed when it is inserted: another one is -EINVAL. */
	TND_WRITE_WORKFLOW_UPDATE = 7,
	/** record: tnd_credential_record.  Insert or replace the tenant's credentials. */
	TND_WRITE_CREDENTIAL_PUT = 8,
	/** record: tnd_credential_record (only tenant_id is read).  Absent is fine. */
	TND_WRITE_CREDENTIAL_DELETE = 9,
	/* --- ABI 1.2: overrides --- */
	/** record: tnd_override_record.  -EEXIST if the id exists.  (Numbered
	 *  apart from other 1.2 kinds, which were added alongside.) */
	TND_WRITE_OVERRIDE_INSERT = 20,
	/* --- ABI 1.2: audit --- */
	/** record: tnd_audit_record.  The driver assigns seq = head seq + 1
	 *  and prev_hash = head hash, in commit order, inside the transaction
	 *  that applies the write; asks the host's audit_hash() for its hash;
	 *  inserts the record and moves the chain head.  Before the
	 *  transaction commits, it has every record it appended signed with
	 *  one call of audit_sign_records() and the head with audit_sign_head()
	 *  (only the last head of a transaction is ever seen), so no unsigned
	 *  record or head becomes durable.  Any failure (hashing or signing
	 *  included) fails the commit; a chain whose head is missing or taken
	 *  fails with -EBADMSG. */
	TND_WRITE_AUDIT = 10,
	/* --- ABI 1.2: tokens and grants --- */
	/** record: tnd_token_record.  -EEXIST if the id or the hash exists. */
	TND_WRITE_TOKEN_INSERT = 30,
	/** record: tnd_token_record (only id, revoked_ms and revoked_by are
	 *  read).  -ENOENT if absent, -EALREADY if revoked before. */
	TND_WRITE_TOKEN_REVOKE = 31,
	/** record: tnd_grant_record, state "pending".  -EEXIST if the id exists. */
	TND_WRITE_GRANT_INSERT = 32,
	/** record: tnd_grant_record (only id, state, decided_by, decided_ms and
	 *  expires_ms are read).  -ENOENT if absent, -ESTALE unless the stored
	 *  state is "pending": a grant is decided once. */
	TND_WRITE_GRANT_DECIDE = 33,
	/* --- ABI 1.2: events --- */
	/** record: tnd_event_record.  The driver assigns its seq inside the
	 *  commit; -EEXIST if an event with that id exists.  (Kinds 40-49 are
	 *  kept for the outbox.) */
	TND_WRITE_EVENT_APPEND = 40,
	/* --- ABI 1.2: quotas --- */
	/** record: tnd_quota_record.  Appends one entry to a tenant's quota
	 *  history; the driver assigns seq.  (Numbered 50-59 apart from other
	 *  1.2 kinds, which were added alongside.) */
	TND_WRITE_QUOTA_APPEND = 50,
	/* --- ABI 1.2: webhooks --- */
	/** record: tnd_webhook_record.  -EEXIST if the id exists.  (Kinds
	 *  60-69 are kept for webhook subscriptions and deliveries.) */
	TND_WRITE_WEBHOOK_INSERT = 60,
	/** record: tnd_webhook_record (only id, state, cursor_seq and
	 *  updated_ms are read).  A NULL state keeps the stored one, and a
	 *  "deleted" subscription stays deleted; the cursor only moves
	 *  forward (the larger of the stored and the given one).  -ENOENT if
	 *  absent. */
	TND_WRITE_WEBHOOK_UPDATE = 61,
	/** record: tnd_delivery_record.  Insert, or replace the row with that id. */
	TND_WRITE_DELIVERY_PUT = 62,
	/** record: tnd_delivery_requeue.  Every "dead" delivery it selects
	 *  becomes "pending" with no attempts, due at once.  Selecting none is
	 *  fine. */
	TND_WRITE_DELIVERY_REQUEUE = 63,
};

/**
 * A reconcile workflow (ABI 1.1): the steps that bring one tenant to one
 * version.  The driver indexes the scalar fields and stores document_json
 * (steps, timings, errors, outputs) without looking inside.
 */
struct tnd_workflow_record {
	uint32_t size;
	const char *id;              /**< unique; sorts by creation time */
	int64_t revision;            /**< optimistic lock, bumped by every write */
	const char *tenant_id;       /**< the tenant need not exist any more (deleted) */
	const char *kind;            /**< activate, update, suspend, resume, archive, delete, repair */
	int64_t target_version;      /**< the tenant version this workflow realizes */
	const char *state;           /**< Pending, Running, Succeeded, Failed, Superseded */
	int64_t step;                /**< index of the next step to run: the checkpoint */
	int64_t attempts;            /**< failed attempts of that step so far */
	int64_t next_attempt_ms;     /**< do not run before this time */
	const char *document_json;   /**< the core's JSON object, opaque to the driver */
	int64_t created_ms;
	int64_t updated_ms;
};

/** A tenant's data-plane credentials, encrypted by the core (ABI 1.1). */
struct tnd_credential_record {
	uint32_t size;
	const char *tenant_id;
	const char *key_id;          /**< which key encrypted it (rotation) */
	const char *ciphertext;      /**< base64url of nonce || AES-256-GCM ciphertext || tag */
	int64_t updated_ms;
};

/**
 * A time-limited administrative override (ABI 1.2), e.g. of a tenant's
 * rate limits.  The driver indexes tenant and expiry and stores
 * limits_json (the core's JSON object) without looking inside.  Overrides
 * are never updated: a newer one supersedes, and expired ones stay as
 * history.
 */
struct tnd_override_record {
	uint32_t size;
	const char *id;              /**< unique; sorts by creation time */
	const char *tenant_id;       /**< the tenant need not exist */
	const char *limits_json;     /**< the core's JSON object, opaque to the driver */
	const char *actor;
	const char *request_id;      /**< may be NULL */
	const char *reason;          /**< may be NULL */
	int64_t created_ms;
	int64_t expires_ms;
};

/** Override filter (ABI 1.2).  NULL/0 fields do not filter; ordered by id. */
struct tnd_override_query {
	uint32_t size;
	const char *tenant_id;
	int64_t active_at_ms;            /**< only overrides with expires_ms > this */
	const char *after_id;            /**< exclusive cursor */
	uint32_t limit;                  /**< 0: driver default 100, at most 1000 */
};

/**
 * One audit record (ABI 1.2, DESIGN §8).  On write the core fills time_ms
 * and the descriptive fields; seq, prev_hash, hash, signature and key_id are
 * ignored (the driver obtains them from the host).  On read every field
 * is set; optional ones are NULL.
 */
struct tnd_audit_record {
	uint32_t size;
	int64_t seq;                 /**< 1, 2, 3, ... in commit order, no gaps */
	int64_t time_ms;
	const char *tenant_id;       /**< NULL when the action concerns no tenant */
	const char *actor;
	const char *action;          /**< "tenant.apply", "tenant.transition", "workflow.step", ... */
	const char *target;          /**< what was acted on, e.g. "/v1/tenants/acme" or "workflow/<id>" */
	const char *previous_state;  /**< may be NULL */
	const char *new_state;       /**< may be NULL */
	const char *outcome;         /**< succeeded, rejected, denied, failed */
	const char *reason;          /**< may be NULL: why (problem type, step error, ...) */
	const char *request_id;      /**< may be NULL */
	const char *correlation_id;  /**< may be NULL */
	const char *key_id;          /**< the signing key's id */
	const char *prev_hash;       /**< hex SHA-256 of the previous record, 64 zeros for seq 1 */
	const char *hash;            /**< hex SHA-256 of the record's canonical form */
	const char *signature;       /**< base64 Ed25519 signature of the 32 hash bytes */
};

/** The chain head: the newest record's seq and hash, signed apart (ABI 1.2). */
struct tnd_audit_head {
	uint32_t size;
	int64_t seq;
	const char *hash;
	const char *key_id;
	const char *signature;       /**< base64 Ed25519 over the head message (docs/audit.md) */
};

/** What the host's audit_hash() hands back (ABI 1.2). */
struct tnd_audit_digest {
	char hash[65];
	char key_id[17];
};

/**
 * An API bearer token made through the API (ABI 1.2).  Only the SHA-256 of
 * the secret is stored; the secret itself never reaches the driver.  Rows
 * are inserted once and revoked once, never deleted: revoked and expired
 * ones stay as history.
 */
struct tnd_token_record {
	uint32_t size;
	const char *id;              /**< unique; sorts by creation time */
	const char *name;
	const char *role;            /**< admin, operator, auditor, viewer, tenant */
	const char *tenant_id;       /**< role tenant: the only tenant it reads; else NULL */
	const char *hash;            /**< lower-case hex SHA-256 of the secret; unique */
	const char *created_by;
	const char *request_id;      /**< may be NULL */
	int64_t created_ms;
	int64_t expires_ms;          /**< 0: never */
	int64_t revoked_ms;          /**< 0: not revoked */
	const char *revoked_by;      /**< NULL unless revoked */
};

/** Token filter (ABI 1.2); ordered by id. */
struct tnd_token_query {
	uint32_t size;
	const char *id;                  /**< exactly this one */
	const char *after_id;            /**< exclusive cursor */
	uint32_t limit;                  /**< 0: driver default 100, at most 1000 */
};

/**
 * A break-glass grant (ABI 1.2): a request by one principal for a
 * time-limited role, decided once by another.  The driver stores the
 * state as given; whether an approved grant is still in force is the
 * core's comparison of expires_ms with the clock.
 */
struct tnd_grant_record {
	uint32_t size;
	const char *id;              /**< unique; sorts by creation time */
	const char *subject;         /**< the core's key of the requesting token */
	const char *requester;       /**< its name, for people */
	const char *role;            /**< the role granted: "admin" */
	const char *reason;
	int64_t ttl_s;               /**< how long an approval lasts */
	const char *state;           /**< pending, approved, denied */
	const char *request_id;      /**< of the request; may be NULL */
	int64_t requested_ms;
	const char *decided_by;      /**< NULL while pending */
	int64_t decided_ms;          /**< 0 while pending */
	int64_t expires_ms;          /**< approved: decided_ms + ttl; else 0 */
};

/** Grant filter (ABI 1.2); ordered by id. */
struct tnd_grant_query {
	uint32_t size;
	const char *id;                  /**< exactly this one */
	const char *state;               /**< exact stored state */
	const char *after_id;            /**< exclusive cursor */
	uint32_t limit;                  /**< 0: driver default 100, at most 1000 */
};

/* --- ABI 1.2: events --- */

/**
 * One event of the outbox (ABI 1.2): a CloudEvent the core serialized,
 * written in the transaction of the mutation it reports.  The driver
 * assigns @seq while it applies the commit, in the serialized write path,
 * so sequences increase strictly in commit order across every writer of
 * the registry and a failed commit consumes none that a reader ever sees.
 * event_json lacks the `sequence` attribute: the core fills it in from
 * @seq when it reads the event back.
 */
struct tnd_event_record {
	uint32_t size;
	int64_t seq;                 /**< assigned by the driver, > 0; ignored on write */
	const char *id;              /**< the CloudEvent id, unique */
	const char *tenant_id;       /**< the CloudEvent subject */
	const char *type;            /**< e.g. "tenancy.tenant.created" */
	int64_t time_ms;
	const char *event_json;      /**< the CloudEvent as a JSON object, opaque to the driver */
};

/**
 * Event filter (ABI 1.2).  NULL fields do not filter; results in seq
 * order, only seq > after_seq: a reader (the API's replay, a notifier
 * dispatcher) pages through the outbox by passing the last seq it saw.
 */
struct tnd_event_query {
	uint32_t size;
	int64_t after_seq;               /**< exclusive cursor; 0: from the start */
	uint32_t limit;                  /**< 0: driver default 100, at most 1000 */
	const char *tenant_id;
	const char *type;                /**< exact type */
};

/**
 * One entry of a tenant's effective-quota history (ABI 1.2): the quotas in
 * force from @time_ms on, written in the transaction of the change that
 * made them (an accepted manifest version or an administrative override).
 * The driver stores quotas_json (the core's JSON object) without looking
 * inside.  Entries are only appended.
 */
struct tnd_quota_record {
	uint32_t size;
	const char *tenant_id;
	int64_t seq;                 /**< assigned by the driver, increasing per tenant; ignored on write */
	int64_t version;             /**< the tenant's spec version at the time */
	const char *quotas_json;     /**< {"computeUnits":..,"storageGb":..,...} */
	const char *source;          /**< what changed them: "manifest", "plan", "override" */
	const char *actor;
	const char *request_id;      /**< may be NULL */
	int64_t time_ms;
};

/** Quota history filter (ABI 1.2).  tenant_id is required. */
struct tnd_quota_query {
	uint32_t size;
	const char *tenant_id;
	int64_t after_seq;               /**< ascending: only seq > this; descending: only seq < this (0: no bound) */
	int newest_first;                /**< order by seq descending */
	uint32_t limit;                  /**< 0: driver default 100, at most 1000 */
};

/* --- ABI 1.2: webhooks --- */

/**
 * A webhook subscription (ABI 1.2).  The secret is sealed by the core;
 * the driver never sees it in the clear.  Rows are never deleted: a
 * deleted subscription keeps its row (state "deleted") for the history of
 * its deliveries.
 */
struct tnd_webhook_record {
	uint32_t size;
	const char *id;              /**< unique; sorts by creation time */
	const char *url;
	const char *types_json;      /**< JSON array of event types, NULL: every type */
	const char *tenant_id;       /**< only this tenant's events; NULL: every tenant */
	const char *key_id;          /**< which key sealed the secret */
	const char *secret_sealed;   /**< the whsec_ secret, sealed by the core */
	const char *state;           /**< active, disabled, deleted */
	int64_t cursor_seq;          /**< outbox seq up to which deliveries were created */
	const char *created_by;
	const char *request_id;      /**< may be NULL */
	int64_t created_ms;
	int64_t updated_ms;
};

/** Subscription filter (ABI 1.2); ordered by id. */
struct tnd_webhook_query {
	uint32_t size;
	const char *id;                  /**< exactly this one */
	const char *state;               /**< exact state; NULL: all but deleted */
	const char *after_id;            /**< exclusive cursor */
	uint32_t limit;                  /**< 0: driver default 100, at most 1000 */
};

/** One event to deliver to one subscription, and how that went (ABI 1.2). */
struct tnd_delivery_record {
	uint32_t size;
	const char *id;              /**< unique; sorts by event seq */
	const char *subscription_id;
	int64_t event_seq;
	const char *event_id;        /**< the CloudEvent id (the webhook-id) */
	const char *event_type;
	const char *state;           /**< pending, delivered, failed, dead */
	int64_t attempts;            /**< attempts made so far */
	int64_t next_attempt_ms;     /**< pending: not before this time */
	int64_t last_status;         /**< HTTP status of the last attempt, 0: none */
	const char *last_error;      /**< may be NULL */
	int64_t latency_ms;          /**< of the last attempt */
	int64_t created_ms;
	int64_t updated_ms;
	const char *attempts_json;   /**< the core's JSON array of the latest attempts (opaque); may be NULL */
};

/** Delivery filter (ABI 1.2).  NULL/0 fields do not filter; ordered by id. */
struct tnd_delivery_query {
	uint32_t size;
	const char *id;                  /**< exactly this one */
	const char *subscription_id;
	const char *state;               /**< exact state */
	int64_t due_before_ms;           /**< only next_attempt_ms <= this (0: no limit) */
	const char *after_id;            /**< exclusive cursor */
	uint32_t limit;                  /**< 0: driver default 100, at most 1000 */
};

/** What TND_WRITE_DELIVERY_REQUEUE selects among dead deliveries (ABI 1.2). */
struct tnd_delivery_requeue {
	uint32_t size;
	const char *id;                  /**< exactly this one; NULL: any */
	const char *subscription_id;     /**< NULL: any */
	int64_t from_ms;                 /**< only created_ms >= this (0: no bound) */
	int64_t until_ms;                /**< only created_ms < this (0: no bound) */
	int64_t now_ms;                  /**< the new next_attempt_ms and updated_ms */
};

struct tnd_write {
	uint32_t kind;            /**< enum tnd_write_kind */
	int64_t expect_revision;  /**< TND_WRITE_TENANT_UPDATE and TND_WRITE_WORKFLOW_UPDATE only */
	const void *record;       /**< the kind's record struct, borrowed */
};

/** Search filter.  NULL/0 fields do not filter.  Results are ordered by id. */
struct tnd_tenant_query {
	uint32_t size;
	const char *phase;
	const char *isolation;
	const char *region;
	const char *plan;
	const char *const *label_keys;   /**< every label must match exactly */
	const char *const *label_values;
	size_t n_labels;
	const char *after_id;            /**< exclusive cursor: only ids > after_id */
	uint32_t limit;                  /**< at most this many rows (0: driver default 100) */
	int include_deleted;             /**< tombstones are skipped unless set or phase == "Deleted" */
	/* --- ABI 1.1 (read only if the query's size covers it) --- */
	int unsettled;                   /**< only tenants whose observed_version != version
					      or whose phase differs from the desired state */
};

/** Workflow filter (ABI 1.1).  NULL/0 fields do not filter; ordered by id. */
struct tnd_workflow_query {
	uint32_t size;
	const char *tenant_id;
	const char *state;               /**< exact state */
	int active;                      /**< only Pending or Running */
	int64_t due_before_ms;           /**< with active: only next_attempt_ms <= this (0: no limit) */
	const char *after_id;            /**< exclusive cursor */
	uint32_t limit;                  /**< 0: driver default 100, at most 1000 */
};

/** Audit search (ABI 1.2).  NULL/0 fields do not filter; ordered by seq. */
struct tnd_audit_query {
	uint32_t size;
	const char *tenant_id;
	const char *actor;
	const char *action;
	const char *outcome;
	int64_t after_ms;                /**< only time_ms >= this (0: no bound) */
	int64_t until_ms;                /**< only time_ms < this (0: no bound) */
	int64_t after_seq;               /**< exclusive cursor */
	uint32_t limit;                  /**< 0: driver default 100, at most 1000 */
};

typedef int tnd_tenant_visit_fn(const struct tnd_tenant_record *rec, void *userdata);
typedef int tnd_version_visit_fn(const struct tnd_version_record *rec, void *userdata);
typedef int tnd_phase_visit_fn(const struct tnd_phase_record *rec, void *userdata);
typedef int tnd_idempotency_visit_fn(const struct tnd_idempotency_record *rec, void *userdata);
typedef int tnd_workflow_visit_fn(const struct tnd_workflow_record *rec, void *userdata);
typedef int tnd_credential_visit_fn(const struct tnd_credential_record *rec, void *userdata);
typedef int tnd_override_visit_fn(const struct tnd_override_record *rec, void *userdata);
typedef int tnd_audit_visit_fn(const struct tnd_audit_record *rec, void *userdata);
typedef int tnd_audit_head_visit_fn(const struct tnd_audit_head *head, void *userdata);
typedef int tnd_token_visit_fn(const struct tnd_token_record *rec, void *userdata);
typedef int tnd_grant_visit_fn(const struct tnd_grant_record *rec, void *userdata);
typedef int tnd_event_visit_fn(const struct tnd_event_record *rec, void *userdata);
typedef int tnd_quota_visit_fn(const struct tnd_quota_record *rec, void *userdata);
typedef int tnd_webhook_visit_fn(const struct tnd_webhook_record *rec, void *userdata);
typedef int tnd_delivery_visit_fn(const struct tnd_delivery_record *rec, void *userdata);

/** Apply @writes atomically and durably.  On failure nothing is written and
 *  *@ret_failed_index (if not NULL) names the write that failed. */
typedef int tnd_storage_commit_fn(void *ctx, const struct tnd_write *writes, size_t n_writes,
				  size_t *ret_failed_index, struct tnd_error *err);
/** Visit the head row of tenant @id.  -ENOENT if there is none. */
typedef int tnd_storage_tenant_get_fn(void *ctx, const char *id, tnd_tenant_visit_fn *visit,
				      void *userdata, struct tnd_error *err);
/** Visit tenants matching @query in id order. */
typedef int tnd_storage_tenant_search_fn(void *ctx, const struct tnd_tenant_query *query,
					 tnd_tenant_visit_fn *visit, void *userdata,
					 struct tnd_error *err);
/** Visit versions of @tenant_id greater than @after_version, ascending, at most @limit. */
typedef int tnd_storage_version_list_fn(void *ctx, const char *tenant_id, int64_t after_version,
					uint32_t limit, tnd_version_visit_fn *visit, void *userdata,
					struct tnd_error *err);
/** Visit one version.  -ENOENT if there is none. */
typedef int tnd_storage_version_get_fn(void *ctx, const char *tenant_id, int64_t version,
				       tnd_version_visit_fn *visit, void *userdata,
				       struct tnd_error *err);
/** Visit phase transitions of @tenant_id with seq > @after_seq, ascending. */
typedef int tnd_storage_phase_list_fn(void *ctx, const char *tenant_id, int64_t after_seq,
				      uint32_t limit, tnd_phase_visit_fn *visit, void *userdata,
				      struct tnd_error *err);
/** Visit the unexpired idempotency record @key at @now_ms.  -ENOENT if none. */
typedef int tnd_storage_idempotency_get_fn(void *ctx, const char *key, int64_t now_ms,
					   tnd_idempotency_visit_fn *visit, void *userdata,
					   struct tnd_error *err);
/** Housekeeping: drop idempotency records expired at @now_ms, checkpoint, ... */
typedef int tnd_storage_maintain_fn(void *ctx, int64_t now_ms, struct tnd_error *err);
/** Cheap liveness probe for /readyz: 0 when the registry answers. */
typedef int tnd_storage_ping_fn(void *ctx, struct tnd_error *err);
/** Visit workflow @id.  -ENOENT if there is none.  (ABI 1.1) */
typedef int tnd_storage_workflow_get_fn(void *ctx, const char *id, tnd_workflow_visit_fn *visit, void *userdata,
					struct tnd_error *err);
/** Visit workflows matching @query in id order.  (ABI 1.1) */
typedef int tnd_storage_workflow_list_fn(void *ctx, const struct tnd_workflow_query *query,
					 tnd_workflow_visit_fn *visit, void *userdata, struct tnd_error *err);
/** Visit the credentials of @tenant_id.  -ENOENT if there are none.  (ABI 1.1) */
typedef int tnd_storage_credential_get_fn(void *ctx, const char *tenant_id, tnd_credential_visit_fn *visit,
					  void *userdata, struct tnd_error *err);
/** Visit overrides matching @query in id order.  (ABI 1.2) */
typedef int tnd_storage_override_list_fn(void *ctx, const struct tnd_override_query *query,
					 tnd_override_visit_fn *visit, void *userdata, struct tnd_error *err);
/** Visit audit records matching @query in seq order.  (ABI 1.2) */
typedef int tnd_storage_audit_list_fn(void *ctx, const struct tnd_audit_query *query, tnd_audit_visit_fn *visit,
				      void *userdata, struct tnd_error *err);
/** Visit the chain head.  -ENOENT if no record was ever written.  (ABI 1.2) */
typedef int tnd_storage_audit_head_get_fn(void *ctx, tnd_audit_head_visit_fn *visit, void *userdata,
					  struct tnd_error *err);

/** Visit tokens matching @query in id order, revoked ones included.  (ABI 1.2) */
typedef int tnd_storage_token_list_fn(void *ctx, const struct tnd_token_query *query, tnd_token_visit_fn *visit,
				      void *userdata, struct tnd_error *err);
/** Visit break-glass grants matching @query in id order.  (ABI 1.2) */
typedef int tnd_storage_grant_list_fn(void *ctx, const struct tnd_grant_query *query, tnd_grant_visit_fn *visit,
				      void *userdata, struct tnd_error *err);

/** Visit outbox events matching @query in seq order.  (ABI 1.2) */
typedef int tnd_storage_event_list_fn(void *ctx, const struct tnd_event_query *query,
				      tnd_event_visit_fn *visit, void *userdata, struct tnd_error *err);

/* --- ABI 1.2: webhooks --- */
/** Visit webhook subscriptions matching @query in id order.  (ABI 1.2) */
typedef int tnd_storage_webhook_list_fn(void *ctx, const struct tnd_webhook_query *query,
					tnd_webhook_visit_fn *visit, void *userdata, struct tnd_error *err);
/** Visit deliveries matching @query in id order.  (ABI 1.2) */
typedef int tnd_storage_delivery_list_fn(void *ctx, const struct tnd_delivery_query *query,
					 tnd_delivery_visit_fn *visit, void *userdata, struct tnd_error *err);

/**
 * The ops table.  Mandatory in v1: commit, tenant_get, tenant_search,
 * version_list, version_get, phase_list, idempotency_get.  Optional:
 * maintain, ping.  ABI 1.1 appends workflow_get, workflow_list and
 * credential_get; a driver built for 1.0 lacks them and the core then runs
 * without the reconcile engine (it says so at start-up).  ABI 1.2 appends
 * override_list (without it POST /v1/overrides answers 501), audit_list
 * and audit_head_get (a driver without them runs without an audit trail),
 * token_list and grant_list (without them only the tokens file
 * authenticates and /v1/tokens and /v1/breakglass answer 501), and
 * event_list (without it the core writes no events and GET /v1/events
 * answers 501), and webhook_list and delivery_list (without them there is
 * no dispatcher and /v1/webhooks and /v1/deliveries answer 501).
 * The "ABI 1.2: quotas" block appends quota_list; without it no quota
 * history is kept and GET /v1/tenants/{id}/quotas shows an empty history.
 */
/** Visit the quota history entries matching @query in seq order.  (ABI 1.2: quotas) */
typedef int tnd_storage_quota_list_fn(void *ctx, const struct tnd_quota_query *query, tnd_quota_visit_fn *visit,
				      void *userdata, struct tnd_error *err);

struct tnd_storage_ops {
	uint32_t size;
	tnd_storage_commit_fn *commit;
	tnd_storage_tenant_get_fn *tenant_get;
	tnd_storage_tenant_search_fn *tenant_search;
	tnd_storage_version_list_fn *version_list;
	tnd_storage_version_get_fn *version_get;
	tnd_storage_phase_list_fn *phase_list;
	tnd_storage_idempotency_get_fn *idempotency_get;
	tnd_storage_maintain_fn *maintain;
	tnd_storage_ping_fn *ping;
	/* --- ABI 1.1 --- */
	tnd_storage_workflow_get_fn *workflow_get;
	tnd_storage_workflow_list_fn *workflow_list;
	tnd_storage_credential_get_fn *credential_get;
	/* --- ABI 1.2: overrides --- */
	tnd_storage_override_list_fn *override_list;
	/* --- ABI 1.2: audit --- */
	tnd_storage_audit_list_fn *audit_list;
	tnd_storage_audit_head_get_fn *audit_head_get;
	/* --- ABI 1.2: tokens and grants --- */
	tnd_storage_token_list_fn *token_list;
	tnd_storage_grant_list_fn *grant_list;
	/* --- ABI 1.2: events --- */
	tnd_storage_event_list_fn *event_list;
	/* --- ABI 1.2: quotas --- */
	tnd_storage_quota_list_fn *quota_list;
	/* --- ABI 1.2: webhooks --- */
	tnd_storage_webhook_list_fn *webhook_list;
	tnd_storage_delivery_list_fn *delivery_list;
};

#ifdef __cplusplus
}
#endif

#endif /* TENANCYD_STORAGE_H */
