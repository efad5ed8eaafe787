/*
 * test_sqlite_webhooks.c — the webhook write kinds and reads storage ABI
 * 1.2 added to the sqlite plugin (schema version 9), through the built
 * sqlite.so: subscriptions inserted and listed (deleted ones hidden unless
 * asked for), updates that never resurrect a deleted subscription and
 * never move a cursor back, delivery rows replaced by id and filtered by
 * subscription, state and due time, and requeue touching only dead rows
 * of its selection.
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

static struct tnd_webhook_record hook(const char *id)
{
	return (struct tnd_webhook_record){
		.size = sizeof(struct tnd_webhook_record), .id = id, .url = "https://hooks.example.com/x",
		.types_json = "[\"created\"]", .key_id = "0123456789abcdef", .secret_sealed = "c2VhbGVk",
		.state = "active", .cursor_seq = 5, .created_by = "admin", .created_ms = 1, .updated_ms = 1,
	};
}

static struct tnd_delivery_record delivery(const char *id, const char *sub, const char *state, int64_t next_ms,
					   int64_t created_ms)
{
	return (struct tnd_delivery_record){
		.size = sizeof(struct tnd_delivery_record), .id = id, .subscription_id = sub, .event_seq = 7,
		.event_id = "ev-7", .event_type = "tenancy.tenant.created", .state = state, .attempts = 4,
		.next_attempt_ms = next_ms, .last_status = 500, .last_error = "HTTP 500", .latency_ms = 12,
		.created_ms = created_ms, .updated_ms = created_ms,
	};
}

static int collect_hook(const struct tnd_webhook_record *rec, void *userdata)
{
	tnd_buf_addf(userdata, "%s:%s:%lld:%s;", rec->id, rec->state, (long long)rec->cursor_seq,
		     rec->types_json ? rec->types_json : "null");
	return 0;
}

static int collect_delivery(const struct tnd_delivery_record *rec, void *userdata)
{
	tnd_buf_addf(userdata, "%s:%s:%lld%s%s;", rec->id, rec->state, (long long)rec->attempts,
		     rec->attempts_json ? ":" : "", rec->attempts_json ? rec->attempts_json : "");
	return 0;
}

static char *hooks(struct harness *h, const char *id, const char *state)
{
	struct tnd_webhook_query q = { .size = sizeof(q), .id = id, .state = state };
	struct tnd_buf b = { 0 };
	struct tnd_error err = { { 0 } };

	assert_int_equal(h->ops->webhook_list(h->ctx, &q, collect_hook, &b, &err), 0);
	return b.data ? tnd_buf_steal(&b) : tnd_xstrdup("");
}

static char *deliveries(struct harness *h, const char *sub, const char *state, int64_t due_before)
{
	struct tnd_delivery_query q = { .size = sizeof(q), .subscription_id = sub, .state = state,
					.due_before_ms = due_before };
	struct tnd_buf b = { 0 };
	struct tnd_error err = { { 0 } };

	assert_int_equal(h->ops->delivery_list(h->ctx, &q, collect_delivery, &b, &err), 0);
	return b.data ? tnd_buf_steal(&b) : tnd_xstrdup("");
}

#define assert_text(got_expr, expected)                \
	do {                                           \
		char *got_ = (got_expr);               \
		assert_string_equal(got_, (expected)); \
		free(got_);                            \
	} while (0)

static int commit1(struct harness *h, uint32_t kind, const void *rec)
{
	struct tnd_write w = { .kind = kind, .record = rec };
	struct tnd_error err = { { 0 } };

	return h->ops->commit(h->ctx, &w, 1, NULL, &err);
}

static void test_subscriptions(void **state)
{
	struct harness *h = *state;
	struct tnd_webhook_record a = hook("whk-a"), b = hook("whk-b"), upd = { .size = sizeof(upd) };

	b.types_json = NULL;
	assert_int_equal(commit1(h, TND_WRITE_WEBHOOK_INSERT, &a), 0);
	assert_int_equal(commit1(h, TND_WRITE_WEBHOOK_INSERT, &b), 0);
	assert_int_equal(commit1(h, TND_WRITE_WEBHOOK_INSERT, &a), -EEXIST);
	assert_text(hooks(h, NULL, NULL), "whk-a:active:5:[\"created\"];whk-b:active:5:null;");
	/* the cursor moves forward only; a NULL state keeps the state */
	upd.id = "whk-a";
	upd.cursor_seq = 9;
	assert_int_equal(commit1(h, TND_WRITE_WEBHOOK_UPDATE, &upd), 0);
	upd.cursor_seq = 3;
	assert_int_equal(commit1(h, TND_WRITE_WEBHOOK_UPDATE, &upd), 0);
	assert_text(hooks(h, "whk-a", NULL), "whk-a:active:9:[\"created\"];");
	/* disabled, then deleted; deleted stays deleted and is hidden */
	upd.state = "disabled";
	assert_int_equal(commit1(h, TND_WRITE_WEBHOOK_UPDATE, &upd), 0);
	assert_text(hooks(h, NULL, "active"), "whk-b:active:5:null;");
	upd.state = "deleted";
	assert_int_equal(commit1(h, TND_WRITE_WEBHOOK_UPDATE, &upd), 0);
	upd.state = "active";
	assert_int_equal(commit1(h, TND_WRITE_WEBHOOK_UPDATE, &upd), 0);
	assert_text(hooks(h, NULL, NULL), "whk-b:active:5:null;");
	assert_text(hooks(h, NULL, "deleted"), "whk-a:deleted:9:[\"created\"];");
	/* refusals */
	upd.id = "whk-none";
	upd.state = NULL;
	assert_int_equal(commit1(h, TND_WRITE_WEBHOOK_UPDATE, &upd), -ENOENT);
	upd.id = "whk-b";
	upd.state = "bogus";
	assert_int_equal(commit1(h, TND_WRITE_WEBHOOK_UPDATE, &upd), -EINVAL);
	a = hook("whk-c");
	a.secret_sealed = NULL;
	assert_int_equal(commit1(h, TND_WRITE_WEBHOOK_INSERT, &a), -EINVAL);
}

