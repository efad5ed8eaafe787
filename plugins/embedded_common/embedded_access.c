/*
 * embedded_access.c — the consumer side of the embedded data plane:
 * "connecting as the tenant".  embedded_open_as() checks the tenant's role
 * (exists, may log in, password) and hands back a SQLite connection that
 * reaches that tenant's files only, read-only unless the role may write,
 * capped at the recorded storage quota.  embedded_open_archived() is the
 * operator's read-only export of an archived tenant.  This is the
 * enforcement point of the login/write model; README.md says what it
 * cannot enforce (any process of the daemon's user can open the files).
 */
#include "autoconfig.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "embedded.h"

#define ACCESS_BUSY_TIMEOUT_MS 5000

/* "file:<path>?mode=ro|rw" with the path percent-encoded, so that '?', '#'
 * and '%' in a directory name cannot smuggle in URI parameters. */
static char *access_uri(const char *path, bool readonly)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t len = strlen(path);
	char *uri = malloc(5 + 3 * len + 9 + 1), *p;

	if (uri == NULL)
		return NULL;
	p = uri + sprintf(uri, "file:");
	for (const unsigned char *s = (const unsigned char *)path; *s != '\0'; s++) {
		if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
		    strchr("/-._~", *s) != NULL) {
			*p++ = (char)*s;
		} else {
			*p++ = '%';
			*p++ = hex[*s >> 4];
			*p++ = hex[*s & 0xf];
		}
	}
	strcpy(p, readonly ? "?mode=ro" : "?mode=rw");
	return uri;
}

/* The connection may not reach any other file: no ATTACH or DETACH, and in
 * shared mode nothing may be created in main, a private in-memory
 * database whose contents would vanish (the tenant writes "t_<id>.x"). */
static int access_authorize(void *userdata, int action, const char *arg1, const char *arg2, const char *db_name,
			    const char *trigger)
{
	const bool *memory_main = userdata;

	switch (action) {
	case SQLITE_ATTACH:
	case SQLITE_DETACH:
		return SQLITE_DENY;
	case SQLITE_CREATE_TABLE:
	case SQLITE_CREATE_INDEX:
	case SQLITE_CREATE_VIEW:
	case SQLITE_CREATE_TRIGGER:
		return *memory_main && db_name != NULL && strcmp(db_name, "main") == 0 ? SQLITE_DENY : SQLITE_OK;
	default:
		return SQLITE_OK;
	}
}

static const bool access_memory_main_yes = true;
static const bool access_memory_main_no = false;

/* Cap @schema at @storage_bytes: SQLite answers SQLITE_FULL past it. */
static int access_cap(sqlite3 *db, const char *schema, int64_t storage_bytes)
{
	sqlite3_stmt *stmt = NULL;
	char sql[128];
	int64_t page_size = 0;
	int rc;

	snprintf(sql, sizeof(sql), "PRAGMA \"%s\".page_size", schema);
	rc = sqlite3_prepare_v2(db, sql, -1, &stmt, NULL);
	if (rc == SQLITE_OK && sqlite3_step(stmt) == SQLITE_ROW)
		page_size = sqlite3_column_int64(stmt, 0);
	sqlite3_finalize(stmt);
	if (page_size <= 0)
		return -EIO;
	snprintf(sql, sizeof(sql), "PRAGMA \"%s\".max_page_count = %lld", schema,
		 (long long)(storage_bytes / page_size > 0 ? storage_bytes / page_size : 1));
	return sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : -EIO;
}

static int access_attach(sqlite3 *db, const char *uri, const char *name)
{
	sqlite3_stmt *stmt = NULL;
	char sql[96];
	int rc;

	snprintf(sql, sizeof(sql), "ATTACH ?1 AS \"%s\"", name);
	rc = sqlite3_prepare_v2(db, sql, -1, &stmt, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_text(stmt, 1, uri, -1, SQLITE_STATIC);
		rc = sqlite3_step(stmt);
	}
	sqlite3_finalize(stmt);
	return rc == SQLITE_DONE ? 0 : -EIO;
}

/* A file of the tenant: -ENOENT missing, -EPERM not a plain file. */
static int access_file_check(const char *path)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		return -ENOENT;
	return S_ISREG(st.st_mode) ? 0 : -EPERM;
}

