/*
 * embedded.h — the embedded (SQLite file) data plane shared by the three
 * isolation plugins embedded_shared_schema, embedded_dedicated_db and
 * embedded_hybrid.  Internal to plugins/: it is linked into each .so as a
 * convenience library and into their tests; nothing here is plugin ABI.
 *
 * The layout of one region's data-plane directory (README.md explains why):
 *
 *   <dir>/roles.db            tenancy_roles: one login role per tenant
 *   <dir>/shared.db           tenancy_schemas: the shared database's catalogue
 *   <dir>/shared/t_<id>.db    a tenant's schema in the shared database
 *   <dir>/dedicated/t_<id>.db a tenant's dedicated database
 */
#ifndef TND_EMBEDDED_H
#define TND_EMBEDDED_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <sqlite3.h>

#include <tenancyd/host.h>
#include <tenancyd/isolation.h>
#include <tenancyd/plugin.h>

/** printf into a new string (free()), NULL when out of memory. */
char *embedded_printf_dup(const char *fmt, ...) TND_PRINTF(1, 2);

/* --- names -------------------------------------------------------------------------------- */

enum embedded_isolation {
	EMBEDDED_SHARED = 1,    /* schema file + catalogue row in the shared database */
	EMBEDDED_DEDICATED = 2, /* a database file of its own */
	EMBEDDED_HYBRID = 3,    /* both: control schema shared, data dedicated */
};

/* DESIGN §3: ^[a-z][a-z0-9-]{1,38}[a-z0-9]$ */
#define EMBEDDED_ID_MAX 40
/* "t_" + the id with dashes turned into underscores */
#define EMBEDDED_NAME_MAX (EMBEDDED_ID_MAX + 2)

/** The request's "isolation" word for @isolation ("shared", ...). */
const char *embedded_isolation_word(enum embedded_isolation isolation);
static inline bool embedded_has_schema(enum embedded_isolation isolation)
{
	return isolation == EMBEDDED_SHARED || isolation == EMBEDDED_HYBRID;
}
static inline bool embedded_has_data(enum embedded_isolation isolation)
{
	return isolation == EMBEDDED_DEDICATED || isolation == EMBEDDED_HYBRID;
}

/** True when @id is a tenant id (DESIGN §3); checked before any path is built. */
bool embedded_tenant_id_valid(const char *id);
/** t_<id>, dashes → underscores: the role's and the schema's name.  -EINVAL for a bad id. */
int embedded_tenant_name(const char *id, char ret_name[EMBEDDED_NAME_MAX + 1]);

/* --- the data-plane directory and the tenant's paths --------------------------------------- */

struct embedded_plane {
	char *dir;           /* absolute */
	char *roles_db;      /* <dir>/roles.db */
	char *shared_db;     /* <dir>/shared.db */
	char *schema_dir;    /* <dir>/shared */
	char *dedicated_dir; /* <dir>/dedicated */
};

struct embedded_tenant {
	enum embedded_isolation isolation;
	char id[EMBEDDED_ID_MAX + 1];
	char name[EMBEDDED_NAME_MAX + 1];
	char *schema_file; /* <dir>/shared/t_<id>.db; NULL unless shared or hybrid */
	char *data_file;   /* <dir>/dedicated/t_<id>.db; NULL unless dedicated or hybrid */
};

/**
 * Resolve the dataPlane.dir setting without touching the disk: a relative
 * @setting is taken relative to @state_dir and may not contain a ".."
 * component; an absolute one is used as given.  -EINVAL with the reason.
 */
int embedded_plane_resolve(const char *state_dir, const char *setting, struct embedded_plane *ret_plane,
			   struct tnd_error *err);
void embedded_plane_clear(struct embedded_plane *plane);
/** The tenant's names and file paths in @plane.  -EINVAL for a bad id. */
int embedded_tenant_init(const struct embedded_plane *plane, enum embedded_isolation isolation, const char *id,
			 struct embedded_tenant *ret_tenant, struct tnd_error *err);
void embedded_tenant_clear(struct embedded_tenant *tenant);

/** What lstat() says about one file, for observe. */
struct embedded_file_state {
	bool exists;
	bool regular;  /* a regular file, not a symlink or anything else */
	bool owned;    /* owned by the effective user */
	mode_t mode;   /* permission bits */
};
void embedded_file_inspect(const char *path, struct embedded_file_state *ret_state);