static void test_deliveries_and_requeue(void **state)
{
	struct harness *h = *state;
	struct tnd_delivery_record d1 = delivery("dlv-1-s", "s", "dead", 0, 100),
				   d2 = delivery("dlv-2-s", "s", "dead", 0, 200),
				   d3 = delivery("dlv-3-s", "s", "pending", 50, 300),
				   d4 = delivery("dlv-4-t", "t", "dead", 0, 150);
	struct tnd_delivery_requeue rq = { .size = sizeof(rq), .subscription_id = "s", .from_ms = 150, .until_ms = 250,
					   .now_ms = 1000 };

	assert_int_equal(commit1(h, TND_WRITE_DELIVERY_PUT, &d1), 0);
	assert_int_equal(commit1(h, TND_WRITE_DELIVERY_PUT, &d2), 0);
	assert_int_equal(commit1(h, TND_WRITE_DELIVERY_PUT, &d3), 0);
	assert_int_equal(commit1(h, TND_WRITE_DELIVERY_PUT, &d4), 0);
	assert_text(deliveries(h, "s", NULL, 0), "dlv-1-s:dead:4;dlv-2-s:dead:4;dlv-3-s:pending:4;");
	assert_text(deliveries(h, NULL, "dead", 0), "dlv-1-s:dead:4;dlv-2-s:dead:4;dlv-4-t:dead:4;");
	assert_text(deliveries(h, NULL, "pending", 49), "");
	assert_text(deliveries(h, NULL, "pending", 50), "dlv-3-s:pending:4;");
	/* a put replaces by id */
	d3.state = "delivered";
	d3.attempts = 5;
	d3.attempts_json = "[{\"attempt\":5}]";
	assert_int_equal(commit1(h, TND_WRITE_DELIVERY_PUT, &d3), 0);
	assert_text(deliveries(h, "s", "delivered", 0), "dlv-3-s:delivered:5:[{\"attempt\":5}];");
	d3.attempts_json = NULL;
	/* requeue: dead ones of s created in [150, 250): only dlv-2-s */
	assert_int_equal(commit1(h, TND_WRITE_DELIVERY_REQUEUE, &rq), 0);
	assert_text(deliveries(h, NULL, "pending", 1000), "dlv-2-s:pending:0;");
	/* by id; a delivered row is never requeued */
	rq = (struct tnd_delivery_requeue){ .size = sizeof(rq), .id = "dlv-3-s", .now_ms = 2000 };
	assert_int_equal(commit1(h, TND_WRITE_DELIVERY_REQUEUE, &rq), 0);
	assert_text(deliveries(h, "s", "delivered", 0), "dlv-3-s:delivered:5:[{\"attempt\":5}];");
	rq.id = "dlv-4-t";
	assert_int_equal(commit1(h, TND_WRITE_DELIVERY_REQUEUE, &rq), 0);
	assert_text(deliveries(h, "t", NULL, 0), "dlv-4-t:pending:0;");
	/* refusals */
	d1.state = "lost";
	assert_int_equal(commit1(h, TND_WRITE_DELIVERY_PUT, &d1), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_subscriptions, harness_setup_open, harness_teardown),
		cmocka_unit_test_setup_teardown(test_deliveries_and_requeue, harness_setup_open, harness_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
