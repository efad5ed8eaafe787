/*
 * dispatcher.c — the webhook dispatcher (see dispatcher.h).
 *
 * One scheduler thread loops: (1) for every active subscription, turn the
 * outbox events after its cursor into pending delivery rows, moving the
 * cursor in the same transaction; (2) hand the pending deliveries that are
 * due to the worker threads, at most `per_subscription` of one
 * subscription at a time, so a slow or dead endpoint occupies a bounded
 * share of the pool and healthy subscriptions keep flowing; (3) sleep
 * until an event commits or the poll interval passes.  A worker makes one
 * attempt through the plugin, judges it (webhook_schedule.c) and commits
 * the delivery's new state; a 410 also disables the subscription.
 *
 * Nothing is held only in memory: the in-flight set just keeps one
 * delivery from being attempted twice at once by this process.
 */
#include "autoconfig.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <tenancyd/notifier.h>

#include "conf.h"
#include "dispatcher.h"
#include "events.h"
#include "host.h"
#include "log.h"
#include "metrics.h"
#include "plugin_loader.h"
#include "registry.h"
#include "registry_webhooks.h"
#include "util.h"
#include "webhook_schedule.h"
#include "webhook_secret.h"

#define LOG_COMPONENT "dispatcher"
/* events turned into deliveries per transaction (the txn holds 32 writes) */
#define DISPATCH_SCAN_PAGE 24
/* pages per subscription per round, so one long backlog does not stall scheduling */
#define DISPATCH_SCAN_ROUNDS 40
#define DISPATCH_DUE_PAGE 500
/* pages of due deliveries looked at per round: past a backlog of one
 * subscription (whose rows the per-subscription cap skips) to the others' */
#define DISPATCH_DUE_PAGES 20
/* attempts kept in a delivery's history (the log has every one) */
#define DISPATCH_HISTORY_MAX 20

struct dispatch_sub {
	char *id, *url, *key_id, *sealed, *tenant_id;
	json_t *types;          /* array of types, NULL: every type */
	int64_t cursor_seq;
	int in_flight;
};

struct dispatch_job {
	struct dispatch_job *next;
	struct tnd_delivery_record rec;   /* strings owned below */
	char *id, *sub_id, *event_id, *event_type, *attempts_json;
	char *url, *key_id, *sealed;
};

struct dispatcher {
	struct registry *reg;
	const struct tnd_loaded_plugin *notifier;
	struct webhook_retry_policy policy;
	int n_workers, per_sub;
	int64_t poll_ms;
	pthread_t scheduler;
	pthread_t *workers;
	int n_started;
	pthread_mutex_t lock;
	pthread_cond_t work;
	struct dispatch_job *head, *tail;
	/* ids of deliveries queued or running, and their subscriptions' counts */
	char **in_flight;
	size_t n_in_flight, cap_in_flight;
	struct dispatch_sub *subs;      /* the scheduler's view, under lock */
	size_t n_subs;
	atomic_bool stopping;
};

/* --- helpers ------------------------------------------------------------------------ */

static uint64_t dispatch_random(void)
{
	uint64_t r = 0;

	if (tnd_random_bytes(&r, sizeof(r)) < 0)
		r = (uint64_t)tnd_monotonic_us();
	return r;
}

static void dispatch_subs_free(struct dispatch_sub *subs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(subs[i].id);
		free(subs[i].url);
		free(subs[i].key_id);
		free(subs[i].sealed);
		free(subs[i].tenant_id);
		json_decref(subs[i].types);
	}
	free(subs);
}

/* under lock */
static struct dispatch_sub *dispatch_sub_find(struct dispatcher *d, const char *id)
{
	for (size_t i = 0; i < d->n_subs; i++)
		if (strcmp(d->subs[i].id, id) == 0)
			return &d->subs[i];
	return NULL;
}

/* under lock */
static bool dispatch_in_flight(const struct dispatcher *d, const char *id)
{
	for (size_t i = 0; i < d->n_in_flight; i++)
		if (strcmp(d->in_flight[i], id) == 0)
			return true;
	return false;
}

