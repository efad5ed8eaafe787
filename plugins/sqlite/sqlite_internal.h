/*
 * sqlite_internal.h — what the files of the sqlite storage plugin share:
 * the plugin context and its settings, connections with their prepared
 * statement caches, the read connection pool, the group commit queue, and
 * each file's entry points.  Nothing declared here leaves sqlite.so: the
 * plugin is built with -fvisibility=hidden and exports only tnd_plugin_v1.
 */
#ifndef TND_SQLITE_INTERNAL_H
#define TND_SQLITE_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include <tenancyd/host.h>
#include <tenancyd/storage.h>

/* Read limits shared by every list op (header: "0: driver default 100"). */
#define STORE_LIMIT_DEFAULT 100u
#define STORE_LIMIT_MAX 1000u
/* Label filters in one search; far above what an API query carries. */
#define STORE_SEARCH_LABELS_MAX 32u

/* --- settings (sqlite_plugin.c) ------------------------------------------------- */

struct store_settings {
	char *path;                /* database file; relative paths already joined to state_dir */
	int synchronous;           /* PRAGMA synchronous level: 1 NORMAL, 2 FULL, 3 EXTRA */
	const char *synchronous_name;
	int64_t busy_timeout_ms;
	uint32_t group_commit_max; /* logical commits per physical transaction */
	uint32_t readers;          /* read connection pool size */
};

/* --- connections (sqlite_conn.c) ------------------------------------------------- */

#define STORE_STMT_CACHE_SLOTS 48

struct store_stmt_slot {
	char *sql;                 /* owned copy, the cache key */
	const char *origin;        /* the static text it was asked for by, or NULL */
	uint64_t hash;
	sqlite3_stmt *stmt;
	uint64_t last_used;
};

/* One SQLite connection, used by one thread at a time (SQLITE_OPEN_NOMUTEX),
 * with its prepared statements kept across calls. */
struct store_conn {
	sqlite3 *db;
	uint64_t use_clock;
	bool audit_head_pending;   /* writer: records and head await their signatures (sqlite_write_audit.c) */
	int64_t audit_unsigned_from; /* writer: the first seq this transaction appended */
	struct store_stmt_slot slots[STORE_STMT_CACHE_SLOTS];
};

/* Read connections handed out one per read op. */
struct store_pool {
	pthread_mutex_t lock;
	pthread_cond_t available;
	struct store_conn **all;
	struct store_conn **idle;
	size_t n_all;
	size_t n_idle;
};

/** Map a SQLite result code to a negative errno. */
int store_errno(int rc);
/** Fill @err with "@what: <sqlite message>" for @rc on @db and return store_errno(@rc). */
int store_fail(struct tnd_error *err, sqlite3 *db, int rc, const char *what);

/** Open a connection configured as writer (creates the file) or reader (query_only). */
int store_conn_open(const struct store_settings *settings, bool writer, struct store_conn **ret_conn,
		    struct tnd_error *err);
void store_conn_close(struct store_conn *conn);
/**
 * A prepared statement for @sql from @conn's cache, bindings cleared.  Hand
 * it back with store_stmt_done() (resets it, which ends its read snapshot).
 */
int store_conn_prepare(struct store_conn *conn, const char *sql, sqlite3_stmt **ret_stmt,
		       struct tnd_error *err);
/**
 * store_conn_prepare() for @sql that lives as long as @conn (a literal or
 * a static array): found by its address, without hashing the text.  The
 * writer's path, where every statement is static and the lookup ran
 * once per row.
 */
int store_conn_prepare_static(struct store_conn *conn, const char *sql, sqlite3_stmt **ret_stmt,
			      struct tnd_error *err);
void store_stmt_done(sqlite3_stmt *stmt);
/** Run one cached statement that returns no rows ("BEGIN", "SAVEPOINT x", ...);
 *  @sql must be static, as for store_conn_prepare_static(). */
int store_conn_run(struct store_conn *conn, const char *sql, struct tnd_error *err);

int store_pool_open(struct store_pool *pool, const struct store_settings *settings,
		    struct tnd_error *err);
