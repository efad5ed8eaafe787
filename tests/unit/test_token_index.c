/*
 * test_token_index.c — the in-memory indexes behind registry tokens and
 * break-glass grants: a created token (generated, hashed as the tokens
 * file does) authenticates with its principal; unknown, malformed and
 * revoked ones do not; expiry is exact to the millisecond; duplicates and
 * malformed records are refused; names are taken until expiry; many
 * tokens stay findable.  Grants: the state at a time, raising only the
 * grant's own operator/admin token, only while in force.
 */
#include "autoconfig.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "breakglass.h"
#include "token_index.h"
#include "tokens.h"
#include "util.h"

/* A fresh token and the record the API would store for it. */
struct made {
	char secret[TND_TOKEN_SIZE];
	char hash[65];
	char id[48];
	struct tnd_token_record rec;
};

static void make(struct made *m, const char *id, const char *name, const char *role, const char *tenant,
		 int64_t expires_ms)
{
	memset(m, 0, sizeof(*m));
	tokens_generate(m->secret);
	tokens_hash(m->secret, m->hash);
	snprintf(m->id, sizeof(m->id), "%s", id);
	m->rec = (struct tnd_token_record){
		.size = sizeof(m->rec), .id = m->id, .name = name, .role = role, .tenant_id = tenant,
		.hash = m->hash, .created_by = "admin", .created_ms = 1000, .expires_ms = expires_ms,
	};
}

static void test_create_and_authenticate(void **state)
{
	struct token_index *index = token_index_new();
	struct tnd_principal p;
	struct made ci, tenant;

	(void)state;
	make(&ci, "tok-1", "ci", "operator", NULL, 0);
	make(&tenant, "tok-2", "acme-reader", "tenant", "acme-corp", 0);
	/* the same shape as the tokens file's: "tnd_" + 43 base64url */
	assert_int_equal(strlen(ci.secret), TND_TOKEN_LEN);
	assert_true(tokens_well_formed(ci.secret));
	/* the hash is SHA-256 hex of the secret, never the secret */
	assert_int_equal(strlen(ci.hash), 64);
	assert_null(strstr(ci.hash, ci.secret + 4));

	assert_int_equal(token_index_add(index, &ci.rec), 0);
	assert_int_equal(token_index_add(index, &tenant.rec), 0);
	assert_int_equal(token_index_count(index), 2);

	assert_int_equal(token_index_authenticate(index, ci.secret, 5000, &p), 0);
	assert_string_equal(p.name, "ci");
	assert_int_equal(p.role, TND_ROLE_OPERATOR);
	assert_int_equal(p.base_role, TND_ROLE_OPERATOR);
	assert_string_equal(p.subject, "tok-1");
	assert_string_equal(p.tenant, "");
	assert_string_equal(p.grant, "");

	assert_int_equal(token_index_authenticate(index, tenant.secret, 5000, &p), 0);
	assert_int_equal(p.role, TND_ROLE_TENANT);
	assert_string_equal(p.tenant, "acme-corp");
	assert_string_equal(p.subject, "tok-2");
	token_index_free(index);
}

static void test_unknown_and_malformed(void **state)
{
	struct token_index *index = token_index_new();
	struct tnd_principal p = { .name = "untouched" };
	struct made ci, other;
	char wrong[TND_TOKEN_SIZE];

	(void)state;
	make(&ci, "tok-1", "ci", "viewer", NULL, 0);
	make(&other, "tok-2", "other", "viewer", NULL, 0);
	assert_int_equal(token_index_authenticate(index, ci.secret, 0, &p), -ENOENT);   /* empty index */
	assert_int_equal(token_index_add(index, &ci.rec), 0);
	assert_int_equal(token_index_authenticate(index, other.secret, 0, &p), -ENOENT);
	assert_int_equal(token_index_authenticate(index, "", 0, &p), -ENOENT);
	assert_int_equal(token_index_authenticate(index, "tnd_short", 0, &p), -ENOENT);
	assert_int_equal(token_index_authenticate(index, ci.hash, 0, &p), -ENOENT);  /* the hash is no token */
	memcpy(wrong, ci.secret, sizeof(wrong));
	wrong[10] = wrong[10] == 'A' ? 'B' : 'A';
	assert_int_equal(token_index_authenticate(index, wrong, 0, &p), -ENOENT);
	assert_int_equal(token_index_authenticate(NULL, ci.secret, 0, &p), -ENOENT);
	assert_string_equal(p.name, "untouched");
	token_index_free(index);
}