/* under lock */
static void dispatch_in_flight_remove(struct dispatcher *d, const char *id)
{
	for (size_t i = 0; i < d->n_in_flight; i++)
		if (strcmp(d->in_flight[i], id) == 0) {
			free(d->in_flight[i]);
			d->in_flight[i] = d->in_flight[--d->n_in_flight];
			return;
		}
}

static void dispatch_job_free(struct dispatch_job *job)
{
	free(job->id);
	free(job->sub_id);
	free(job->event_id);
	free(job->event_type);
	free(job->attempts_json);
	free(job->url);
	free(job->key_id);
	free(job->sealed);
	free(job);
}

/* --- loading subscriptions ------------------------------------------------------------ */

struct dispatch_sub_list {
	struct dispatch_sub *items;
	size_t n, cap;
	char last[64];
	size_t seen;
};

static int dispatch_collect_sub(const struct tnd_webhook_record *rec, void *userdata)
{
	struct dispatch_sub_list *l = userdata;
	struct dispatch_sub *s;

	tnd_strlcpy(l->last, rec->id, sizeof(l->last));
	l->seen++;
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 16;
		l->items = tnd_xrealloc(l->items, l->cap * sizeof(*l->items));
	}
	s = &l->items[l->n++];
	memset(s, 0, sizeof(*s));
	s->id = tnd_xstrdup(rec->id);
	s->url = tnd_xstrdup(rec->url);
	s->key_id = tnd_xstrdup(rec->key_id);
	s->sealed = tnd_xstrdup(rec->secret_sealed);
	s->tenant_id = rec->tenant_id ? tnd_xstrdup(rec->tenant_id) : NULL;
	s->types = rec->types_json ? json_loads(rec->types_json, 0, NULL) : NULL;
	s->cursor_seq = rec->cursor_seq;
	return 0;
}

static int dispatch_load_subs(struct dispatcher *d, struct tnd_error *err)
{
	struct dispatch_sub_list l = { 0 };
	int r;

	do {
		struct tnd_webhook_query q = { .size = sizeof(q), .state = "active",
					       .after_id = l.last[0] ? l.last : NULL, .limit = 1000 };
		l.seen = 0;
		r = registry_webhook_list(d->reg, &q, dispatch_collect_sub, &l, err);
	} while (r == 0 && l.seen == 1000);
	if (r < 0) {
		dispatch_subs_free(l.items, l.n);
		return r;
	}
	pthread_mutex_lock(&d->lock);
	/* keep the in-flight counts of subscriptions that stay */
	for (size_t i = 0; i < l.n; i++) {
		struct dispatch_sub *old = dispatch_sub_find(d, l.items[i].id);
		if (old)
			l.items[i].in_flight = old->in_flight;
	}
	dispatch_subs_free(d->subs, d->n_subs);
	d->subs = l.items;
	d->n_subs = l.n;
	pthread_mutex_unlock(&d->lock);
	return 0;
}

/* --- (1) outbox → delivery rows ----------------------------------------------------------- */

static bool dispatch_matches(const struct dispatch_sub *s, const struct tnd_event_record *ev)
{
	size_t i;
	json_t *t;

	if (s->tenant_id && strcmp(s->tenant_id, ev->tenant_id) != 0)
		return false;
	if (s->types == NULL)
		return true;
	json_array_foreach (s->types, i, t) {
		const char *type = json_string_value(t);
		if (type && (strcmp(type, ev->type) == 0 ||
			     (strncmp(ev->type, EVENTS_TYPE_PREFIX, strlen(EVENTS_TYPE_PREFIX)) == 0 &&
			      strcmp(type, ev->type + strlen(EVENTS_TYPE_PREFIX)) == 0)))
			return true;
	}
	return false;
}

struct dispatch_scan {
	const struct dispatch_sub *sub;
	struct registry_txn *txn;
	int64_t last_seq, now_ms;
	size_t seen;
};