/** Blocks until a read connection is idle. */
struct store_conn *store_pool_acquire(struct store_pool *pool);
void store_pool_release(struct store_pool *pool, struct store_conn *conn);
/** Wait until every connection is back, then close them all. */
void store_pool_close(struct store_pool *pool);

/* --- WAL write coalescing (sqlite_walbuf.c) ------------------------------------ */

/* The VFS the writer uses when every commit syncs the WAL (FULL, EXTRA). */
#define STORE_WALBUF_VFS "tenancyd-walbuf"

/** Register the coalescing VFS (counted: one call per open store). */
int store_walbuf_acquire(struct tnd_error *err);
/** Undo one store_walbuf_acquire(); the last one unregisters the VFS. */
void store_walbuf_release(void);

/* --- schema (sqlite_schema.c) ---------------------------------------------------- */

/** The newest schema version this plugin knows. */
int store_schema_latest(void);
/** Bring the database behind @writer to the newest schema; refuse newer ones. */
int store_schema_migrate(const struct tnd_host *host, struct store_conn *writer, struct tnd_error *err);

/* --- writes (sqlite_write.c) ------------------------------------------------------ */

/* Internal write kind of maintain(): never accepted from the core (the
 * public kinds are small integers and unknown ones fail with -ENOTSUP). */
#define STORE_WRITE_PURGE_IDEMPOTENCY 0x7fff0001u

struct store_label {
	const char *key;           /* point into the prepared write's label block */
	const char *value;
};

/* One write after validation in the caller's thread, so the writer (the
 * group commit leader) only runs SQL. */
struct store_prepared_write {
	uint32_t kind;
	int64_t expect_revision;
	const void *record;        /* borrowed from the caller, who waits for the result */
	struct store_label *labels; /* TENANT_* only; owned */
	size_t n_labels;
	int64_t purge_before_ms;   /* STORE_WRITE_PURGE_IDEMPOTENCY only */
};

/**
 * Validate @writes and extract what the writer needs (labels).  -ENOTSUP for
 * an unknown kind, -EINVAL for a malformed record; *@ret_failed_index names it.
 */
int store_writes_prepare(const struct tnd_host *host, const struct tnd_write *writes, size_t n_writes,
			 struct store_prepared_write **ret_prepared, size_t *ret_failed_index,
			 struct tnd_error *err);
void store_writes_free(struct store_prepared_write *prepared, size_t n_writes);
/**
 * Parse @labels_json (a JSON object of strings) into @pw->labels, one owned
 * block (free it); -EINVAL if it is anything else.
 */
int store_labels_parse(const struct tnd_host *host, const char *labels_json, struct store_prepared_write *pw,
		       struct tnd_error *err);
/** Apply one write on the writer inside the current transaction. */
int store_write_apply(const struct tnd_host *host, struct store_conn *writer,
		      const struct store_prepared_write *write, struct tnd_error *err);

/* The size of a record up to and including @last: a core built against
 * the ABI that defined @last fills at least this much; a newer core may
 * append fields the driver ignores. */
#define STORE_RECORD_SIZE(type, last) (offsetof(type, last) + sizeof(((type *)0)->last))

/** Not NULL and not empty. */
bool store_has_text(const char *s);
/** -EINVAL unless @text is one JSON object's text (a cheap check, no parse). */
int store_check_json_object(const char *text, const char *field, struct tnd_error *err);
/** Bind @text (SQLITE_STATIC: the committing caller owns it), or NULL. */
void store_bind_text(sqlite3_stmt *stmt, int index, const char *text);
/** Step a statement that returns no rows and hand it back to the cache. */
int store_step_done(struct store_conn *writer, sqlite3_stmt *stmt, const char *what, struct tnd_error *err);

/* --- workflow and credential writes (sqlite_write_reconcile.c) --------------------- */

/** Validate a write of kind TND_WRITE_WORKFLOW_* or TND_WRITE_CREDENTIAL_*. */
int store_reconcile_prepare(const struct tnd_write *write, struct tnd_error *err);
/** Apply such a write on the writer inside the current transaction. */
int store_reconcile_apply(struct store_conn *writer, const struct store_prepared_write *write,
			  struct tnd_error *err);

