/*
 * events.c — building the CloudEvents of the outbox, adding them to a
 * mutation's registry txn, reading them back for replay, and the wake-up
 * of long-polling readers (see events.h and docs/events.md).
 *
 * An event is stored without its `sequence`: the storage driver assigns
 * the seq inside the commit (the only place that knows the commit order
 * under group commit and concurrent writers), and events_list() fills it
 * in from the row.  The `id` is a UUID (v7, time-ordered) chosen here, so
 * it stays the same on every read and every delivery (the webhook-id of
 * DESIGN §7).
 */
#include "autoconfig.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conf.h"
#include "events.h"
#include "registry.h"
#include "util.h"
#include "workflow.h"

/* --- building ------------------------------------------------------------------ */

/*
 * A UUID version 7 (RFC 9562): 48 bits of Unix milliseconds, then random
 * bits.  Unique like a v4, but ids of events written close together sort
 * close together, so the outbox's unique index on id grows at its right
 * edge instead of dirtying a random page per event (measured: random v4
 * ids cost the writer about a tenth of its apply throughput).
 */
static void events_uuid7(int64_t now_ms, char out[37])
{
	unsigned char b[16];
	uint64_t ms = (uint64_t)now_ms;

	if (tnd_random_bytes(b, sizeof(b)) < 0)
		abort();
	for (int i = 0; i < 6; i++)
		b[i] = (unsigned char)(ms >> (40 - 8 * i));
	b[6] = (b[6] & 0x0f) | 0x70;
	b[8] = (b[8] & 0x3f) | 0x80;
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2],
		 b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

/* The CloudEvent envelope of @type about @tenant_id, with @data (stolen). */
static json_t *events_envelope(const struct tnd_conf *conf, const char *type, const char *tenant_id,
			       const char *correlation_id, int64_t now_ms, json_t *data, char id[37])
{
	char when[32];

	events_uuid7(now_ms, id);
	tnd_format_time(now_ms, when);
	json_t *event = json_pack("{s:s, s:s, s:s, s:s+, s:s, s:s, s:s}", "specversion", "1.0", "id", id, "type",
				  type, "source", "tenancyd://", conf->daemon.instance, "subject", tenant_id, "time",
				  when, "datacontenttype", "application/json");

	/* an extension attribute is absent rather than null (CloudEvents 1.0) */
	if (correlation_id)
		json_object_set_new(event, "correlationid", json_string(correlation_id));
	json_object_set_new(event, "data", data);
	return event;
}

/* The data every event carries; type-specific fields are added to it. */
static json_t *events_data(const char *tenant_id, const char *previous_state, const char *new_state,
			   int64_t version, const char *request_id, const char *correlation_id)
{
	return json_pack("{s:s, s:s?, s:s?, s:I, s:s?, s:s?}", "tenantId", tenant_id, "previousState",
			 previous_state, "newState", new_state, "version", (json_int_t)version, "requestId",
			 request_id, "correlationId", correlation_id);
}

/* Serialize @event and append it to @txn (which copies what it needs). */
static void events_append(struct registry_txn *txn, const char *type, const char *tenant_id, const char *id,
			  int64_t now_ms, json_t *event)
{
	char *text = json_dumps(event, JSON_COMPACT);
	struct tnd_event_record rec = {
		.size = sizeof(rec),
		.id = id,
		.tenant_id = tenant_id,
		.type = type,
		.time_ms = now_ms,
		.event_json = text,
	};

	if (text == NULL)
		abort(); /* out of memory: the tenancyd allocation policy */
	registry_txn_add_event(txn, &rec);
	free(text);
	json_decref(event);
}

/* Build and append one event whose data is @data (stolen), with
 * correlationId the same as requestId: the request that set the chain off. */
static void events_add(const struct tnd_conf *conf, struct registry_txn *txn, const char *short_type,
		       const char *tenant_id, const char *request_id, int64_t now_ms, json_t *data)
{
	char type[64], id[37];
	json_t *event;

	snprintf(type, sizeof(type), EVENTS_TYPE_PREFIX "%s", short_type);
	event = events_envelope(conf, type, tenant_id, request_id, now_ms, data, id);
	events_append(txn, type, tenant_id, id, now_ms, event);
}

