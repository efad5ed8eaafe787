/*
 * test_cli_reconcile.c — tenancyctl's view of the reconcile engine: the
 * tenant detail with its conditions, the workflow table and detail, the
 * "settled" verdict behind --wait, and the wait loop itself against an
 * in-process HTTP server (libmicrohttpd) that plays a tenant's progress:
 * settling after a few polls, failing, never settling, failing the request.
 */
#include "autoconfig.h"

#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <microhttpd.h>
#include <netinet/in.h>

#include "cli_commands.h"
#include "cli_http.h"
#include "cli_output.h"
#include "cli_render.h"
#include "cli_wait.h"
#include "host.h"
#include "util.h"

/* --- rendering into memory ----------------------------------------------------------- */

struct capture {
	FILE *fp;
	char *text;
	size_t len;
};

static FILE *capture_open(struct capture *c)
{
	c->text = NULL;
	c->len = 0;
	c->fp = open_memstream(&c->text, &c->len);
	assert_non_null(c->fp);
	return c->fp;
}

static const char *capture_close(struct capture *c)
{
	fclose(c->fp);
	c->fp = NULL;
	return c->text;
}

static void capture_free(struct capture *c)
{
	free(c->text);
	c->text = NULL;
}

static json_t *parse(const char *text)
{
	json_error_t jerr;
	json_t *doc = json_loads(text, 0, &jerr);

	if (doc == NULL)
		fail_msg("fixture is not JSON: %s (line %d)", jerr.text, jerr.line);
	return doc;
}

/* 2026-11-28T12:00:00Z: the fixtures' "now". */
static int64_t fixture_now(void)
{
	int64_t ms;

	assert_int_equal(cli_parse_time("2026-11-28T12:00:00.000Z", &ms), 0);
	return ms;
}

/* --- small pieces ---------------------------------------------------------------------- */

static void test_json_text(void **state)
{
	json_t *doc = parse("{\"s\":\"x\",\"i\":42,\"t\":true,\"f\":false,\"n\":null,\"o\":{\"a\":[1,\"two\"]},"
			    "\"e\":\"\"}");
	char buf[CLI_TEXT_BUF];

	(void)state;
	assert_string_equal(cli_json_text(doc, "/s", buf), "x");
	assert_string_equal(cli_json_text(doc, "/i", buf), "42");
	assert_string_equal(cli_json_text(doc, "/t", buf), "yes");
	assert_string_equal(cli_json_text(doc, "/f", buf), "no");
	assert_string_equal(cli_json_text(doc, "/n", buf), "");
	assert_string_equal(cli_json_text(doc, "/o", buf), "");
	assert_string_equal(cli_json_text(doc, "/o/a/1", buf), "two");
	assert_string_equal(cli_json_text(doc, "/missing", buf), "");
	assert_string_equal(cli_json_text_either(doc, "/e", "/s", buf), "x");
	assert_string_equal(cli_json_text_either(doc, "/i", "/s", buf), "42");
	json_decref(doc);
}

static void test_durations(void **state)
{
	char out[CLI_DURATION_MAX];

	(void)state;
	cli_format_duration(0.444, out);
	assert_string_equal(out, "444us");
	cli_format_duration(37.178, out);
	assert_string_equal(out, "37.2ms");
	cli_format_duration(999.94, out);
	assert_string_equal(out, "999.9ms");
	cli_format_duration(1520, out);
	assert_string_equal(out, "1.52s");
	cli_format_duration(125000, out);
	assert_string_equal(out, "2m05s");
	cli_format_duration(-1, out);
	assert_string_equal(out, "");
}

/* --- a tenant --------------------------------------------------------------------------- */

