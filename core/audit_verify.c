/*
 * audit_verify.c — chain and signature verification (see audit_verify.h).
 *
 * The first problem found wins and names its seq:
 *   - a record whose seq is not the one expected: a deletion (the missing
 *     seq is reported) or an insertion (the extra seq is reported);
 *   - a hash that is not SHA-256 of the record's canonical form: an edit,
 *     or a record moved to another seq (reordering), since seq is hashed;
 *   - a prevHash that is not the previous record's hash: a record replaced
 *     wholesale, with a recomputed hash;
 *   - a signature that does not verify, or by a key not in the keyring:
 *     a record re-hashed and re-signed by anyone but us;
 *   - a chain head that is missing, unsigned, or names another seq or hash
 *     than the last record: records cut off the end (truncation), or
 *     appended after it.
 */
#include "autoconfig.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit_key.h"
#include "audit_record.h"
#include "audit_verify.h"
#include "registry.h"
#include "util.h"

#define VERIFY_PAGE 1000

void audit_verifier_init(struct audit_verifier *v, const struct audit_keyring *ring, int64_t from)
{
	memset(v, 0, sizeof(*v));
	v->ring = ring;
	v->from = from < 1 ? 1 : from;
	v->expect_seq = v->from;
	if (v->from == 1)
		memcpy(v->prev_hash, AUDIT_ZERO_HASH, 65);
}

static bool verify_bad(struct audit_verifier *v, int64_t seq, const char *fmt, ...) TND_PRINTF(3, 4);

static bool verify_bad(struct audit_verifier *v, int64_t seq, const char *fmt, ...)
{
	va_list ap;

	v->first_bad = seq;
	va_start(ap, fmt);
	vsnprintf(v->reason, sizeof(v->reason), fmt, ap);
	va_end(ap);
	return false;
}

bool audit_verifier_feed(struct audit_verifier *v, const struct tnd_audit_record *rec)
{
	unsigned char raw[32];
	char hash[65], *canonical;
	int r;

	if (v->first_bad)
		return false;
	if (rec->seq > v->expect_seq)
		return verify_bad(v, v->expect_seq, "record %lld is missing (the next one is %lld)",
				  (long long)v->expect_seq, (long long)rec->seq);
	if (rec->seq < v->expect_seq)
		return verify_bad(v, rec->seq, "unexpected record %lld where %lld was due", (long long)rec->seq,
				  (long long)v->expect_seq);
	canonical = audit_canonical(rec, rec->seq, rec->key_id, rec->prev_hash);
	audit_hash(canonical, raw, hash);
	free(canonical);
	if (!tnd_streq(hash, rec->hash))
		return verify_bad(v, rec->seq, "record %lld was altered: its hash does not match its content",
				  (long long)rec->seq);
	if (v->prev_hash[0] && !tnd_streq(v->prev_hash, rec->prev_hash))
		return verify_bad(v, rec->seq, "record %lld does not follow record %lld: prevHash differs",
				  (long long)rec->seq, (long long)rec->seq - 1);
	r = audit_keyring_verify(v->ring, rec->key_id, raw, sizeof(raw), rec->signature);
	if (r == -ENOKEY)
		return verify_bad(v, rec->seq, "record %lld is signed by unknown key %s", (long long)rec->seq,
				  rec->key_id ? rec->key_id : "(none)");
	if (r < 0)
		return verify_bad(v, rec->seq, "record %lld has an invalid signature", (long long)rec->seq);
	if (v->anchor_seq == rec->seq) {
		if (!tnd_streq(v->anchor_hash, hash))
			return verify_bad(v, rec->seq, "record %lld is not the anchored one: its hash differs",
					  (long long)rec->seq);
		v->anchor_seen = true;
	}
	memcpy(v->prev_hash, hash, 65);
	v->expect_seq++;
	v->checked++;
	return true;
}

bool audit_verifier_finish_offline(struct audit_verifier *v)
{
	if (v->first_bad)
		return false;
	if (v->anchor_seq >= v->from && !v->anchor_seen)
		return verify_bad(v, v->expect_seq, "the trail ends at record %lld, before the anchored record %lld: "
				  "truncated", (long long)v->expect_seq - 1, (long long)v->anchor_seq);
	return true;
}