/* --- override writes (sqlite_write_overrides.c, ABI 1.2) ---------------------------- */

/** Validate a write of kind TND_WRITE_OVERRIDE_INSERT. */
int store_override_prepare(const struct tnd_write *write, struct tnd_error *err);
/** Apply it on the writer inside the current transaction. */
int store_override_apply(struct store_conn *writer, const struct store_prepared_write *write,
			 struct tnd_error *err);

/* --- audit records (sqlite_write_audit.c) ------------------------------------------ */

/** Validate a TND_WRITE_AUDIT write (and that the host can seal records). */
int store_audit_prepare(const struct tnd_host *host, const struct tnd_write *write, struct tnd_error *err);
/** Number, hash and insert one audit record and move the chain head, on
 *  the writer inside the current transaction: so in commit order.  The
 *  record and the head are left unsigned until store_audit_sign_head(). */
int store_audit_apply(const struct tnd_host *host, struct store_conn *writer, const struct tnd_audit_record *rec,
		      struct tnd_error *err);
/** Before COMMIT: sign the records this transaction appended (in one
 *  batch, on several threads) and the chain head.  A failure must fail the
 *  whole transaction. */
int store_audit_sign_head(const struct tnd_host *host, struct store_conn *writer, struct tnd_error *err);
/* --- quota history writes (sqlite_write_quotas.c, ABI 1.2: quotas) ------------------ */

/** Validate a write of kind TND_WRITE_QUOTA_APPEND. */
int store_quota_prepare(const struct tnd_write *write, struct tnd_error *err);
/** Apply it on the writer inside the current transaction. */
int store_quota_apply(struct store_conn *writer, const struct store_prepared_write *write, struct tnd_error *err);

/* --- token and grant writes (sqlite_write_tokens.c, ABI 1.2) ----------------------- */

/** Validate a write of kind TND_WRITE_TOKEN_* or TND_WRITE_GRANT_*. */
int store_tokens_prepare(const struct tnd_write *write, struct tnd_error *err);
/** Apply it on the writer inside the current transaction. */
int store_tokens_apply(struct store_conn *writer, const struct store_prepared_write *write,
		       struct tnd_error *err);

/* --- event writes (sqlite_write_events.c, ABI 1.2) -------------------------------- */

/** Validate a write of kind TND_WRITE_EVENT_APPEND. */
int store_event_prepare(const struct tnd_write *write, struct tnd_error *err);
/** Append the event on the writer inside the current transaction; its seq
 *  is assigned there. */
int store_event_apply(struct store_conn *writer, const struct store_prepared_write *write,
		      struct tnd_error *err);

/* --- webhook writes (sqlite_write_webhooks.c, ABI 1.2) ------------------------------ */

/** Validate a write of kind TND_WRITE_WEBHOOK_* or TND_WRITE_DELIVERY_*. */
int store_webhooks_prepare(const struct tnd_write *write, struct tnd_error *err);
/** Apply it on the writer inside the current transaction. */
int store_webhooks_apply(struct store_conn *writer, const struct store_prepared_write *write,
			 struct tnd_error *err);

/* --- group commit (sqlite_commit.c) ---------------------------------------------- */

struct store_commit_request;

struct store_commit_queue {
	pthread_mutex_t lock;
	pthread_cond_t idle;       /* signalled when the last leader steps down */
	struct store_commit_request *head;
	struct store_commit_request *tail;
	bool leader_active;
	bool closing;
};

struct store {
	const struct tnd_host *host;
	struct store_settings settings;
	struct store_conn *writer; /* used only by the current group commit leader */
	struct store_pool readers;
	struct store_commit_queue queue;
	bool walbuf_acquired;
};

void store_queue_init(struct store_commit_queue *queue);
/** Let queued commits finish, then refuse new ones. */
void store_queue_close(struct store_commit_queue *queue);
void store_queue_destroy(struct store_commit_queue *queue);
/**
 * Run @prepared as one logical commit in the next group transaction and wait
 * until that transaction is durable (or failed).
 */