/** Create the directory (and its parents) 0700 if missing, make sure it is
 *  a directory of ours, and take group/other access away.  @ret_changed is
 *  set when the mode had to be corrected (may be NULL). */
int embedded_dir_prepare(const char *path, bool *ret_changed, struct tnd_error *err);
/**
 * Create an empty tenant database at @path, 0600, atomically: built under a
 * temporary name (@tmp_tag makes it unique) and linked into place, so a
 * concurrent creator or a crash never leaves a half-made file under the
 * final name and an existing file (with its data) is never replaced.
 * @ret_created tells whether this call made it.
 */
int embedded_db_file_create(const char *path, const char *tmp_tag, bool *ret_created, struct tnd_error *err);
/** Set @path's permission bits (not following symlinks; a regular file of
 *  ours only).  @ret_changed: they differed. */
int embedded_file_chmod(const char *path, mode_t mode, bool *ret_changed, struct tnd_error *err);
/** Remove a database file with its -journal/-wal/-shm and any temporary
 *  file of embedded_db_file_create() for it.  Absent is fine.  @ret_removed
 *  counts what was removed (may be NULL). */
int embedded_db_file_remove(const char *path, unsigned *ret_removed, struct tnd_error *err);

/* --- passwords ---------------------------------------------------------------------------- */

/* PBKDF2-HMAC-SHA256, 16-byte salt, 32-byte key: "pbkdf2-sha256$<iterations>$<salt hex>$<key hex>" */
/* Tenants' passwords are 256-bit random secrets made by the core: key
 * stretching protects guessable passwords and adds nothing here but ~30 ms
 * per provision, so the default is one PBKDF2 round (a salted HMAC-SHA256).
 * Operators who feed in human passwords can raise password_iterations. */
#define EMBEDDED_PASSWORD_MIN_ITERATIONS 1
#define EMBEDDED_PASSWORD_DEFAULT_ITERATIONS 1
#define EMBEDDED_PASSWORD_SALT_SIZE 16
#define EMBEDDED_PASSWORD_HASH_MAX 160
#define EMBEDDED_PASSWORD_MAX 1024

int embedded_password_hash(const char *password, const unsigned char salt[EMBEDDED_PASSWORD_SALT_SIZE],
			   int iterations, char ret_hash[EMBEDDED_PASSWORD_HASH_MAX]);
/** 0 when @password matches @stored, -EACCES when not, -EINVAL for a
 *  malformed @stored.  Constant time in the comparison. */
int embedded_password_verify(const char *stored, const char *password);
/** The iteration count @stored was made with; 0 when it is not one of our hashes. */
int embedded_password_iterations(const char *stored);

/* --- the catalogues: roles.db and shared.db ------------------------------------------------ */

struct embedded_role {
	char password_hash[EMBEDDED_PASSWORD_HASH_MAX];
	bool login;
	bool writable;
	int64_t storage_bytes; /* 0: no quota recorded */
	int64_t archived_at;   /* ms since the epoch; 0: not archived */
};

/** Map an SQLite result code to a negative errno (BUSY/LOCKED → -EAGAIN:
 *  the orchestrator retries) and fill @err. */
int embedded_sqlite_fail(struct tnd_error *err, sqlite3 *db, int rc, const char *what);

/**
 * Open a catalogue.  With @create, the file is made 0600 if missing, put in
 * WAL mode and given its tables; without, it is opened read-only and
 * -ENOENT says the file or its table does not exist (observe and the
 * consumer access change nothing).
 */
/** A busy handler that waits in short steps (50 µs doubling to 2 ms) up to @timeout_ms. */
void embedded_busy_wait(sqlite3 *db, int timeout_ms);
int embedded_roles_open(const char *path, bool create, int busy_timeout_ms, sqlite3 **ret_db,
			struct tnd_error *err);
int embedded_schemas_open(const char *path, bool create, int busy_timeout_ms, sqlite3 **ret_db,
			  struct tnd_error *err);

/** -ENOENT when the role does not exist. */
int embedded_role_get(sqlite3 *db, const char *name, struct embedded_role *ret_role, struct tnd_error *err);
/** Create or reset the role to the active shape: @password_hash, login and
 *  writes on, not archived.  @ret_changed: anything differed. */
