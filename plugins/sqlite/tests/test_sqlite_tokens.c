/*
 * test_sqlite_tokens.c — the token and grant writes of storage ABI 1.2,
 * driven through the built sqlite.so: tokens inserted and read back field
 * by field (with the hash, which only the core's index sees), unique ids
 * and hashes, revocation once (-ENOENT, -EALREADY), grants inserted
 * pending and decided once (-ESTALE), the list filters, and the refusals
 * of malformed records.
 */
#include "autoconfig.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "host.h"
#include "sqlite_harness.h"
#include "testutil.h"
#include "util.h"

#define HASH_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define HASH_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

static struct tnd_token_record token(const char *id, const char *hash)
{
	return (struct tnd_token_record){
		.size = sizeof(struct tnd_token_record), .id = id, .name = "ci", .role = "viewer", .hash = hash,
		.created_by = "admin", .request_id = "rid-1", .created_ms = 1000,
	};
}

static struct tnd_grant_record grant(const char *id)
{
	return (struct tnd_grant_record){
		.size = sizeof(struct tnd_grant_record), .id = id, .subject = "file:ops", .requester = "ops",
		.role = "admin", .reason = "incident", .ttl_s = 60, .state = "pending", .request_id = "rid-2",
		.requested_ms = 2000,
	};
}

static int token_text(const struct tnd_token_record *rec, void *userdata)
{
	struct tnd_buf *b = userdata;

	tnd_buf_addf(b, "%s%s|%s|%s|%s|%s|%s|%lld|%lld|%lld|%s", b->len ? ";" : "", rec->id, rec->name, rec->role,
		     rec->tenant_id ? rec->tenant_id : "-", rec->hash, rec->created_by, (long long)rec->created_ms,
		     (long long)rec->expires_ms, (long long)rec->revoked_ms, rec->revoked_by ? rec->revoked_by : "-");
	return 0;
}

static int grant_text(const struct tnd_grant_record *rec, void *userdata)
{
	struct tnd_buf *b = userdata;

	tnd_buf_addf(b, "%s%s|%s|%s|%s|%lld|%s|%s|%lld|%lld", b->len ? ";" : "", rec->id, rec->subject, rec->requester,
		     rec->reason, (long long)rec->ttl_s, rec->state, rec->decided_by ? rec->decided_by : "-",
		     (long long)rec->decided_ms, (long long)rec->expires_ms);
	return 0;
}

static char *tokens_text(struct harness *h, const char *id, const char *after, uint32_t limit)
{
	struct tnd_token_query q = { .size = sizeof(q), .id = id, .after_id = after, .limit = limit };
	struct tnd_error err = { { 0 } };
	struct tnd_buf b;

	tnd_buf_init(&b);
	if (h->ops->token_list(h->ctx, &q, token_text, &b, &err) != 0)
		fail_msg("token_list: %s", err.message);
	return b.data ? tnd_buf_steal(&b) : tnd_xstrdup("");
}

static char *grants_text(struct harness *h, const char *id, const char *state)
{
	struct tnd_grant_query q = { .size = sizeof(q), .id = id, .state = state };
	struct tnd_error err = { { 0 } };
	struct tnd_buf b;

	tnd_buf_init(&b);
	if (h->ops->grant_list(h->ctx, &q, grant_text, &b, &err) != 0)
		fail_msg("grant_list: %s", err.message);
	return b.data ? tnd_buf_steal(&b) : tnd_xstrdup("");
}

#define assert_text(got_expr, expected)                \
	do {                                           \
		char *got_ = (got_expr);               \
		assert_string_equal(got_, (expected)); \
		free(got_);                            \
	} while (0)

static void test_tokens(void **state)
{
	struct harness *h = *state;
	struct tnd_token_record a = token("tok-1", HASH_A), b = token("tok-2", HASH_B);
	struct tnd_token_record revoke = { .size = sizeof(revoke), .id = "tok-1", .revoked_ms = 5000,
					   .revoked_by = "root" };
	struct tnd_error err = { { 0 } };

	assert_non_null(h->ops->token_list);
	b.role = "tenant";
	b.tenant_id = "acme-corp";
	b.expires_ms = 9000;
	assert_int_equal(harness_commit1(h, TND_WRITE_TOKEN_INSERT, 0, &a, &err), 0);
	assert_int_equal(harness_commit1(h, TND_WRITE_TOKEN_INSERT, 0, &b, &err), 0);
	assert_text(tokens_text(h, NULL, NULL, 0),
		    "tok-1|ci|viewer|-|" HASH_A "|admin|1000|0|0|-;tok-2|ci|tenant|acme-corp|" HASH_B
		    "|admin|1000|9000|0|-");
	assert_text(tokens_text(h, "tok-2", NULL, 0),
		    "tok-2|ci|tenant|acme-corp|" HASH_B "|admin|1000|9000|0|-");
	assert_text(tokens_text(h, NULL, "tok-1", 0),
		    "tok-2|ci|tenant|acme-corp|" HASH_B "|admin|1000|9000|0|-");
	assert_text(tokens_text(h, NULL, NULL, 1), "tok-1|ci|viewer|-|" HASH_A "|admin|1000|0|0|-");

	/* unique id, unique hash */
	assert_int_equal(harness_commit1(h, TND_WRITE_TOKEN_INSERT, 0, &a, &err), -EEXIST);
	a.id = "tok-3";
	assert_int_equal(harness_commit1(h, TND_WRITE_TOKEN_INSERT, 0, &a, &err), -EEXIST);

	/* revoked once */
	assert_int_equal(harness_commit1(h, TND_WRITE_TOKEN_REVOKE, 0, &revoke, &err), 0);
	assert_text(tokens_text(h, "tok-1", NULL, 0), "tok-1|ci|viewer|-|" HASH_A "|admin|1000|0|5000|root");
	assert_int_equal(harness_commit1(h, TND_WRITE_TOKEN_REVOKE, 0, &revoke, &err), -EALREADY);
	revoke.id = "tok-404";
	assert_int_equal(harness_commit1(h, TND_WRITE_TOKEN_REVOKE, 0, &revoke, &err), -ENOENT);
}