static const char reconciling_tenant[] =
	"{\"apiVersion\":\"tenancy/v1\",\"kind\":\"Tenant\","
	"\"metadata\":{\"id\":\"acme-corp\",\"displayName\":\"Acme Corp\",\"labels\":{\"tier\":\"gold\"},\"version\":2,"
	"\"createdAt\":\"2026-11-28T11:00:00.000Z\",\"updatedAt\":\"2026-11-28T11:59:50.000Z\"},"
	"\"spec\":{\"plan\":\"business\",\"isolation\":\"shared\",\"state\":\"suspended\","
	"\"placement\":{\"residency\":\"eu\",\"standbyRegion\":\"eu-central-1\"}},"
	"\"status\":{\"phase\":\"Active\",\"observedVersion\":1,"
	"\"placement\":{\"region\":\"eu-west-1\",\"isolation\":\"shared\",\"residency\":\"eu\",\"resources\":{}},"
	"\"conditions\":[{\"type\":\"Reconciling\",\"status\":\"True\",\"reason\":\"suspend\","
	"\"message\":\"suspend to version 2 (suspended)\",\"workflow\":\"wf-0001795870000000-0a0b0c0d\","
	"\"lastTransitionTime\":\"2026-11-28T11:59:50.000Z\"},"
	"{\"type\":\"Odd\",\"status\":\"False\",\"message\":\"a\\u001b[2Jb\"}]}}";

static void test_tenant_detail_shows_desired_observed_and_conditions(void **state)
{
	json_t *doc = parse(reconciling_tenant);
	struct capture c;

	(void)state;
	cli_print_tenant(capture_open(&c), doc, fixture_now());
	assert_string_equal(capture_close(&c),
			    "ID:                acme-corp\n"
			    "Display name:      Acme Corp\n"
			    "Phase:             Active\n"
			    "Desired state:     suspended\n"
			    "Version:           2\n"
			    "Observed version:  1\n"
			    "Plan:              business\n"
			    "Isolation:         shared\n"
			    "Region:            eu-west-1 (standby eu-central-1)\n"
			    "Residency:         eu\n"
			    "Labels:            tier=gold\n"
			    "Created:           2026-11-28T11:00:00.000Z (60m ago)\n"
			    "Updated:           2026-11-28T11:59:50.000Z (10s ago)\n"
			    "Conditions:\n"
			    "  Reconciling (suspend): suspend to version 2 (suspended) [workflow wf-0001795870000000-0a0b0c0d]\n"
			    /* a status other than True is shown; control characters never reach the terminal */
			    "  Odd=False: a?[2Jb\n");
	capture_free(&c);
	json_decref(doc);
}

static void test_tenant_detail_settled_has_no_conditions(void **state)
{
	json_t *doc = parse("{\"metadata\":{\"id\":\"initech\",\"version\":1},\"spec\":{\"plan\":\"free\","
			    "\"isolation\":\"shared\",\"state\":\"draft\",\"placement\":{\"residency\":\"eu\"}},"
			    "\"status\":{\"phase\":\"Draft\",\"observedVersion\":1,\"conditions\":[]}}");
	struct capture c;
	const char *text;

	(void)state;
	cli_print_tenant(capture_open(&c), doc, fixture_now());
	text = capture_close(&c);
	assert_non_null(strstr(text, "\nObserved version:  1\n"));
	/* no placement in status yet: what the spec asks for */
	assert_non_null(strstr(text, "\nIsolation:         shared\n"));
	assert_non_null(strstr(text, "\nResidency:         eu\n"));
	assert_non_null(strstr(text, "\nRegion:            -\n"));
	assert_null(strstr(text, "Conditions"));
	capture_free(&c);
	json_decref(doc);
}

/* --- workflows ------------------------------------------------------------------------------ */

