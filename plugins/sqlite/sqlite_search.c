/*
 * sqlite_search.c — the SQL of tenant_search() and workflow_list(): the
 * statement that answers a query, written so that SQLite serves every
 * filter from an index (schema versions 2 and 3, see sqlite_schema.c).
 *
 * The statement depends only on which filters are set (and, for phase and
 * isolation, on whether the value is the common one), never on the values,
 * which are bound: the statement caches of the read connections keep the
 * few shapes in use.
 *
 *   - A phase other than Active, or an isolation other than shared, is in a
 *     partial index.  SQLite uses a partial index only when the query
 *     repeats the index's WHERE term, so the statement carries it, e.g.
 *     "phase = ?1 AND phase <> 'Active'" (redundant for that value).
 *   - Label filters are left to the planner, which starts from the label
 *     rows (key, value, tenant_id) and looks the tenants up by id.
 *   - Everything else walks the covering index tenants_search in id order,
 *     tests the filter columns on the index entry, and reads the head rows
 *     of matches only, until the limit.  SQLite estimates that walk no
 *     cheaper than the primary key's, which tests each filter on the full
 *     head row, so INDEXED BY names it.
 *   - unsettled (ABI 1.1, read only when the query's size covers it) walks
 *     the partial index tenants_unsettled in id order, named by INDEXED BY
 *     so that no other filter sends SQLite down a walk of every tenant:
 *     the unsettled are few, the other filters are tested on their rows.
 *
 * Workflows: a tenant's are in workflows_by_tenant (tenant_id, id); the
 * active ones (Pending, Running) in the partial index workflows_active
 * (id, next_attempt_ms), whose term the statement repeats, and which
 * carries the time a due search tests; Failed ones in workflows_failed.
 * Other states walk the primary key in id order up to the limit.
 */
#include "autoconfig.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "sqlite_internal.h"

/* The values the partial indexes leave out: the same text as the index
 * definitions of schema version 2. */
#define SEARCH_UNINDEXED_PHASE "Active"
#define SEARCH_UNINDEXED_ISOLATION "shared"
/* The WHERE terms of the partial indexes of schema version 3, as written
 * there: SQLite uses a partial index only for a query that contains its
 * term.  (test_sqlite_migration.c checks the plans, so a drift shows.) */
#define SEARCH_UNSETTLED_TERM "observed_version <> version OR lower(phase) <> state"
#define SEARCH_ACTIVE_TERM "state IN ('Pending', 'Running')"
#define SEARCH_FAILED_TERM "state = 'Failed'"

/* Append printf-style to a fixed buffer; false once it no longer fits. */
static bool search_add(char *sql, size_t cap, size_t *len, const char *fmt, ...) TND_PRINTF(4, 5);
static bool search_add(char *sql, size_t cap, size_t *len, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*len >= cap)
		return false;
	va_start(ap, fmt);
	n = vsnprintf(sql + *len, cap - *len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= cap - *len)
		return false;
	*len += (size_t)n;
	return true;
}

uint32_t store_read_limit(uint32_t limit)
{
	if (limit == 0)
		return STORE_LIMIT_DEFAULT;
	return limit > STORE_LIMIT_MAX ? STORE_LIMIT_MAX : limit;
}

int store_search_sql(const struct tnd_tenant_query *query, const char *columns, char *sql, size_t cap,
		     struct store_param *params, size_t *ret_n_params, struct tnd_error *err)
{
	bool rare_phase = query->phase != NULL && strcmp(query->phase, SEARCH_UNINDEXED_PHASE) != 0;
	bool rare_isolation = query->isolation != NULL && strcmp(query->isolation, SEARCH_UNINDEXED_ISOLATION) != 0;
	bool unsettled = TND_HAS_FIELD(query, struct tnd_tenant_query, unsettled) && query->unsettled;
	bool walk_ids = !rare_phase && !rare_isolation && query->n_labels == 0;
	size_t len = 0, n = 0;
	bool ok;