static int access_connect(const struct embedded_tenant *tenant, bool readonly, int64_t storage_bytes,
			  sqlite3 **ret_db)
{
	int flags = SQLITE_OPEN_URI | SQLITE_OPEN_NOFOLLOW;
	char *data_uri = NULL, *schema_uri = NULL;
	sqlite3 *db = NULL;
	int r = -ENOMEM;

	if (tenant->data_file != NULL && (data_uri = access_uri(tenant->data_file, readonly)) == NULL)
		goto out;
	if (tenant->schema_file != NULL && (schema_uri = access_uri(tenant->schema_file, readonly)) == NULL)
		goto out;
	/* shared: no file of its own as main, the schema is attached by name;
	 * read-only then comes from the attached file's mode=ro */
	if (data_uri == NULL)
		flags |= SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
	else
		flags |= readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE;
	r = sqlite3_open_v2(data_uri != NULL ? data_uri : ":memory:", &db, flags, NULL) == SQLITE_OK ? 0 : -EIO;
	if (r < 0)
		goto out;
	sqlite3_busy_timeout(db, ACCESS_BUSY_TIMEOUT_MS);
	sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
	sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0, NULL);
	if (schema_uri != NULL)
		r = access_attach(db, schema_uri, tenant->name);
	if (r == 0 && !readonly && storage_bytes > 0) {
		if (data_uri != NULL)
			r = access_cap(db, "main", storage_bytes);
		if (r == 0 && schema_uri != NULL)
			r = access_cap(db, tenant->name, storage_bytes);
	}
	if (r < 0)
		goto out;
	/* Belt and braces with the authorizer: no further database at all. */
	sqlite3_limit(db, SQLITE_LIMIT_ATTACHED, 0);
	sqlite3_set_authorizer(db, access_authorize,
			       (void *)(data_uri == NULL ? &access_memory_main_yes : &access_memory_main_no));
	*ret_db = db;
	db = NULL;
out:
	sqlite3_close(db);
	free(data_uri);
	free(schema_uri);
	return r;
}

static int access_open(const char *dir, enum embedded_isolation isolation, const char *tenant_id,
		       const char *password, bool archived_export, sqlite3 **ret_db)
{
	struct embedded_plane plane = { 0 };
	struct embedded_tenant tenant = { 0 };
	struct embedded_role role;
	sqlite3 *catalog = NULL;
	bool readonly;
	int r;

	/* NULL state directory: only an absolute @dir is accepted */
	r = embedded_plane_resolve(NULL, dir, &plane, NULL);
	if (r == 0)
		r = embedded_tenant_init(&plane, isolation, tenant_id, &tenant, NULL);
	if (r < 0)
		goto out;
	r = embedded_roles_open(plane.roles_db, false, ACCESS_BUSY_TIMEOUT_MS, &catalog, NULL);
	if (r == 0)
		r = embedded_role_get(catalog, tenant.name, &role, NULL);
	sqlite3_close(catalog);
	catalog = NULL;
	if (r < 0)
		goto out;
	if (archived_export) {
		if (role.writable || role.login || role.archived_at == 0) {
			r = -EPERM;
			goto out;
		}
		readonly = true;
	} else {
		if (!role.login || password == NULL || embedded_password_verify(role.password_hash, password) < 0) {
			r = -EACCES;
			goto out;
		}
		readonly = !role.writable;
	}
	if (embedded_has_schema(isolation)) {
		r = embedded_schemas_open(plane.shared_db, false, ACCESS_BUSY_TIMEOUT_MS, &catalog, NULL);
		if (r == 0)
			r = embedded_schema_lookup(catalog, tenant.name, NULL);
		sqlite3_close(catalog);
		if (r == 0)
			r = access_file_check(tenant.schema_file);
	}
	if (r == 0 && embedded_has_data(isolation))
		r = access_file_check(tenant.data_file);
	if (r == 0)
		r = access_connect(&tenant, readonly, role.storage_bytes, ret_db);
out:
	embedded_tenant_clear(&tenant);
	embedded_plane_clear(&plane);
	return r;
}

int embedded_open_as(const char *dir, enum embedded_isolation isolation, const char *tenant_id,
		     const char *password, sqlite3 **ret_db)
{
	return access_open(dir, isolation, tenant_id, password, false, ret_db);
}

int embedded_open_archived(const char *dir, enum embedded_isolation isolation, const char *tenant_id,
			   sqlite3 **ret_db)
{
	return access_open(dir, isolation, tenant_id, NULL, true, ret_db);
}