static const char succeeded_wf[] =
	"{\"id\":\"wf-1795870238561-948ddc46\",\"tenantId\":\"bbb-corp\",\"kind\":\"activate\",\"targetVersion\":1,"
	"\"targetState\":\"active\",\"state\":\"Succeeded\",\"step\":1,\"attempts\":0,"
	"\"steps\":[{\"op\":\"provision\",\"status\":\"succeeded\",\"attempts\":1,"
	"\"startedAt\":\"2026-11-28T11:59:58.564Z\",\"finishedAt\":\"2026-11-28T11:59:58.601Z\","
	"\"durationMs\":37.177999999999997,\"worker\":\"local-2\"}],\"error\":null,"
	"\"plugin\":\"embedded_shared_schema\",\"region\":\"eu-west-1\",\"requestId\":\"req-1\","
	"\"createdAt\":\"2026-11-28T11:59:58.561Z\",\"updatedAt\":\"2026-11-28T11:59:58.601Z\"}";

static const char failed_wf[] =
	"{\"id\":\"wf-1795870452791-f1baae35\",\"tenantId\":\"westy\",\"kind\":\"update\",\"targetVersion\":2,"
	"\"targetState\":\"suspended\",\"state\":\"Failed\",\"step\":0,\"attempts\":2,"
	"\"steps\":[{\"op\":\"provision\",\"status\":\"failed\",\"attempts\":2,"
	"\"startedAt\":\"2026-11-28T11:57:00.000Z\",\"finishedAt\":\"2026-11-28T11:57:00.001Z\","
	"\"durationMs\":0.444,\"worker\":\"local-1\",\"error\":\"provision: /dp/us-west-2 is not a directory\"},"
	"{\"op\":\"suspend\",\"status\":\"pending\",\"attempts\":0}],"
	"\"error\":\"provision: /dp/us-west-2 is not a directory\",\"plugin\":\"embedded_shared_schema\","
	"\"region\":\"us-west-2\",\"requestId\":\"req-2\",\"retriedBy\":\"admin\","
	"\"createdAt\":\"2026-11-28T11:56:00.000Z\",\"updatedAt\":\"2026-11-28T11:57:00.001Z\"}";

static const char running_wf[] =
	"{\"id\":\"wf-1795870999999-00000001\",\"tenantId\":\"drifty\",\"kind\":\"repair\",\"targetVersion\":7,"
	"\"targetState\":\"archived\",\"state\":\"Running\",\"step\":1,\"attempts\":1,"
	"\"nextAttemptAt\":\"2026-11-28T12:00:04.000Z\","
	"\"steps\":[{\"op\":\"provision\",\"status\":\"succeeded\",\"attempts\":1,"
	"\"startedAt\":\"2026-11-28T11:59:50.000Z\",\"durationMs\":1520,\"worker\":\"remote-eu\"},"
	"{\"op\":\"archive\",\"status\":\"running\",\"attempts\":1,\"startedAt\":\"2026-11-28T11:59:58.000Z\"}],"
	"\"error\":null,\"drift\":[\"schema t_drifty is missing\",{\"grant\":\"usage\"}],"
	"\"plugin\":\"embedded_hybrid\",\"region\":\"ap-southeast-1\",\"requestId\":\"drift\","
	"\"createdAt\":\"2026-11-28T11:59:00.000Z\",\"updatedAt\":\"2026-11-28T11:59:59.000Z\","
	"\"running\":{\"step\":1,\"op\":\"archive\",\"since\":\"2026-11-28T11:59:58.000Z\"}}";