static void test_expiry(void **state)
{
	struct token_index *index = token_index_new();
	struct tnd_principal p;
	struct made m;

	(void)state;
	make(&m, "tok-1", "short", "viewer", NULL, 2000);
	assert_int_equal(token_index_add(index, &m.rec), 0);
	assert_int_equal(token_index_authenticate(index, m.secret, 1999, &p), 0);
	assert_int_equal(token_index_authenticate(index, m.secret, 2000, &p), -EKEYEXPIRED);
	assert_int_equal(token_index_authenticate(index, m.secret, 99999, &p), -EKEYEXPIRED);
	/* an expired name is free again; a live one is taken */
	assert_true(token_index_name_taken(index, "short", 1999));
	assert_false(token_index_name_taken(index, "short", 2000));
	assert_false(token_index_name_taken(index, "other", 0));
	token_index_free(index);
}

static void test_revocation(void **state)
{
	struct token_index *index = token_index_new();
	struct tnd_principal p;
	struct made a, b;

	(void)state;
	make(&a, "tok-1", "a", "admin", NULL, 0);
	make(&b, "tok-2", "b", "auditor", NULL, 0);
	assert_int_equal(token_index_add(index, &a.rec), 0);
	assert_int_equal(token_index_add(index, &b.rec), 0);
	assert_int_equal(token_index_revoke(index, "tok-1"), 0);
	assert_int_equal(token_index_authenticate(index, a.secret, 0, &p), -ENOENT);
	assert_int_equal(token_index_authenticate(index, b.secret, 0, &p), 0);
	assert_int_equal(token_index_revoke(index, "tok-1"), -ENOENT);
	assert_int_equal(token_index_revoke(index, "tok-404"), -ENOENT);
	assert_false(token_index_name_taken(index, "a", 0));
	/* a record loaded at start that was revoked is not indexed */
	a.rec.id = "tok-3";
	a.rec.revoked_ms = 7;
	assert_int_equal(token_index_add(index, &a.rec), 0);
	assert_int_equal(token_index_authenticate(index, a.secret, 0, &p), -ENOENT);
	assert_int_equal(token_index_count(index), 1);
	token_index_free(index);
}

static void test_refusals(void **state)
{
	struct token_index *index = token_index_new();
	struct made m;

	(void)state;
	make(&m, "tok-1", "x", "admin", NULL, 0);
	assert_int_equal(token_index_add(index, &m.rec), 0);
	assert_int_equal(token_index_add(index, &m.rec), -EEXIST);        /* same hash */
	m.rec.id = "tok-2";
	assert_int_equal(token_index_add(index, &m.rec), -EEXIST);
	make(&m, "tok-1", "y", "admin", NULL, 0);
	assert_int_equal(token_index_add(index, &m.rec), -EEXIST);        /* same id */
	make(&m, "tok-3", "z", "root", NULL, 0);
	assert_int_equal(token_index_add(index, &m.rec), -EINVAL);
	make(&m, "tok-3", "z", "tenant", NULL, 0);
	assert_int_equal(token_index_add(index, &m.rec), -EINVAL);
	make(&m, "tok-3", "z", "viewer", "acme-corp", 0);
	assert_int_equal(token_index_add(index, &m.rec), -EINVAL);
	make(&m, "tok-3", "z", "viewer", NULL, 0);
	m.rec.hash = "ABCDEF";
	assert_int_equal(token_index_add(index, &m.rec), -EINVAL);
	assert_int_equal(token_index_count(index), 1);
	token_index_free(index);
}

#define MANY 2000

static void test_many(void **state)
{
	struct token_index *index = token_index_new();
	struct made *m = tnd_xcalloc(MANY, sizeof(*m));
	char names[MANY][16];
	struct tnd_principal p;

	(void)state;
	for (int i = 0; i < MANY; i++) {
		char id[32];

		snprintf(id, sizeof(id), "tok-%05d", i);
		snprintf(names[i], sizeof(names[i]), "n%d", i);
		make(&m[i], id, names[i], "viewer", NULL, 0);
		m[i].rec.name = names[i];
		assert_int_equal(token_index_add(index, &m[i].rec), 0);
	}
	for (int i = 0; i < MANY; i += 2)
		assert_int_equal(token_index_revoke(index, m[i].id), 0);
	for (int i = 0; i < MANY; i++) {
		int r = token_index_authenticate(index, m[i].secret, 0, &p);

		if (i % 2) {
			assert_int_equal(r, 0);
			assert_string_equal(p.name, names[i]);
		} else {
			assert_int_equal(r, -ENOENT);
		}
	}
	free(m);
	token_index_free(index);
}

