/*
 * sqlite_write_audit.c — the audit write kind of storage ABI 1.2.
 *
 * The record is numbered and chained here, on the group commit leader,
 * inside the transaction that carries the rest of its mutation: the head
 * row gives the previous seq and hash, the host hashes the record, and the
 * record and the new head are written.  Commits are applied one after
 * another by one leader, so records are chained in commit order whatever
 * the concurrency; a logical commit that fails is undone (its SAVEPOINT, or
 * the replay of its group) together with its record and head move, so the
 * next record takes its number and no gap appears.
 *
 * Signatures come last, just before COMMIT (store_audit_sign_head, called
 * by the group leader): every record the transaction appended and still
 * unsigned is signed in one batch that the core spreads over several
 * threads, then the final head once — only that head is ever visible.
 * Hashing in order is cheap; signing one by one on the single writer would
 * bound every durable write.  Records and head are written with an empty
 * signature first and filled in before COMMIT; a signing failure fails the
 * transaction, so nothing unsigned ever becomes durable.
 */
#include "autoconfig.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sqlite_internal.h"

static const char audit_sql_head[] = "SELECT seq, hash FROM audit_head WHERE id = 1";
static const char audit_sql_any[] = "SELECT EXISTS (SELECT 1 FROM audit_log)";
static const char audit_sql_insert[] =
	"INSERT INTO audit_log (seq, time_ms, tenant_id, actor, action, target, previous_state, new_state, outcome,"
	" reason, request_id, correlation_id, key_id, prev_hash, hash, signature)"
	" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)";
static const char audit_sql_head_put[] =
	"INSERT INTO audit_head (id, seq, hash, key_id, signature) VALUES (1, ?1, ?2, ?3, '')"
	" ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash, key_id = excluded.key_id,"
	" signature = ''";
static const char audit_sql_head_unsigned[] = "SELECT seq, hash FROM audit_head WHERE id = 1 AND signature = ''";
static const char audit_sql_unsigned[] = "SELECT seq, hash FROM audit_log WHERE seq >= ?1 AND signature = '' ORDER BY seq";
static const char audit_sql_record_sign[] = "UPDATE audit_log SET signature = ?1 WHERE seq = ?2";
static const char audit_sql_head_sign[] = "UPDATE audit_head SET signature = ?1 WHERE id = 1";

#define AUDIT_ZERO_HASH "0000000000000000000000000000000000000000000000000000000000000000"

int store_audit_prepare(const struct tnd_host *host, const struct tnd_write *write, struct tnd_error *err)
{
	const struct tnd_audit_record *rec = write->record;

	if (!TND_HAS_FIELD(host, struct tnd_host, audit_sign_head) || host->audit_hash == NULL ||
	    host->audit_sign_records == NULL || host->audit_sign_head == NULL) {
		tnd_error_set(err, "the host cannot seal audit records (core older than ABI 1.2)");
		return -ENOTSUP;
	}
	if (rec->size < STORE_RECORD_SIZE(struct tnd_audit_record, signature)) {
		tnd_error_set(err, "audit record has size %u, smaller than ABI 1.2's", rec->size);
		return -EINVAL;
	}
	if (!store_has_text(rec->action) || !store_has_text(rec->outcome)) {
		tnd_error_set(err, "audit record lacks %s", store_has_text(rec->action) ? "an outcome" : "an action");
		return -EINVAL;
	}
	return 0;
}

/* The chain head: its seq and hash, or seq 0 and the zero hash for an empty
 * trail.  A trail with records but no head was tampered with: -EBADMSG. */
static int audit_head_read(struct store_conn *writer, int64_t *ret_seq, char ret_hash[65], struct tnd_error *err)
{
	sqlite3_stmt *stmt;
	int rc, r;

	r = store_conn_prepare_static(writer, audit_sql_head, &stmt, err);
	if (r < 0)
		return r;
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		const unsigned char *hash = sqlite3_column_text(stmt, 1);
		*ret_seq = sqlite3_column_int64(stmt, 0);
		snprintf(ret_hash, 65, "%s", hash ? (const char *)hash : "");
		store_stmt_done(stmt);
		return 0;
	}
	store_stmt_done(stmt);
	if (rc != SQLITE_DONE)
		return store_fail(err, writer->db, rc, "read the audit chain head");

	r = store_conn_prepare_static(writer, audit_sql_any, &stmt, err);
	if (r < 0)
		return r;
	rc = sqlite3_step(stmt);
	r = rc == SQLITE_ROW ? 0 : store_fail(err, writer->db, rc, "look for audit records");
	if (r == 0 && sqlite3_column_int64(stmt, 0) != 0) {
		tnd_error_set(err, "the audit trail has records but no chain head: refusing to extend it");
		r = -EBADMSG;
	}
	store_stmt_done(stmt);
	*ret_seq = 0;
	memcpy(ret_hash, AUDIT_ZERO_HASH, 65);
	return r;
}

int store_audit_apply(const struct tnd_host *host, struct store_conn *writer, const struct tnd_audit_record *rec,
		      struct tnd_error *err)
{
	struct tnd_audit_digest seal;
	char prev_hash[65];
	int64_t seq;
	sqlite3_stmt *stmt;
	int r;

	r = audit_head_read(writer, &seq, prev_hash, err);
	if (r < 0)
		return r;
	seq++;
	r = host->audit_hash(host, rec, seq, prev_hash, &seal, err);
	if (r < 0)
		return r;