static void dispatch_delivery_id(int64_t seq, const char *sub_id, char out[96])
{
	snprintf(out, 96, "dlv-%020lld-%s", (long long)seq, sub_id);
}

static int dispatch_scan_event(const struct tnd_event_record *ev, void *userdata)
{
	struct dispatch_scan *s = userdata;
	char id[96];

	s->seen++;
	s->last_seq = ev->seq;
	if (!dispatch_matches(s->sub, ev))
		return 0;
	dispatch_delivery_id(ev->seq, s->sub->id, id);
	registry_txn_put_delivery(s->txn, &(struct tnd_delivery_record){
		.size = sizeof(struct tnd_delivery_record),
		.id = id,
		.subscription_id = s->sub->id,
		.event_seq = ev->seq,
		.event_id = ev->id,
		.event_type = ev->type,
		.state = "pending",
		.next_attempt_ms = s->now_ms,
		.created_ms = s->now_ms,
		.updated_ms = s->now_ms,
	});
	return 0;
}

/* Create the delivery rows of @sub up to the outbox's end (or a bound). */
static void dispatch_scan(struct dispatcher *d, struct dispatch_sub *sub)
{
	for (int round = 0; round < DISPATCH_SCAN_ROUNDS && !atomic_load(&d->stopping); round++) {
		struct tnd_event_query q = { .size = sizeof(q), .after_seq = sub->cursor_seq,
					     .limit = DISPATCH_SCAN_PAGE };
		struct registry_txn txn;
		struct dispatch_scan s = { .sub = sub, .txn = &txn, .now_ms = tnd_now_ms() };
		struct tnd_error err = { "" };
		int r;

		registry_txn_init(&txn);
		r = registry_event_list(d->reg, &q, dispatch_scan_event, &s, &err);
		if (r == 0 && s.seen > 0) {
			registry_txn_update_webhook(&txn, sub->id, NULL, s.last_seq, s.now_ms);
			r = registry_commit(d->reg, &txn, NULL, &err);
		}
		registry_txn_clear(&txn);
		if (r < 0) {
			/* a deleted subscription fails here with -ENOENT: harmless */
			log_warning("subscription %s: events after %lld not scheduled: %s", sub->id,
				    (long long)sub->cursor_seq, err.message);
			return;
		}
		if (s.seen > 0)
			sub->cursor_seq = s.last_seq;
		if (s.seen < DISPATCH_SCAN_PAGE)
			return;
	}
}

/* --- (2) due deliveries → workers ------------------------------------------------------ */

/* A pending delivery whose subscription is disabled or deleted: failed, so
 * it stops being due (the visitor may commit: rows are copied out). */
static void dispatch_fail_orphan(struct dispatcher *d, const struct tnd_delivery_record *rec)
{
	struct tnd_delivery_record failed = *rec;
	struct tnd_error err = { "" };
	struct registry_txn txn;

	failed.state = "failed";
	failed.last_error = "the subscription is disabled or deleted";
	failed.updated_ms = tnd_now_ms();
	registry_txn_init(&txn);
	registry_txn_put_delivery(&txn, &failed);
	if (registry_commit(d->reg, &txn, NULL, &err) < 0)
		log_warning("delivery %s: not marked failed: %s", rec->id, err.message);
	registry_txn_clear(&txn);
}

struct dispatch_due {
	struct dispatcher *d;
	char last[128];
	size_t seen;
};