static void test_workflow_table(void **state)
{
	struct cli_table *table = cli_workflow_table_new();
	json_t *a = parse(succeeded_wf), *b = parse(failed_wf), *r = parse(running_wf);
	json_t *zero = parse("{\"id\":\"wf-z\",\"tenantId\":\"t\",\"kind\":\"update\",\"targetVersion\":3,"
			     "\"state\":\"Succeeded\",\"step\":0,\"attempts\":0,\"steps\":[],"
			     "\"createdAt\":\"2026-11-28T10:00:00.000Z\"}");
	struct capture c;

	(void)state;
	cli_workflow_table_add(table, a, fixture_now());
	cli_workflow_table_add(table, b, fixture_now());
	cli_workflow_table_add(table, r, fixture_now());
	cli_workflow_table_add(table, zero, fixture_now());
	assert_int_equal(cli_table_rows(table), 4);
	cli_table_print(table, capture_open(&c));
	/* STEP: done/total, plus the op a Pending, Running or Failed workflow is at */
	assert_string_equal(capture_close(&c),
			    "ID                          TENANT     KIND       VERSION   STATE       STEP            ATTEMPTS   AGE\n"
			    "wf-1795870238561-948ddc46   bbb-corp   activate   1         Succeeded   1/1             0          1s\n"
			    "wf-1795870452791-f1baae35   westy      update     2         Failed      0/2:provision   2          4m\n"
			    "wf-1795870999999-00000001   drifty     repair     7         Running     1/2:archive     1          60s\n"
			    "wf-z                        t          update     3         Succeeded   0/0             0          120m\n");
	capture_free(&c);
	cli_table_free(table);
	json_decref(a);
	json_decref(b);
	json_decref(r);
	json_decref(zero);
}

static void test_workflow_detail_succeeded(void **state)
{
	json_t *wf = parse(succeeded_wf);
	struct capture c;

	(void)state;
	cli_print_workflow(capture_open(&c), wf, fixture_now());
	assert_string_equal(capture_close(&c),
			    "ID:          wf-1795870238561-948ddc46\n"
			    "Tenant:      bbb-corp\n"
			    "Kind:        activate\n"
			    "Target:      version 1, active\n"
			    "State:       Succeeded\n"
			    "Progress:    1 of 1 step(s) done\n"
			    "Attempts:    0\n"
			    "Plugin:      embedded_shared_schema\n"
			    "Region:      eu-west-1\n"
			    "Request ID:  req-1\n"
			    "Created:     2026-11-28T11:59:58.561Z (1s ago)\n"
			    "Updated:     2026-11-28T11:59:58.601Z (1s ago)\n"
			    "Steps:\n"
			    "  STEP   OP          STATUS      ATTEMPTS   STARTED                    DURATION   WORKER    ERROR\n"
			    "  1      provision   succeeded   1          2026-11-28T11:59:58.564Z   37.2ms     local-2   -\n");
	capture_free(&c);
	json_decref(wf);
}

static void test_workflow_detail_failed(void **state)
{
	json_t *wf = parse(failed_wf);
	struct capture c;

	(void)state;
	cli_print_workflow(capture_open(&c), wf, fixture_now());
	assert_string_equal(capture_close(&c),
			    "ID:          wf-1795870452791-f1baae35\n"
			    "Tenant:      westy\n"
			    "Kind:        update\n"
			    "Target:      version 2, suspended\n"
			    "State:       Failed\n"
			    "Progress:    0 of 2 step(s) done\n"
			    "Attempts:    2\n"
			    "Plugin:      embedded_shared_schema\n"
			    "Region:      us-west-2\n"
			    "Request ID:  req-2\n"
			    "Retried by:  admin\n"
			    "Created:     2026-11-28T11:56:00.000Z (4m ago)\n"
			    "Updated:     2026-11-28T11:57:00.001Z (2m59s ago)\n"
			    "Error:       provision: /dp/us-west-2 is not a directory\n"
			    "Steps:\n"
			    "  STEP   OP          STATUS    ATTEMPTS   STARTED                    DURATION   WORKER    ERROR\n"
			    "  1      provision   failed    2          2026-11-28T11:57:00.000Z   444us      local-1   "
			    "provision: /dp/us-west-2 is not a directory\n"
			    "  2      suspend     pending   0          -                          -          -         -\n");
	capture_free(&c);
	json_decref(wf);
}