bool audit_verifier_finish(struct audit_verifier *v, const struct tnd_audit_head *head)
{
	int64_t last = v->expect_seq - 1;
	char *message;
	int r;

	if (v->first_bad)
		return false;
	if (head == NULL)
		return last < v->from && v->from == 1
			       ? true
			       : verify_bad(v, last < 1 ? 1 : last, "the signed chain head is missing");
	if (head->seq > last)
		return verify_bad(v, last + 1, "the trail is truncated: the chain head is record %lld, the last "
				  "record %lld", (long long)head->seq, (long long)last);
	/* with from beyond the head there is nothing to check but the head */
	if (head->seq < last && v->checked > 0)
		return verify_bad(v, head->seq + 1, "records after the chain head (%lld) were added",
				  (long long)head->seq);
	message = audit_head_message(head->seq, head->hash);
	r = audit_keyring_verify(v->ring, head->key_id, message, strlen(message), head->signature);
	free(message);
	if (r < 0)
		return verify_bad(v, head->seq, "the chain head (record %lld) has %s", (long long)head->seq,
				  r == -ENOKEY ? "an unknown key" : "an invalid signature");
	/* with from > 1 and nothing checked, prev_hash is empty: the head
	 * then only has to be signed and point at the last seq */
	if (v->prev_hash[0] && last >= v->from && !tnd_streq(head->hash, v->prev_hash))
		return verify_bad(v, last, "the chain head names another hash than record %lld", (long long)last);
	return true;
}

/* --- over the registry ----------------------------------------------------------------- */

struct verify_page {
	struct audit_verifier *v;
	int64_t stop_after;      /* the head read first: later records are not judged */
	int64_t last_seq;
	size_t n;
	bool stopped;
};

static int verify_visit(const struct tnd_audit_record *rec, void *userdata)
{
	struct verify_page *page = userdata;

	if (rec->seq > page->stop_after) {
		page->stopped = true;
		return 1;
	}
	page->n++;
	page->last_seq = rec->seq;
	return audit_verifier_feed(page->v, rec) ? 0 : 1;
}

struct verify_head {
	struct tnd_audit_head head;
	char *hash, *key_id, *signature;
	bool found;
};

static int verify_head_visit(const struct tnd_audit_head *head, void *userdata)
{
	struct verify_head *h = userdata;

	h->found = true;
	h->head = *head;
	h->head.hash = h->hash = tnd_xstrdup(head->hash);
	h->head.key_id = h->key_id = tnd_xstrdup(head->key_id);
	h->head.signature = h->signature = tnd_xstrdup(head->signature);
	return 1;
}

/* Feed the records after *@after_seq (up to @stop_after) page by page. */
static int verify_pages(struct registry *reg, struct audit_verifier *v, struct tnd_audit_query *query,
			int64_t stop_after, struct tnd_error *err)
{
	for (;;) {
		struct verify_page page = { .v = v, .stop_after = stop_after };
		int r = registry_audit_list(reg, query, verify_visit, &page, err);

		if (r < 0)
			return r;
		if (page.n > 0)
			query->after_seq = page.last_seq;
		if (v->first_bad || page.stopped || page.n < VERIFY_PAGE)
			return 0;
	}
}

int audit_verify_registry(struct registry *reg, const struct audit_keyring *ring, int64_t from, json_t **ret_report,
			  struct tnd_error *err)
{
	struct audit_verifier v;
	struct verify_head head = { .found = false };
	struct tnd_audit_query query = { .size = sizeof(query), .limit = VERIFY_PAGE };
	json_t *report;
	int r;

	audit_verifier_init(&v, ring, from);
	/* from > 1: the first record's prevHash is taken on trust */
	query.after_seq = v.from - 1;
	/*
	 * Every record first, then the head: the head moves in the transaction
	 * of each record, so a record beyond the head read afterwards was not
	 * written by us.  Records committed between the last page and the head
	 * are then read up to the head, so they are not taken for a cut-off
	 * end either.
	 */
	r = verify_pages(reg, &v, &query, INT64_MAX, err);
	if (r < 0)
		goto out;
	r = registry_audit_head(reg, verify_head_visit, &head, err);
	if (r < 0 && r != -ENOENT)
		goto out;
	if (!v.first_bad && head.found && head.head.seq >= v.expect_seq) {
		r = verify_pages(reg, &v, &query, head.head.seq, err);
		if (r < 0)
			goto out;
	}
	audit_verifier_finish(&v, head.found ? &head.head : NULL);
	report = json_object();
	json_object_set_new(report, "ok", json_boolean(v.first_bad == 0));
	json_object_set_new(report, "from", json_integer(v.from));
	json_object_set_new(report, "checked", json_integer(v.checked));
	json_object_set_new(report, "firstBadSeq", v.first_bad ? json_integer(v.first_bad) : json_null());
	json_object_set_new(report, "reason", v.first_bad ? json_string(v.reason) : json_null());
	if (head.found)
		json_object_set_new(report, "head", json_pack("{s:I, s:s, s:s}", "seq", (json_int_t)head.head.seq,
							      "hash", head.hash ? head.hash : "", "keyId",
							      head.key_id ? head.key_id : ""));
	else
		json_object_set_new(report, "head", json_null());
	*ret_report = report;
	r = 0;
out:
	free(head.hash);
	free(head.key_id);
	free(head.signature);
	return r;
}