static int dispatch_due_visit(const struct tnd_delivery_record *rec, void *userdata)
{
	struct dispatch_due *due = userdata;
	struct dispatcher *d = due->d;
	struct dispatch_sub *sub;
	struct dispatch_job *job;

	tnd_strlcpy(due->last, rec->id, sizeof(due->last));
	due->seen++;
	pthread_mutex_lock(&d->lock);
	sub = dispatch_sub_find(d, rec->subscription_id);
	if (sub == NULL) {
		pthread_mutex_unlock(&d->lock);
		dispatch_fail_orphan(d, rec);
		return 0;
	}
	if (sub->in_flight >= d->per_sub || dispatch_in_flight(d, rec->id)) {
		pthread_mutex_unlock(&d->lock);
		return 0;
	}
	job = tnd_xcalloc(1, sizeof(*job));
	job->rec = *rec;
	job->id = tnd_xstrdup(rec->id);
	job->sub_id = tnd_xstrdup(rec->subscription_id);
	job->event_id = tnd_xstrdup(rec->event_id);
	job->event_type = tnd_xstrdup(rec->event_type);
	job->rec.id = job->id;
	job->rec.subscription_id = job->sub_id;
	job->rec.event_id = job->event_id;
	job->rec.event_type = job->event_type;
	job->rec.last_error = NULL;
	job->attempts_json = rec->attempts_json ? tnd_xstrdup(rec->attempts_json) : NULL;
	job->rec.attempts_json = job->attempts_json;
	job->url = tnd_xstrdup(sub->url);
	job->key_id = tnd_xstrdup(sub->key_id);
	job->sealed = tnd_xstrdup(sub->sealed);
	sub->in_flight++;
	if (d->n_in_flight == d->cap_in_flight) {
		d->cap_in_flight = d->cap_in_flight ? d->cap_in_flight * 2 : 64;
		d->in_flight = tnd_xrealloc(d->in_flight, d->cap_in_flight * sizeof(char *));
	}
	d->in_flight[d->n_in_flight++] = tnd_xstrdup(rec->id);
	if (d->tail)
		d->tail->next = job;
	else
		d->head = job;
	d->tail = job;
	pthread_cond_signal(&d->work);
	pthread_mutex_unlock(&d->lock);
	return 0;
}

static void dispatch_schedule_due(struct dispatcher *d)
{
	struct dispatch_due due = { .d = d };
	int64_t now_ms = tnd_now_ms();

	for (int page = 0; page < DISPATCH_DUE_PAGES && !atomic_load(&d->stopping); page++) {
		struct tnd_delivery_query q = { .size = sizeof(q), .state = "pending", .due_before_ms = now_ms,
						.after_id = due.last[0] ? due.last : NULL, .limit = DISPATCH_DUE_PAGE };
		struct tnd_error err = { "" };
		bool idle;

		due.seen = 0;
		if (registry_delivery_list(d->reg, &q, dispatch_due_visit, &due, &err) < 0) {
			log_warning("due deliveries not read: %s", err.message);
			return;
		}
		pthread_mutex_lock(&d->lock);
		idle = d->head == NULL;
		pthread_mutex_unlock(&d->lock);
		/* the end, or the workers have plenty queued already */
		if (due.seen < DISPATCH_DUE_PAGE || !idle)
			return;
	}
}

static void *dispatch_scheduler(void *arg)
{
	struct dispatcher *d = arg;

	while (!atomic_load(&d->stopping)) {
		/* taken before the reads: an event committed meanwhile still wakes us */
		uint64_t generation = events_generation();
		struct tnd_error err = { "" };

		if (dispatch_load_subs(d, &err) < 0) {
			log_warning("subscriptions not read: %s", err.message);
		} else {
			for (size_t i = 0; i < d->n_subs && !atomic_load(&d->stopping); i++)
				dispatch_scan(d, &d->subs[i]); /* only this thread changes cursors */
			dispatch_schedule_due(d);
		}
		events_wait(generation, d->poll_ms);
	}
	return NULL;
}

/* --- (3) one attempt ----------------------------------------------------------------------- */

/* The event of @seq as the outbox replays it (with its sequence); NULL if gone. */
static json_t *dispatch_event(struct dispatcher *d, int64_t seq, struct tnd_error *err)
{
	struct events_query q = { .after_seq = seq - 1, .limit = 1 };
	json_t *items = NULL, *event = NULL;
	int64_t last = 0;

	if (events_list(d->reg, &q, &items, &last, err) < 0)
		return NULL;
	if (json_array_size(items) == 1 && last == seq)
		event = json_incref(json_array_get(items, 0));
	else
		tnd_error_set(err, "event %lld is no longer in the outbox", (long long)seq);
	json_decref(items);
	return event;
}