int store_commit_submit(struct store *store, const struct store_prepared_write *prepared,
			size_t n_writes, size_t *ret_failed_index, struct tnd_error *err);

/* --- search SQL (sqlite_search.c) -------------------------------------------------- */

/* A parameter of a read statement: bound as text when @text is not NULL,
 * else as @integer. */
struct store_param {
	const char *text;
	int64_t integer;
};

#define STORE_TEXT(s) ((struct store_param){ .text = (s) })
#define STORE_INT(i) ((struct store_param){ .integer = (i) })
/* Parameters of the largest search: 4 filters, a cursor, the labels, the limit. */
#define STORE_SEARCH_PARAMS_MAX (4 + 1 + 2 * STORE_SEARCH_LABELS_MAX + 1)

/** A list op's @limit with the header's rules: 0 → 100, above 1000 → 1000. */
uint32_t store_read_limit(uint32_t limit);
/**
 * The statement selecting @columns of the tenants matching @query, into
 * @sql (@cap bytes) with its parameters in @params (room for
 * STORE_SEARCH_PARAMS_MAX).  The query's size and label count must have
 * been checked.  -E2BIG if the statement does not fit.
 */
int store_search_sql(const struct tnd_tenant_query *query, const char *columns, char *sql, size_t cap,
		     struct store_param *params, size_t *ret_n_params, struct tnd_error *err);

/* Parameters of the largest workflow list: tenant, state, time, cursor, limit. */
#define STORE_WORKFLOW_PARAMS_MAX 5
/**
 * The statement selecting @columns of the workflows matching @query (whose
 * size must have been checked), as store_search_sql() does for tenants;
 * room for STORE_WORKFLOW_PARAMS_MAX parameters.
 */
int store_workflow_list_sql(const struct tnd_workflow_query *query, const char *columns, char *sql, size_t cap,
			    struct store_param *params, size_t *ret_n_params, struct tnd_error *err);

/* --- the ops (sqlite_commit.c, sqlite_read.c) ------------------------------------ */

tnd_storage_commit_fn store_commit;
tnd_storage_tenant_get_fn store_tenant_get;
tnd_storage_tenant_search_fn store_tenant_search;
tnd_storage_version_list_fn store_version_list;
tnd_storage_version_get_fn store_version_get;
tnd_storage_phase_list_fn store_phase_list;
tnd_storage_idempotency_get_fn store_idempotency_get;
tnd_storage_maintain_fn store_maintain;
tnd_storage_ping_fn store_ping;
tnd_storage_workflow_get_fn store_workflow_get;
tnd_storage_workflow_list_fn store_workflow_list;
tnd_storage_credential_get_fn store_credential_get;
tnd_storage_override_list_fn store_override_list;
tnd_storage_audit_list_fn store_audit_list;
tnd_storage_audit_head_get_fn store_audit_head_get;
tnd_storage_token_list_fn store_token_list;
tnd_storage_grant_list_fn store_grant_list;
tnd_storage_event_list_fn store_event_list;
tnd_storage_quota_list_fn store_quota_list;
tnd_storage_webhook_list_fn store_webhook_list;
tnd_storage_delivery_list_fn store_delivery_list;

/* --- copied result sets (sqlite_read.c), shared with sqlite_read_webhooks.c ------- */

struct read_cell {
	int64_t integer;
	size_t text_offset;
	bool is_null;
};

struct read_rows {
	size_t n_cols;
	size_t n_rows;
	size_t cap_rows;
	struct read_cell *cells; /* n_rows * n_cols */
	char *text;              /* every text value, NUL-terminated, back to back */
	size_t text_len;
	size_t text_cap;
};

void read_rows_free(struct read_rows *rows);
const char *read_text(const struct read_rows *rows, size_t row, size_t col);
int64_t read_int(const struct read_rows *rows, size_t row, size_t col);
/** Run @sql with @params on a pooled read connection and copy every row. */
int read_run(struct store *store, const char *sql, const struct store_param *params, size_t n_params,
	     struct read_rows *rows, struct tnd_error *err);

#endif /* TND_SQLITE_INTERNAL_H */