static void test_workflow_detail_running_with_drift(void **state)
{
	json_t *wf = parse(running_wf);
	struct capture c;
	const char *text;

	(void)state;
	cli_print_workflow(capture_open(&c), wf, fixture_now());
	text = capture_close(&c);
	assert_non_null(strstr(text, "\nNext attempt:  2026-11-28T12:00:04.000Z (in 4s)\n"));
	assert_non_null(strstr(text, "\n  1      provision   succeeded   1          2026-11-28T11:59:50.000Z   1.52s      "
				     "remote-eu   -\n"));
	assert_non_null(strstr(text, "\n  2      archive     running     1          2026-11-28T11:59:58.000Z   -          "
				     "-           -\n"));
	/* drift strings as they are, anything else as compact JSON */
	assert_non_null(strstr(text, "\nDrift:\n  - schema t_drifty is missing\n  - {\"grant\":\"usage\"}\n"));
	/* the overlay's step is an index: shown 1-based like the table */
	assert_non_null(strstr(text, "\nRunning: step 2 (archive) since 2026-11-28T11:59:58.000Z (2s ago)\n"));
	assert_null(strstr(text, "Error:"));
	assert_null(strstr(text, "Retried by:"));
	capture_free(&c);
	json_decref(wf);

	/* a due retry says so */
	wf = parse("{\"id\":\"wf-d\",\"state\":\"Pending\",\"step\":0,\"steps\":[],"
		   "\"nextAttemptAt\":\"2026-11-28T11:59:59.000Z\"}");
	cli_print_workflow(capture_open(&c), wf, fixture_now());
	text = capture_close(&c);
	assert_non_null(strstr(text, "\nNext attempt:  2026-11-28T11:59:59.000Z (due)\n"));
	/* a workflow of no steps has no steps table */
	assert_null(strstr(text, "Steps:"));
	capture_free(&c);
	json_decref(wf);
}

/* --- the settled verdict ----------------------------------------------------------------------- */

static json_t *tenant_doc(const char *phase, const char *desired, int version, int observed, const char *condition)
{
	char *text = tnd_xasprintf("{\"metadata\":{\"id\":\"x\",\"version\":%d},\"spec\":{\"state\":\"%s\"},"
				   "\"status\":{\"phase\":\"%s\",\"observedVersion\":%d,\"conditions\":[%s]}}",
				   version, desired, phase, observed, condition ? condition : "");
	json_t *doc = parse(text);

	free(text);
	return doc;
}

#define FAILED_CONDITION \
	"{\"type\":\"ReconcileFailed\",\"status\":\"True\",\"reason\":\"activate\"," \
	"\"message\":\"provision: disk full\",\"workflow\":\"wf-9\"}"
#define RECONCILING_CONDITION \
	"{\"type\":\"Reconciling\",\"status\":\"True\",\"reason\":\"activate\"," \
	"\"message\":\"activate to version 2 (active)\",\"workflow\":\"wf-8\"}"

static void test_settle_verdict(void **state)
{
	const json_t *condition = NULL;
	json_t *doc;

	(void)state;
	doc = tenant_doc("Active", "active", 2, 2, NULL);
	assert_int_equal(cli_tenant_settle(doc, 2, NULL), CLI_SETTLE_DONE);
	/* the write's version is observed, a newer one (somebody else's) need not be */
	assert_int_equal(cli_tenant_settle(doc, 1, NULL), CLI_SETTLE_DONE);
	assert_int_equal(cli_tenant_settle(doc, 3, NULL), CLI_SETTLE_PENDING);
	json_decref(doc);

	/* the phase lags while the workflow runs */
	doc = tenant_doc("Draft", "active", 2, 1, RECONCILING_CONDITION);
	assert_int_equal(cli_tenant_settle(doc, 2, NULL), CLI_SETTLE_PENDING);
	json_decref(doc);
	/* observed, but the phase is not yet the desired state */
	doc = tenant_doc("Active", "suspended", 3, 3, NULL);
	assert_int_equal(cli_tenant_settle(doc, 3, NULL), CLI_SETTLE_PENDING);
	json_decref(doc);
	/* a tombstone is settled too */
	doc = tenant_doc("Deleted", "deleted", 6, 6, NULL);
	assert_int_equal(cli_tenant_settle(doc, 6, NULL), CLI_SETTLE_DONE);
	json_decref(doc);

	doc = tenant_doc("Draft", "active", 2, 1, FAILED_CONDITION);
	assert_int_equal(cli_tenant_settle(doc, 2, &condition), CLI_SETTLE_FAILED);
	assert_non_null(condition);
	assert_string_equal(json_string_value(json_object_get(condition, "workflow")), "wf-9");
	json_decref(doc);

	/* a document without a status is not settled, whatever else it says */
	doc = parse("{\"metadata\":{\"version\":1},\"spec\":{\"state\":\"active\"}}");
	assert_int_equal(cli_tenant_settle(doc, 1, NULL), CLI_SETTLE_PENDING);
	json_decref(doc);
}