/* Make the attempt; fill @a and @ret_latency_ms, @error for the record. */
static void dispatch_attempt(struct dispatcher *d, struct dispatch_job *job, struct webhook_attempt *a,
			     int64_t *ret_latency_ms, char *error, size_t error_size)
{
	const struct tnd_notifier_ops *ops = d->notifier->ops;
	struct tnd_error err = { "" };
	struct tnd_buf out = { 0 };
	char *secret = NULL;
	json_t *event, *delivery, *result;

	memset(a, 0, sizeof(*a));
	*ret_latency_ms = 0;
	error[0] = '\0';
	event = dispatch_event(d, job->rec.event_seq, &err);
	if (event == NULL) {
		a->rc = -ENOENT;
		tnd_strlcpy(error, err.message, error_size);
		return;
	}
	if (webhook_secret_open(job->sub_id, job->key_id, job->sealed, &secret, &err) < 0) {
		json_decref(event);
		a->rc = -ENOKEY;
		snprintf(error, error_size, "the subscription's secret does not open: %s", err.message);
		return;
	}
	delivery = json_pack("{s:o, s:{s:s, s:s, s:s}, s:I}", "event", event, "subscription", "id", job->sub_id, "url",
			     job->url, "secret", secret, "attempt", (json_int_t)(job->rec.attempts + 1));
	explicit_bzero(secret, strlen(secret));
	free(secret);
	a->rc = ops->deliver(d->notifier->ctx, host_json(delivery), &out, &err);
	/* the copy of the secret inside the JSON: wipe before it is freed */
	{
		json_t *sub = json_object_get(delivery, "subscription");
		json_t *s = json_object_get(sub, "secret");
		if (s)
			explicit_bzero((char *)json_string_value(s), json_string_length(s));
	}
	json_decref(delivery);
	if (a->rc < 0) {
		snprintf(error, error_size, "not attempted: %s", err.message[0] ? err.message : strerror(-a->rc));
		free(out.data);
		return;
	}
	result = out.data ? json_loads(out.data, 0, NULL) : NULL;
	free(out.data);
	if (!json_is_object(result)) {
		json_decref(result);
		a->rc = 0;
		a->status = 0;
		tnd_strlcpy(error, "the notifier returned no result", error_size);
		return;
	}
	a->status = json_integer_value(json_object_get(result, "status"));
	a->retry_after_ms = json_integer_value(json_object_get(result, "retryAfterMs"));
	if (json_is_real(json_object_get(result, "retryAfterMs")))
		a->retry_after_ms = (int64_t)json_real_value(json_object_get(result, "retryAfterMs"));
	a->disable = json_is_true(json_object_get(result, "disable"));
	*ret_latency_ms = (int64_t)json_number_value(json_object_get(result, "latencyMs"));
	if (json_string_value(json_object_get(result, "error")))
		tnd_strlcpy(error, json_string_value(json_object_get(result, "error")), error_size);
	else if (a->status < 200 || a->status > 299)
		snprintf(error, error_size, "HTTP %lld", (long long)a->status);
	json_decref(result);
}

/* @history (a JSON array text or NULL) with this attempt appended, the
 * oldest dropped past DISPATCH_HISTORY_MAX; the caller frees. */
static char *dispatch_history(const char *history, int64_t attempt, int64_t status, int64_t latency_ms,
			      int64_t now_ms, const char *error)
{
	json_t *list = history ? json_loads(history, 0, NULL) : NULL;
	char when[32], *text;

	if (!json_is_array(list)) {
		json_decref(list);
		list = json_array();
	}
	tnd_format_time(now_ms, when);
	json_array_append_new(list, json_pack("{s:I, s:s, s:I, s:I, s:s?}", "attempt", (json_int_t)attempt, "at",
					      when, "status", (json_int_t)status, "latencyMs",
					      (json_int_t)latency_ms, "error", error));
	while (json_array_size(list) > DISPATCH_HISTORY_MAX)
		json_array_remove(list, 0);
	text = json_dumps(list, JSON_COMPACT);
	json_decref(list);
	if (text == NULL)
		abort(); /* out of memory: the tenancyd allocation policy */
	return text;
}