/* The event type of one phase hop, or NULL when the hop is none of ours. */
static const char *events_hop_type(const char *from, const char *to)
{
	switch (lifecycle_phase_parse(to)) {
	case TND_PHASE_DRAFT:
		return from == NULL ? "created" : NULL;
	case TND_PHASE_ACTIVE:
		return lifecycle_phase_parse(from) == TND_PHASE_SUSPENDED ? "resumed" : "activated";
	case TND_PHASE_SUSPENDED:
		return "suspended";
	case TND_PHASE_ARCHIVED:
		return "archived";
	case TND_PHASE_DELETED:
		return "deleted";
	default:
		return NULL;
	}
}

void events_add_for_transitions(struct registry *reg, const struct tnd_conf *conf, struct registry_txn *txn,
				const struct tenant_row *row, const char *workflow_id, int64_t now_ms)
{
	size_t n = txn->n;

	if (!registry_supports_events(reg))
		return;
	/* only the writes present now: the events appended below are not hops */
	for (size_t i = 0; i < n; i++) {
		const struct tnd_phase_record *hop = txn->writes[i].record;
		const char *type;
		json_t *data;

		if (txn->writes[i].kind != TND_WRITE_PHASE_APPEND)
			continue;
		type = events_hop_type(hop->from_phase, hop->to_phase);
		if (type == NULL)
			continue;
		data = events_data(hop->tenant_id, hop->from_phase, hop->to_phase, hop->version, hop->request_id,
				   hop->request_id);
		if (strcmp(type, "created") == 0)
			json_object_update_new(data, json_pack("{s:s?, s:s?, s:s?, s:s}", "plan", row->plan,
							       "isolation", row->isolation, "region", row->region,
							       "desiredState", lifecycle_state_name(row->state)));
		if (workflow_id)
			json_object_set_new(data, "workflowId", json_string(workflow_id));
		events_add(conf, txn, type, hop->tenant_id, hop->request_id, now_ms, data);
	}
}

void events_add_plan_updated(struct registry *reg, const struct tnd_conf *conf, struct registry_txn *txn,
			     const struct tenant_row *before, const struct tenant_row *after, const char *request_id,
			     int64_t now_ms)
{
	const char *phase = lifecycle_phase_name(before->phase);
	json_t *data;

	if (!registry_supports_events(reg) || tnd_streq(before->plan, after->plan))
		return;
	data = events_data(after->id, phase, phase, after->version, request_id, request_id);
	json_object_set_new(data, "previousPlan", json_string(before->plan));
	json_object_set_new(data, "newPlan", json_string(after->plan));
	events_add(conf, txn, "plan_updated", after->id, request_id, now_ms, data);
}

/* The request that started @wf (the orchestrator's own workflows carry a
 * reason there, e.g. "drift"). */
static const char *events_workflow_request(const struct workflow *wf)
{
	const char *request_id = json_string_value(json_object_get(wf->doc, "requestId"));

	return request_id ? request_id : wf->id;
}

void events_add_reconcile_failed(struct registry *reg, const struct tnd_conf *conf, struct registry_txn *txn,
				 const struct tenant_row *row, const struct workflow *wf, const char *error,
				 int64_t now_ms)
{
	const char *phase = lifecycle_phase_name(row->phase);
	const char *request_id = events_workflow_request(wf);
	json_t *data;

	if (!registry_supports_events(reg))
		return;
	data = events_data(row->id, phase, phase, wf->target_version, request_id, request_id);
	json_object_update_new(data, json_pack("{s:s, s:s, s:s?, s:I}", "workflowId", wf->id, "workflowKind",
					       wf->kind, "error", error, "attempts", (json_int_t)wf->attempts));
	events_add(conf, txn, "reconcile_failed", row->id, request_id, now_ms, data);
}