static void test_settle_describe(void **state)
{
	json_t *doc = tenant_doc("Draft", "active", 2, 1, RECONCILING_CONDITION);
	char *text = cli_settle_describe(doc, 2);

	(void)state;
	assert_string_equal(text, "to be Active at version 2 (now Draft, observed version 1; "
				  "Reconciling (activate): activate to version 2 (active))");
	free(text);
	json_decref(doc);
}

/* --- the wait loop against a server ------------------------------------------------------------ */

/*
 * The server answers GET /v1/tenants/<id> with script[id][n], n counting
 * that tenant's requests (the last entry repeats); an entry "500" answers
 * with a problem instead.
 */
#define SCRIPT_MAX 8

struct script {
	const char *id;
	const char *answers[SCRIPT_MAX];
	size_t n_answers;
	unsigned requests;
	int64_t first_ms, last_ms;
};

static struct {
	pthread_mutex_t lock;
	struct script scripts[2];
	size_t n_scripts;
} server = { .lock = PTHREAD_MUTEX_INITIALIZER };

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
				  const char *version, const char *upload_data, size_t *upload_size, void **req_cls)
{
	static const char not_found[] = "{\"title\":\"Not found\",\"status\":404}";
	static const char broken[] = "{\"title\":\"Registry unavailable\",\"status\":503}";
	const char *body = not_found;
	unsigned status = 404;
	struct MHD_Response *resp;
	enum MHD_Result r;

	(void)cls;
	(void)version;
	(void)upload_data;
	(void)upload_size;
	(void)req_cls;
	pthread_mutex_lock(&server.lock);
	for (size_t i = 0; i < server.n_scripts && strcmp(method, "GET") == 0; i++) {
		struct script *s = &server.scripts[i];
		char path[128];

		snprintf(path, sizeof(path), "/v1/tenants/%s", s->id);
		if (strcmp(url, path) != 0)
			continue;
		body = s->answers[s->requests < s->n_answers ? s->requests : s->n_answers - 1];
		s->last_ms = tnd_now_ms();
		if (s->requests++ == 0)
			s->first_ms = s->last_ms;
		status = 200;
		if (strcmp(body, "500") == 0) {
			status = 503;
			body = broken;
		}
	}
	pthread_mutex_unlock(&server.lock);
	/* copied: the script's answers are freed once the client has read them,
	 * which may be before this thread is done with its send */
	resp = MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
	MHD_add_response_header(resp, "Content-Type", status == 200 ? "application/json" : "application/problem+json");
	r = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return r;
}

struct fixture {
	struct MHD_Daemon *daemon;
	struct cli_http *http;
	struct capture out, err;
	struct cli_ctx ctx;
};