static void test_token_refusals(void **state)
{
	struct harness *h = *state;
	struct tnd_token_record rec;
	struct tnd_error err = { { 0 } };

	rec = token("tok-1", "ABC");
	assert_int_equal(harness_commit1(h, TND_WRITE_TOKEN_INSERT, 0, &rec, &err), -EINVAL);
	rec = token("tok-1", HASH_A);
	rec.role = "root";
	assert_int_equal(harness_commit1(h, TND_WRITE_TOKEN_INSERT, 0, &rec, &err), -EINVAL);
	rec = token("tok-1", HASH_A);
	rec.role = "tenant"; /* without a tenant */
	assert_int_equal(harness_commit1(h, TND_WRITE_TOKEN_INSERT, 0, &rec, &err), -EINVAL);
	rec = token("tok-1", HASH_A);
	rec.tenant_id = "acme-corp"; /* a viewer with a tenant */
	assert_int_equal(harness_commit1(h, TND_WRITE_TOKEN_INSERT, 0, &rec, &err), -EINVAL);
	rec = token("tok-1", HASH_A);
	rec.revoked_ms = 5; /* born revoked */
	assert_int_equal(harness_commit1(h, TND_WRITE_TOKEN_INSERT, 0, &rec, &err), -EINVAL);
	rec = token("tok-1", HASH_A);
	rec.expires_ms = 1000;
	assert_int_equal(harness_commit1(h, TND_WRITE_TOKEN_INSERT, 0, &rec, &err), -EINVAL);
	rec = token("tok-1", HASH_A);
	rec.size = sizeof(uint32_t) + sizeof(void *);
	assert_int_equal(harness_commit1(h, TND_WRITE_TOKEN_INSERT, 0, &rec, &err), -EINVAL);
	{
		struct tnd_token_query q = { .size = sizeof(uint32_t) };

		assert_int_equal(h->ops->token_list(h->ctx, &q, token_text, NULL, &err), -EINVAL);
	}
	assert_text(tokens_text(h, NULL, NULL, 0), "");
}

static void test_grants(void **state)
{
	struct harness *h = *state;
	struct tnd_grant_record a = grant("bg-1"), b = grant("bg-2");
	struct tnd_grant_record decide = { .size = sizeof(decide), .id = "bg-1", .state = "approved",
					   .decided_by = "root", .decided_ms = 3000, .expires_ms = 63000 };
	struct tnd_error err = { { 0 } };

	assert_non_null(h->ops->grant_list);
	assert_int_equal(harness_commit1(h, TND_WRITE_GRANT_INSERT, 0, &a, &err), 0);
	assert_int_equal(harness_commit1(h, TND_WRITE_GRANT_INSERT, 0, &b, &err), 0);
	assert_int_equal(harness_commit1(h, TND_WRITE_GRANT_INSERT, 0, &a, &err), -EEXIST);
	assert_text(grants_text(h, NULL, NULL),
		    "bg-1|file:ops|ops|incident|60|pending|-|0|0;bg-2|file:ops|ops|incident|60|pending|-|0|0");

	assert_int_equal(harness_commit1(h, TND_WRITE_GRANT_DECIDE, 0, &decide, &err), 0);
	assert_text(grants_text(h, "bg-1", NULL), "bg-1|file:ops|ops|incident|60|approved|root|3000|63000");
	/* decided once */
	decide.state = "denied";
	decide.expires_ms = 0;
	assert_int_equal(harness_commit1(h, TND_WRITE_GRANT_DECIDE, 0, &decide, &err), -ESTALE);
	decide.id = "bg-2";
	assert_int_equal(harness_commit1(h, TND_WRITE_GRANT_DECIDE, 0, &decide, &err), 0);
	decide.id = "bg-404";
	assert_int_equal(harness_commit1(h, TND_WRITE_GRANT_DECIDE, 0, &decide, &err), -ENOENT);
	assert_text(grants_text(h, NULL, "approved"), "bg-1|file:ops|ops|incident|60|approved|root|3000|63000");
	assert_text(grants_text(h, NULL, "denied"), "bg-2|file:ops|ops|incident|60|denied|root|3000|0");
	assert_text(grants_text(h, NULL, "pending"), "");

	/* refusals: a new grant is pending; an approval has an expiry; a
	 * decision is approved or denied */
	a = grant("bg-3");
	a.state = "approved";
	assert_int_equal(harness_commit1(h, TND_WRITE_GRANT_INSERT, 0, &a, &err), -EINVAL);
	a = grant("bg-3");
	a.reason = NULL;
	assert_int_equal(harness_commit1(h, TND_WRITE_GRANT_INSERT, 0, &a, &err), -EINVAL);
	decide.id = "bg-1";
	decide.state = "approved";
	decide.expires_ms = 0;
	assert_int_equal(harness_commit1(h, TND_WRITE_GRANT_DECIDE, 0, &decide, &err), -EINVAL);
	decide.state = "pending";
	assert_int_equal(harness_commit1(h, TND_WRITE_GRANT_DECIDE, 0, &decide, &err), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_tokens, harness_setup_open, harness_teardown),
		cmocka_unit_test_setup_teardown(test_token_refusals, harness_setup_open, harness_teardown),
		cmocka_unit_test_setup_teardown(test_grants, harness_setup_open, harness_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