	r = store_conn_prepare_static(writer, audit_sql_insert, &stmt, err);
	if (r < 0)
		return r;
	sqlite3_bind_int64(stmt, 1, seq);
	sqlite3_bind_int64(stmt, 2, rec->time_ms);
	store_bind_text(stmt, 3, rec->tenant_id);
	store_bind_text(stmt, 4, rec->actor);
	store_bind_text(stmt, 5, rec->action);
	store_bind_text(stmt, 6, rec->target);
	store_bind_text(stmt, 7, rec->previous_state);
	store_bind_text(stmt, 8, rec->new_state);
	store_bind_text(stmt, 9, rec->outcome);
	store_bind_text(stmt, 10, rec->reason);
	store_bind_text(stmt, 11, rec->request_id);
	store_bind_text(stmt, 12, rec->correlation_id);
	store_bind_text(stmt, 13, seal.key_id);
	store_bind_text(stmt, 14, prev_hash);
	store_bind_text(stmt, 15, seal.hash);
	sqlite3_bind_text(stmt, 16, "", 0, SQLITE_STATIC); /* signed before COMMIT */
	r = store_step_done(writer, stmt, "append audit record", err);
	/* a taken seq means the table and its head disagree: never a reason
	 * for the core to retry (which -EEXIST would tell it) */
	if (r == -EEXIST || r == -ESTALE) {
		tnd_error_set(err, "audit record %lld exists beyond the chain head: refusing to extend the trail",
			      (long long)seq);
		r = -EBADMSG;
	}
	if (r < 0)
		return r;

	r = store_conn_prepare_static(writer, audit_sql_head_put, &stmt, err);
	if (r < 0)
		return r;
	sqlite3_bind_int64(stmt, 1, seq);
	store_bind_text(stmt, 2, seal.hash);
	store_bind_text(stmt, 3, seal.key_id);
	r = store_step_done(writer, stmt, "move the audit chain head", err);
	if (r == 0 && !writer->audit_head_pending) {
		writer->audit_head_pending = true;
		writer->audit_unsigned_from = seq;
	}
	return r == -EEXIST || r == -ESTALE ? -EBADMSG : r;
}

/* Sign the records of this transaction that are still unsigned, in one batch. */
static int audit_sign_records(const struct tnd_host *host, struct store_conn *writer, struct tnd_error *err)
{
	int64_t *seqs = NULL;
	char (*hashes)[65] = NULL, (*signatures)[89] = NULL;
	const char **hash_ptrs = NULL;
	size_t n = 0, cap = 0;
	sqlite3_stmt *stmt;
	int rc, r;

	r = store_conn_prepare_static(writer, audit_sql_unsigned, &stmt, err);
	if (r < 0)
		return r;
	sqlite3_bind_int64(stmt, 1, writer->audit_unsigned_from);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		if (n == cap) {
			size_t grown = cap ? 2 * cap : 64;
			void *a = realloc(seqs, grown * sizeof(*seqs)), *b;
			if (a)
				seqs = a;
			b = a ? realloc(hashes, grown * sizeof(*hashes)) : NULL;
			if (b == NULL) {
				store_stmt_done(stmt);
				tnd_error_set(err, "out of memory");
				r = -ENOMEM;
				goto out;
			}
			hashes = b;
			cap = grown;
		}
		seqs[n] = sqlite3_column_int64(stmt, 0);
		snprintf(hashes[n], sizeof(hashes[n]), "%s", (const char *)sqlite3_column_text(stmt, 1));
		n++;
	}
	store_stmt_done(stmt);
	if (rc != SQLITE_DONE) {
		r = store_fail(err, writer->db, rc, "read the unsigned audit records");
		goto out;
	}
	if (n == 0)
		goto out;
	signatures = calloc(n, sizeof(*signatures));
	hash_ptrs = calloc(n, sizeof(*hash_ptrs));
	if (signatures == NULL || hash_ptrs == NULL) {
		tnd_error_set(err, "out of memory");
		r = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		hash_ptrs[i] = hashes[i];
	r = host->audit_sign_records(host, n, hash_ptrs, signatures, err);
	for (size_t i = 0; r == 0 && i < n; i++) {
		r = store_conn_prepare_static(writer, audit_sql_record_sign, &stmt, err);
		if (r < 0)
			break;
		store_bind_text(stmt, 1, signatures[i]);
		sqlite3_bind_int64(stmt, 2, seqs[i]);
		r = store_step_done(writer, stmt, "sign an audit record", err);
	}
out:
	free(seqs);
	free(hashes);
	free(signatures);
	free(hash_ptrs);
	return r;
}

int store_audit_sign_head(const struct tnd_host *host, struct store_conn *writer, struct tnd_error *err)
{
	char hash[65], signature[89];
	sqlite3_stmt *stmt;
	int64_t seq;
	int rc, r;

	if (!writer->audit_head_pending)
		return 0;
	writer->audit_head_pending = false;
	r = audit_sign_records(host, writer, err);
	if (r < 0)
		return r;
	/* the commits that moved it may all have been rolled back since */
	r = store_conn_prepare_static(writer, audit_sql_head_unsigned, &stmt, err);
	if (r < 0)
		return r;
	rc = sqlite3_step(stmt);
	if (rc != SQLITE_ROW) {
		store_stmt_done(stmt);
		return rc == SQLITE_DONE ? 0 : store_fail(err, writer->db, rc, "read the audit chain head");
	}
	seq = sqlite3_column_int64(stmt, 0);
	snprintf(hash, sizeof(hash), "%s", (const char *)sqlite3_column_text(stmt, 1));
	store_stmt_done(stmt);
	r = host->audit_sign_head(host, seq, hash, signature, err);
	if (r < 0)
		return r;
	r = store_conn_prepare_static(writer, audit_sql_head_sign, &stmt, err);
	if (r < 0)
		return r;
	store_bind_text(stmt, 1, signature);
	return store_step_done(writer, stmt, "sign the audit chain head", err);
}