int embedded_role_put(sqlite3 *db, const char *name, const char *password_hash, int64_t storage_bytes,
		      const char *comment, bool login, bool writable, int64_t now_ms, bool *ret_changed,
		      struct tnd_error *err);
/** Set the login and write flags; @archived_at_ms > 0 records the archival
 *  (the first one is kept), 0 clears it, -1 leaves it.  -ENOENT without a role. */
int embedded_role_set(sqlite3 *db, const char *name, bool login, int writable, int64_t archived_at_ms,
		      int64_t now_ms, bool *ret_changed, struct tnd_error *err);
int embedded_role_delete(sqlite3 *db, const char *name, bool *ret_deleted, struct tnd_error *err);

/** Register the schema in the shared catalogue (kept if present). */
int embedded_schema_register(sqlite3 *db, const char *name, int64_t now_ms, bool *ret_created,
			     struct tnd_error *err);
/** 0 registered, -ENOENT not. */
int embedded_schema_lookup(sqlite3 *db, const char *name, struct tnd_error *err);
int embedded_schema_unregister(sqlite3 *db, const char *name, bool *ret_deleted, struct tnd_error *err);

/* --- the plugin -------------------------------------------------------------------------- */

/** The plugin context; read-only after init, so ops may run on many threads. */
struct embedded_ctx {
	const struct tnd_host *host;
	enum embedded_isolation isolation;
	int busy_timeout_ms;
	int password_iterations;
};

int embedded_ctx_new(const struct tnd_host *host, const struct tnd_json *config, enum embedded_isolation isolation,
		     void **ret_ctx, struct tnd_error *err);
tnd_plugin_fini_fn embedded_ctx_free;
tnd_plugin_check_config_fn embedded_check_config;

/** A parsed isolation request (borrowing from the request document). */
struct embedded_request {
	const char *state;    /* active | suspended | archived | deleted, or NULL */
	const char *password; /* credentials.password, or NULL */
	int64_t storage_bytes; /* quotas.storageGb in bytes, 0 if absent */
	struct embedded_plane plane;
	struct embedded_tenant tenant;
};

/** Validate and resolve a request; nothing on disk is touched. */
int embedded_request_parse(const struct embedded_ctx *ctx, const struct tnd_json *request,
			   struct embedded_request *ret_req, struct tnd_error *err);
void embedded_request_clear(struct embedded_request *req);
/** Append `"resources": {...}` (the mode's shape, DESIGN §3 with paths). */
int embedded_resources_append(const struct embedded_ctx *ctx, const struct embedded_request *req,
			      struct tnd_buf *out);

/** The ops; the three plugins share one table. */
extern const struct tnd_isolation_ops embedded_isolation_ops;
tnd_isolation_step_fn embedded_op_provision;
tnd_isolation_step_fn embedded_op_suspend;
tnd_isolation_step_fn embedded_op_resume;
tnd_isolation_step_fn embedded_op_archive;
tnd_isolation_step_fn embedded_op_destroy;
tnd_isolation_step_fn embedded_op_observe;

/* --- the consumer side: "connect as the tenant" -------------------------------------------- */

/**
 * Open a connection as tenant @tenant_id with @password, the embedded
 * analogue of logging in to PostgreSQL as the tenant's role.  @dir is the
 * absolute data-plane directory.  Refused unless the role exists, may log
 * in and the password matches (-EACCES; -ENOENT when the role or one of the
 * mode's files is missing).  The connection sees the tenant's files only:
 *   shared    main is a private in-memory database; the schema file is
 *             attached as "t_<id>"
 *   dedicated the data file is main
 *   hybrid    the data file is main; the control schema is attached as "t_<id>"
 * It is read-only when the role is not writable, cannot ATTACH or DETACH,
 * and each file is capped at the recorded storage quota (max_page_count).
 * For tests and as a reference for consumers; the plugin never calls it.
 */
int embedded_open_as(const char *dir, enum embedded_isolation isolation, const char *tenant_id,
		     const char *password, sqlite3 **ret_db);
/**
 * Open an archived tenant's files read-only for export, as an operator
 * (no tenant login exists after archive).  -EPERM unless the tenant is
 * archived; otherwise as embedded_open_as().
 */
int embedded_open_archived(const char *dir, enum embedded_isolation isolation, const char *tenant_id,
			   sqlite3 **ret_db);

#endif /* TND_EMBEDDED_H */