void events_add_drift_detected(struct registry *reg, const struct tnd_conf *conf, struct registry_txn *txn,
			       const struct tenant_row *row, const json_t *drift, int64_t now_ms)
{
	const char *phase = lifecycle_phase_name(row->phase);
	json_t *data;

	if (!registry_supports_events(reg))
		return;
	data = events_data(row->id, phase, phase, row->version, NULL, NULL);
	json_object_set(data, "drift", (json_t *)drift);
	events_add(conf, txn, "drift_detected", row->id, NULL, now_ms, data);
}

void events_add_drift_corrected(struct registry *reg, const struct tnd_conf *conf, struct registry_txn *txn,
				const struct tenant_row *row, const struct workflow *wf, int64_t now_ms)
{
	const char *phase = lifecycle_phase_name(row->phase);
	json_t *data;

	if (!registry_supports_events(reg))
		return;
	data = events_data(row->id, phase, phase, wf->target_version, NULL, NULL);
	json_object_set_new(data, "workflowId", json_string(wf->id));
	json_object_set(data, "drift", json_object_get(wf->doc, "drift"));
	events_add(conf, txn, "drift_corrected", row->id, NULL, now_ms, data);
}

/* --- reading ---------------------------------------------------------------------- */

void events_format_sequence(int64_t seq, char out[24])
{
	snprintf(out, 24, "%020lld", (long long)seq);
}

struct events_list_state {
	json_t *items;
	int64_t last_seq;
};

static int events_list_visit(const struct tnd_event_record *rec, void *userdata)
{
	struct events_list_state *st = userdata;
	json_t *event = json_loads(rec->event_json, 0, NULL);
	char sequence[24];

	st->last_seq = rec->seq;
	if (!json_is_object(event)) {
		/* never written by us; skipping keeps the cursor moving */
		json_decref(event);
		return 0;
	}
	events_format_sequence(rec->seq, sequence);
	json_object_set_new(event, "sequence", json_string(sequence));
	json_array_append_new(st->items, event);
	return 0;
}

int events_list(struct registry *reg, const struct events_query *query, json_t **ret_items, int64_t *ret_last_seq,
		struct tnd_error *err)
{
	struct events_list_state st = { json_array(), query->after_seq };
	char type[64];
	struct tnd_event_query q = {
		.size = sizeof(q),
		.after_seq = query->after_seq,
		.limit = query->limit,
		.tenant_id = query->tenant_id,
		.type = query->type,
	};
	int r;

	if (query->type && strchr(query->type, '.') == NULL) {
		snprintf(type, sizeof(type), EVENTS_TYPE_PREFIX "%s", query->type);
		q.type = type;
	}
	r = registry_event_list(reg, &q, events_list_visit, &st, err);
	if (r < 0) {
		json_decref(st.items);
		return r;
	}
	*ret_items = st.items;
	*ret_last_seq = st.last_seq;
	return 0;
}

/* --- waiting ---------------------------------------------------------------------- */

static pthread_mutex_t events_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t events_cond;
static pthread_once_t events_cond_once = PTHREAD_ONCE_INIT;
static atomic_uint_fast64_t events_commits;

/* A monotonic-clock condition variable, so a clock step neither cuts a
 * long poll short nor stretches it. */
static void events_cond_init(void)
{
	pthread_condattr_t attr;

	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&events_cond, &attr);
	pthread_condattr_destroy(&attr);
}

void events_committed(void)
{
	pthread_once(&events_cond_once, events_cond_init);
	pthread_mutex_lock(&events_lock);
	atomic_fetch_add(&events_commits, 1);
	pthread_cond_broadcast(&events_cond);
	pthread_mutex_unlock(&events_lock);
}

uint64_t events_generation(void)
{
	return atomic_load(&events_commits);
}

bool events_wait(uint64_t generation, int64_t timeout_ms)
{
	struct timespec deadline;
	bool woken;

	pthread_once(&events_cond_once, events_cond_init);
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += timeout_ms / 1000;
	deadline.tv_nsec += (timeout_ms % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&events_lock);
	while (atomic_load(&events_commits) == generation)
		if (pthread_cond_timedwait(&events_cond, &events_lock, &deadline) != 0)
			break;
	woken = atomic_load(&events_commits) != generation;
	pthread_mutex_unlock(&events_lock);
	return woken;
}