static void dispatch_run(struct dispatcher *d, struct dispatch_job *job)
{
	struct webhook_attempt a;
	struct tnd_delivery_record rec = job->rec;
	struct tnd_error err = { "" };
	struct registry_txn txn;
	enum webhook_verdict verdict;
	int64_t latency_ms, next_ms, now_ms;
	char error[256], *history;

	dispatch_attempt(d, job, &a, &latency_ms, error, sizeof(error));
	now_ms = tnd_now_ms();
	rec.attempts = job->rec.attempts + 1;
	verdict = webhook_judge(&d->policy, &a, rec.attempts, now_ms, dispatch_random(), &next_ms);
	rec.state = webhook_verdict_state(verdict);
	rec.next_attempt_ms = verdict == WEBHOOK_RETRY ? next_ms : 0;
	rec.last_status = a.status;
	rec.last_error = error[0] ? error : NULL;
	rec.latency_ms = latency_ms;
	rec.updated_ms = now_ms;
	history = dispatch_history(job->attempts_json, rec.attempts, a.status, latency_ms, now_ms, rec.last_error);
	rec.attempts_json = history;
	registry_txn_init(&txn);
	registry_txn_put_delivery(&txn, &rec);
	if (verdict == WEBHOOK_DISABLE)
		registry_txn_update_webhook(&txn, job->sub_id, "disabled", 0, now_ms);
	if (registry_commit(d->reg, &txn, NULL, &err) < 0)
		log_warning("delivery %s: outcome of attempt %lld not recorded (it will be repeated): %s", job->id,
			    (long long)rec.attempts, err.message);
	registry_txn_clear(&txn);
	free(history);
	{
		char next[48] = "";

		if (verdict == WEBHOOK_RETRY)
			snprintf(next, sizeof(next), " (next in %lld ms)", (long long)(next_ms - now_ms));
		log_info("delivery %s of event %s to subscription %s: attempt %lld, status %lld, %lld ms: %s%s",
			 job->id, job->event_id, job->sub_id, (long long)rec.attempts, (long long)a.status,
			 (long long)latency_ms, rec.state, next);
	}
	{
		char labels[48];

		snprintf(labels, sizeof(labels), "outcome=\"%s\"", rec.state);
		metrics_counter_add("tenancyd_webhook_attempts_total",
				    "Webhook delivery attempts, by the state they left the delivery in.", labels, 1);
		if (a.rc == 0)
			metrics_observe("tenancyd_webhook_attempt_duration_seconds",
					"Time a webhook endpoint took to answer (or to time out).", NULL,
					(double)latency_ms / 1000.0);
		if (verdict == WEBHOOK_DEAD)
			metrics_counter_add("tenancyd_webhook_dead_total", "Webhook deliveries that went dead.", NULL,
					    1);
	}
	if (verdict == WEBHOOK_DISABLE)
		log_notice("subscription %s disabled: its endpoint answered 410 Gone", job->sub_id);
	else if (verdict == WEBHOOK_DEAD)
		log_warning("delivery %s is dead after %lld attempt(s): %s", job->id, (long long)rec.attempts,
			    error[0] ? error : "no success");
}

static void *dispatch_worker(void *arg)
{
	struct dispatcher *d = arg;

	for (;;) {
		struct dispatch_job *job;
		struct dispatch_sub *sub;

		pthread_mutex_lock(&d->lock);
		while (d->head == NULL && !atomic_load(&d->stopping))
			pthread_cond_wait(&d->work, &d->lock);
		if (atomic_load(&d->stopping)) {
			pthread_mutex_unlock(&d->lock);
			return NULL; /* queued jobs stay pending in the registry */
		}
		job = d->head;
		d->head = job->next;
		if (d->head == NULL)
			d->tail = NULL;
		pthread_mutex_unlock(&d->lock);

		dispatch_run(d, job);

		pthread_mutex_lock(&d->lock);
		dispatch_in_flight_remove(d, job->id);
		sub = dispatch_sub_find(d, job->sub_id);
		if (sub && sub->in_flight > 0)
			sub->in_flight--;
		pthread_mutex_unlock(&d->lock);
		dispatch_job_free(job);
	}
}