static int setup(void **state)
{
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = 0 };
	struct fixture *f = tnd_xcalloc(1, sizeof(*f));
	struct cli_http_options opts = { 0 };
	const union MHD_DaemonInfo *info;
	char url[64];

	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	f->daemon = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL,
				     on_request, NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr, MHD_OPTION_END);
	assert_non_null(f->daemon);
	info = MHD_get_daemon_info(f->daemon, MHD_DAEMON_INFO_BIND_PORT);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u", (unsigned)info->port);
	opts.base_url = url;
	opts.timeout_s = 5;
	f->http = cli_http_new(&opts);
	assert_non_null(f->http);
	f->ctx.http = f->http;
	f->ctx.out = capture_open(&f->out);
	f->ctx.err = capture_open(&f->err);
	f->ctx.now_ms = tnd_now_ms();
	memset(server.scripts, 0, sizeof(server.scripts));
	server.n_scripts = 0;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	MHD_stop_daemon(f->daemon);
	cli_http_free(f->http);
	if (f->out.fp)
		capture_close(&f->out);
	if (f->err.fp)
		capture_close(&f->err);
	capture_free(&f->out);
	capture_free(&f->err);
	free(f);
	return 0;
}

static struct script *script_add(const char *id)
{
	struct script *s = &server.scripts[server.n_scripts++];

	s->id = id;
	return s;
}

static void script_answer(struct script *s, const char *phase, const char *desired, int version, int observed,
			  const char *condition)
{
	json_t *doc = tenant_doc(phase, desired, version, observed, condition);

	assert_true(s->n_answers < SCRIPT_MAX);
	/* freed by script_free() */
	s->answers[s->n_answers++] = json_dumps(doc, JSON_COMPACT);
	json_decref(doc);
}

static void script_free(void)
{
	for (size_t i = 0; i < server.n_scripts; i++)
		for (size_t j = 0; j < server.scripts[i].n_answers; j++)
			if (strcmp(server.scripts[i].answers[j], "500") != 0)
				free((char *)server.scripts[i].answers[j]);
	server.n_scripts = 0;
}

static void test_wait_until_settled(void **state)
{
	struct fixture *f = *state;
	struct script *s = script_add("acme-corp");
	struct cli_wait_target target = { .id = "acme-corp", .version = 2 };

	script_answer(s, "Draft", "active", 2, 1, RECONCILING_CONDITION);
	script_answer(s, "Draft", "active", 2, 1, RECONCILING_CONDITION);
	script_answer(s, "Active", "active", 2, 2, NULL);
	assert_int_equal(cli_wait_settled(&f->ctx, &target, 1, 10000), 0);
	assert_int_equal(target.outcome, CLI_SETTLE_DONE);
	assert_int_equal(json_integer_value(json_pointer_get(target.tenant, "/status/observedVersion")), 2);
	assert_string_equal(capture_close(&f->out), "tenant/acme-corp active (version 2)\n");
	assert_string_equal(capture_close(&f->err), "");
	/* three polls, no more, spaced by the back-off (100 ms, then 150 ms) */
	assert_int_equal(s->requests, 3);
	assert_true(s->last_ms - s->first_ms >= 240);
	assert_true(s->last_ms - s->first_ms < 5000);
	cli_wait_targets_clear(&target, 1);
	script_free();
}

static void test_wait_reports_a_failure(void **state)
{
	struct fixture *f = *state;
	struct script *s = script_add("broken-co");
	struct cli_wait_target target = { .id = "broken-co", .version = 2 };
	const char *err;

	script_answer(s, "Draft", "active", 2, 1, RECONCILING_CONDITION);
	script_answer(s, "Draft", "active", 2, 1, FAILED_CONDITION);
	assert_int_equal(cli_wait_settled(&f->ctx, &target, 1, 10000), -ECANCELED);
	assert_int_equal(target.outcome, CLI_SETTLE_FAILED);
	assert_string_equal(capture_close(&f->out), "");
	err = capture_close(&f->err);
	assert_string_equal(err, "error: tenant/broken-co: reconcile failed (activate): provision: disk full\n"
				 "  (see 'tenancyctl workflow wf-9'; once the cause is fixed, 'tenancyctl retry wf-9')\n");
	/* a failure is final: no more polls after it */
	assert_int_equal(s->requests, 2);
	cli_wait_targets_clear(&target, 1);
	script_free();
}