/* --- break-glass ----------------------------------------------------------------------- */

static struct tnd_grant_record grant(const char *state, int64_t requested, int64_t expires)
{
	return (struct tnd_grant_record){
		.size = sizeof(struct tnd_grant_record), .id = "bg-1", .subject = "file:operator",
		.requester = "operator", .role = "admin", .reason = "incident", .ttl_s = 60, .state = state,
		.requested_ms = requested, .decided_ms = expires ? requested + 10 : 0, .expires_ms = expires,
	};
}

static void test_grant_states(void **state)
{
	struct tnd_grant_record g;

	(void)state;
	g = grant("pending", 1000, 0);
	assert_string_equal(breakglass_state(&g, 1000), "pending");
	assert_string_equal(breakglass_state(&g, 60999), "pending");
	assert_string_equal(breakglass_state(&g, 61000), "expired");   /* lapsed unanswered */
	g = grant("approved", 1000, 90000);
	assert_string_equal(breakglass_state(&g, 89999), "approved");
	assert_string_equal(breakglass_state(&g, 90000), "expired");
	g = grant("denied", 1000, 0);
	assert_string_equal(breakglass_state(&g, 0), "denied");
	assert_string_equal(breakglass_state(&g, 999999), "denied");
}

static void test_elevation(void **state)
{
	struct breakglass *bg = breakglass_new();
	struct tnd_grant_record g = grant("approved", 1000, 90000);
	struct tnd_principal op = { .name = "operator", .role = TND_ROLE_OPERATOR, .base_role = TND_ROLE_OPERATOR,
				    .subject = "file:operator" };
	struct tnd_principal other = op, viewer = op, p;

	(void)state;
	snprintf(other.subject, sizeof(other.subject), "tok-2");
	viewer.role = viewer.base_role = TND_ROLE_VIEWER;

	/* nothing approved yet: pending and denied grants raise nobody */
	p = op;
	assert_false(breakglass_elevate(bg, &p, 2000));
	g.state = "pending";
	breakglass_add(bg, &g, 2000);
	g.state = "denied";
	breakglass_add(bg, &g, 2000);
	assert_false(breakglass_elevate(bg, &p, 2000));
	assert_int_equal(p.role, TND_ROLE_OPERATOR);

	g.state = "approved";
	breakglass_add(bg, &g, 2000);
	assert_true(breakglass_elevate(bg, &p, 2000));
	assert_int_equal(p.role, TND_ROLE_ADMIN);
	assert_int_equal(p.base_role, TND_ROLE_OPERATOR);
	assert_string_equal(p.grant, "bg-1");
	/* only its own token */
	p = other;
	assert_false(breakglass_elevate(bg, &p, 2000));
	/* a token lowered to viewer since (tokens file edited) is not raised */
	p = viewer;
	assert_false(breakglass_elevate(bg, &p, 2000));
	/* until the expiry, exactly */
	p = op;
	assert_true(breakglass_elevate(bg, &p, 89999));
	p = op;
	assert_false(breakglass_elevate(bg, &p, 90000));
	assert_int_equal(p.role, TND_ROLE_OPERATOR);
	assert_string_equal(p.grant, "");
	/* an approval that expired before it was loaded is not kept */
	g.id = "bg-2";
	g.subject = "tok-2";
	breakglass_add(bg, &g, 95000);
	p = other;
	assert_false(breakglass_elevate(bg, &p, 2000));
	breakglass_free(bg);
	assert_false(breakglass_elevate(NULL, &p, 0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_and_authenticate),
		cmocka_unit_test(test_unknown_and_malformed),
		cmocka_unit_test(test_expiry),
		cmocka_unit_test(test_revocation),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_many),
		cmocka_unit_test(test_grant_states),
		cmocka_unit_test(test_elevation),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