/* --- start and stop -------------------------------------------------------------------- */

int dispatcher_start(struct registry *reg, const struct tnd_conf *conf, const struct tnd_loaded_plugin *notifier,
		     struct dispatcher **ret_dispatcher, struct tnd_error *err)
{
	struct dispatcher *d;

	if (!registry_supports_webhooks(reg)) {
		tnd_error_set(err, "the storage driver keeps no webhook subscriptions (storage ABI 1.2 needed)");
		return -ENOTSUP;
	}
	if (!registry_supports_events(reg)) {
		tnd_error_set(err, "the storage driver keeps no event outbox (storage ABI 1.2 needed)");
		return -ENOTSUP;
	}
	d = tnd_xcalloc(1, sizeof(*d));
	d->reg = reg;
	d->notifier = notifier;
	d->policy = (struct webhook_retry_policy){ .base_ms = conf->webhooks.retry_base_ms,
						   .cap_ms = conf->webhooks.retry_cap_ms,
						   .max_attempts = conf->webhooks.max_attempts };
	d->n_workers = conf->webhooks.workers;
	d->per_sub = conf->webhooks.per_subscription;
	d->poll_ms = conf->webhooks.poll_interval_ms;
	pthread_mutex_init(&d->lock, NULL);
	pthread_cond_init(&d->work, NULL);
	d->workers = tnd_xcalloc((size_t)d->n_workers, sizeof(pthread_t));
	for (; d->n_started < d->n_workers; d->n_started++)
		if (pthread_create(&d->workers[d->n_started], NULL, dispatch_worker, d) != 0)
			break;
	if (d->n_started == 0 || pthread_create(&d->scheduler, NULL, dispatch_scheduler, d) != 0) {
		tnd_error_set(err, "cannot start the dispatcher's threads");
		atomic_store(&d->stopping, true);
		pthread_mutex_lock(&d->lock);
		pthread_cond_broadcast(&d->work);
		pthread_mutex_unlock(&d->lock);
		for (int i = 0; i < d->n_started; i++)
			pthread_join(d->workers[i], NULL);
		pthread_mutex_destroy(&d->lock);
		pthread_cond_destroy(&d->work);
		free(d->workers);
		free(d);
		return -EAGAIN;
	}
	log_notice("webhook dispatcher running: %d worker(s), %d per subscription, backoff %lld..%lld ms, "
		   "%lld attempt(s)",
		   d->n_started, d->per_sub, (long long)d->policy.base_ms, (long long)d->policy.cap_ms,
		   (long long)d->policy.max_attempts);
	*ret_dispatcher = d;
	return 0;
}

void dispatcher_stop(struct dispatcher *d)
{
	if (d == NULL)
		return;
	atomic_store(&d->stopping, true);
	events_committed(); /* wakes the scheduler out of its wait */
	pthread_join(d->scheduler, NULL);
	pthread_mutex_lock(&d->lock);
	pthread_cond_broadcast(&d->work);
	pthread_mutex_unlock(&d->lock);
	for (int i = 0; i < d->n_started; i++)
		pthread_join(d->workers[i], NULL);
	while (d->head) {
		struct dispatch_job *job = d->head;
		d->head = job->next;
		dispatch_job_free(job);
	}
	for (size_t i = 0; i < d->n_in_flight; i++)
		free(d->in_flight[i]);
	free(d->in_flight);
	dispatch_subs_free(d->subs, d->n_subs);
	pthread_mutex_destroy(&d->lock);
	pthread_cond_destroy(&d->work);
	free(d->workers);
	free(d);
}