static void test_wait_times_out(void **state)
{
	struct fixture *f = *state;
	struct script *s = script_add("slow-co");
	struct cli_wait_target target = { .id = "slow-co", .version = 2 };
	int64_t start = tnd_now_ms(), took;

	script_answer(s, "Draft", "active", 2, 1, RECONCILING_CONDITION);
	assert_int_equal(cli_wait_settled(&f->ctx, &target, 1, 700), -ETIMEDOUT);
	took = tnd_now_ms() - start;
	assert_true(took >= 700);
	assert_true(took < 3000);
	assert_string_equal(capture_close(&f->out), "");
	assert_string_equal(capture_close(&f->err),
			    "error: timed out after 0.7 s waiting for tenant/slow-co to be Active at version 2 "
			    "(now Draft, observed version 1; Reconciling (activate): activate to version 2 (active))\n");
	/* 0, 100, 250, 475 ms and the last look at 700 ms (fewer on a slow machine) */
	assert_in_range(s->requests, 3, 6);
	cli_wait_targets_clear(&target, 1);
	script_free();
}

static void test_wait_for_several(void **state)
{
	struct fixture *f = *state;
	struct script *quick = script_add("quick-co"), *late = script_add("late-co");
	struct cli_wait_target targets[2] = { { .id = "late-co", .version = 1 }, { .id = "quick-co", .version = 1 } };

	script_answer(quick, "Active", "active", 1, 1, NULL);
	script_answer(late, "Draft", "active", 1, 0, NULL);
	script_answer(late, "Draft", "active", 1, 0, NULL);
	script_answer(late, "Draft", "active", 1, 0, NULL);
	script_answer(late, "Active", "active", 1, 1, NULL);
	assert_int_equal(cli_wait_settled(&f->ctx, targets, 2, 10000), 0);
	/* in the order they settle; a settled tenant is not asked again */
	assert_string_equal(capture_close(&f->out), "tenant/quick-co active (version 1)\n"
						    "tenant/late-co active (version 1)\n");
	assert_int_equal(quick->requests, 1);
	assert_int_equal(late->requests, 4);
	cli_wait_targets_clear(targets, 2);
	script_free();
}

static void test_wait_stops_on_a_failed_request(void **state)
{
	struct fixture *f = *state;
	struct script *s = script_add("gone-co");
	struct cli_wait_target target = { .id = "gone-co", .version = 1 };

	script_answer(s, "Draft", "active", 1, 0, NULL);
	s->answers[s->n_answers++] = "500";
	assert_int_equal(cli_wait_settled(&f->ctx, &target, 1, 10000), -EPROTO);
	assert_non_null(strstr(capture_close(&f->err), "error: waiting for tenant/gone-co: 503 Registry unavailable"));
	assert_int_equal(s->requests, 2);
	cli_wait_targets_clear(&target, 1);
	script_free();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_text),
		cmocka_unit_test(test_durations),
		cmocka_unit_test(test_tenant_detail_shows_desired_observed_and_conditions),
		cmocka_unit_test(test_tenant_detail_settled_has_no_conditions),
		cmocka_unit_test(test_workflow_table),
		cmocka_unit_test(test_workflow_detail_succeeded),
		cmocka_unit_test(test_workflow_detail_failed),
		cmocka_unit_test(test_workflow_detail_running_with_drift),
		cmocka_unit_test(test_settle_verdict),
		cmocka_unit_test(test_settle_describe),
		cmocka_unit_test_setup_teardown(test_wait_until_settled, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wait_reports_a_failure, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wait_times_out, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wait_for_several, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wait_stops_on_a_failed_request, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