	ok = search_add(sql, cap, &len, "SELECT %s FROM tenants%s WHERE 1", columns,
			unsettled ? " INDEXED BY tenants_unsettled"
			: walk_ids ? " INDEXED BY tenants_search"
				   : "");
	if (unsettled)
		ok = ok && search_add(sql, cap, &len, " AND (" SEARCH_UNSETTLED_TERM ")");
	if (query->phase != NULL) {
		params[n++] = STORE_TEXT(query->phase);
		ok = ok && search_add(sql, cap, &len, " AND phase = ?%zu", n);
		if (rare_phase)
			ok = ok && search_add(sql, cap, &len, " AND phase <> '" SEARCH_UNINDEXED_PHASE "'");
	} else if (!query->include_deleted) {
		ok = ok && search_add(sql, cap, &len, " AND phase <> 'Deleted'");
	}
	if (query->isolation != NULL) {
		params[n++] = STORE_TEXT(query->isolation);
		ok = ok && search_add(sql, cap, &len, " AND isolation = ?%zu", n);
		if (rare_isolation)
			ok = ok && search_add(sql, cap, &len, " AND isolation <> '" SEARCH_UNINDEXED_ISOLATION "'");
	}
	if (query->region != NULL) {
		params[n++] = STORE_TEXT(query->region);
		ok = ok && search_add(sql, cap, &len, " AND region = ?%zu", n);
	}
	if (query->plan != NULL) {
		params[n++] = STORE_TEXT(query->plan);
		ok = ok && search_add(sql, cap, &len, " AND plan = ?%zu", n);
	}
	if (query->after_id != NULL) {
		params[n++] = STORE_TEXT(query->after_id);
		ok = ok && search_add(sql, cap, &len, " AND id > ?%zu", n);
	}
	for (size_t i = 0; i < query->n_labels; i++) {
		params[n++] = STORE_TEXT(query->label_keys[i]);
		params[n++] = STORE_TEXT(query->label_values[i]);
		ok = ok && search_add(sql, cap, &len,
				      " AND id IN (SELECT tenant_id FROM tenant_labels"
				      " WHERE key = ?%zu AND value = ?%zu)",
				      n - 1, n);
	}
	params[n++] = STORE_INT(store_read_limit(query->limit));
	ok = ok && search_add(sql, cap, &len, " ORDER BY id LIMIT ?%zu", n);
	if (!ok) {
		tnd_error_set(err, "tenant query too large");
		return -E2BIG;
	}
	*ret_n_params = n;
	return 0;
}

int store_workflow_list_sql(const struct tnd_workflow_query *query, const char *columns, char *sql, size_t cap,
			    struct store_param *params, size_t *ret_n_params, struct tnd_error *err)
{
	bool active = query->active ||
		      (query->state != NULL && (strcmp(query->state, "Pending") == 0 || strcmp(query->state, "Running") == 0));
	bool failed = query->state != NULL && strcmp(query->state, "Failed") == 0;
	size_t len = 0, n = 0;
	bool ok;

	/* A tenant's workflows are few: its index, whatever else is asked.
	 * Otherwise the partial indexes, which SQLite would not always prefer
	 * to the primary key, which is also in id order. */
	ok = search_add(sql, cap, &len, "SELECT %s FROM workflows%s WHERE 1", columns,
			query->tenant_id != NULL ? " INDEXED BY workflows_by_tenant"
			: active		 ? " INDEXED BY workflows_active"
			: failed		 ? " INDEXED BY workflows_failed"
						 : "");
	if (query->tenant_id != NULL) {
		params[n++] = STORE_TEXT(query->tenant_id);
		ok = ok && search_add(sql, cap, &len, " AND tenant_id = ?%zu", n);
	}
	if (active)
		ok = ok && search_add(sql, cap, &len, " AND " SEARCH_ACTIVE_TERM);
	if (failed)
		ok = ok && search_add(sql, cap, &len, " AND " SEARCH_FAILED_TERM);
	if (query->state != NULL) {
		params[n++] = STORE_TEXT(query->state);
		ok = ok && search_add(sql, cap, &len, " AND state = ?%zu", n);
	}
	if (query->active && query->due_before_ms != 0) {
		params[n++] = STORE_INT(query->due_before_ms);
		ok = ok && search_add(sql, cap, &len, " AND next_attempt_ms <= ?%zu", n);
	}
	if (query->after_id != NULL) {
		params[n++] = STORE_TEXT(query->after_id);
		ok = ok && search_add(sql, cap, &len, " AND id > ?%zu", n);
	}
	params[n++] = STORE_INT(store_read_limit(query->limit));
	ok = ok && search_add(sql, cap, &len, " ORDER BY id LIMIT ?%zu", n);
	if (!ok) {
		tnd_error_set(err, "workflow query too large");
		return -E2BIG;
	}
	*ret_n_params = n;
	return 0;
}
