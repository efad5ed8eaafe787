/*
 * breakglass.c — the in-memory table of approved break-glass grants and
 * the state of a grant at a given time (see breakglass.h).  A handful of
 * grants are in force at any time, so the table is a small array behind a
 * read-write lock, pruned of expired grants whenever one is added.
 */
#include "autoconfig.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "breakglass.h"
#include "util.h"

struct breakglass_grant {
	char id[48];
	char subject[80];
	int64_t expires_ms;
};

struct breakglass {
	pthread_rwlock_t lock;
	struct breakglass_grant *grants;
	size_t n, cap;
};

struct breakglass *breakglass_new(void)
{
	struct breakglass *bg = tnd_xcalloc(1, sizeof(*bg));

	pthread_rwlock_init(&bg->lock, NULL);
	return bg;
}

void breakglass_free(struct breakglass *bg)
{
	if (bg == NULL)
		return;
	pthread_rwlock_destroy(&bg->lock);
	free(bg->grants);
	free(bg);
}

const char *breakglass_state(const struct tnd_grant_record *rec, int64_t now_ms)
{
	if (rec->state && strcmp(rec->state, "approved") == 0)
		return now_ms < rec->expires_ms ? "approved" : "expired";
	if (rec->state && strcmp(rec->state, "pending") == 0)
		return now_ms < rec->requested_ms + rec->ttl_s * 1000 ? "pending" : "expired";
	return "denied";
}

void breakglass_add(struct breakglass *bg, const struct tnd_grant_record *rec, int64_t now_ms)
{
	size_t kept = 0;

	if (strcmp(breakglass_state(rec, now_ms), "approved") != 0 || rec->subject == NULL ||
	    strlen(rec->subject) >= sizeof(bg->grants->subject) || strlen(rec->id) >= sizeof(bg->grants->id))
		return;
	pthread_rwlock_wrlock(&bg->lock);
	for (size_t i = 0; i < bg->n; i++)
		if (now_ms < bg->grants[i].expires_ms)
			bg->grants[kept++] = bg->grants[i];
	bg->n = kept;
	if (bg->n == bg->cap) {
		bg->cap = bg->cap ? 2 * bg->cap : 8;
		bg->grants = tnd_xrealloc(bg->grants, bg->cap * sizeof(*bg->grants));
	}
	tnd_strlcpy(bg->grants[bg->n].id, rec->id, sizeof(bg->grants[bg->n].id));
	tnd_strlcpy(bg->grants[bg->n].subject, rec->subject, sizeof(bg->grants[bg->n].subject));
	bg->grants[bg->n].expires_ms = rec->expires_ms;
	bg->n++;
	pthread_rwlock_unlock(&bg->lock);
}

bool breakglass_elevate(struct breakglass *bg, struct tnd_principal *p, int64_t now_ms)
{
	bool raised = false;

	if (bg == NULL || p->base_role < TND_ROLE_OPERATOR || p->subject[0] == '\0')
		return false;
	pthread_rwlock_rdlock(&bg->lock);
	for (size_t i = 0; i < bg->n && !raised; i++)
		if (now_ms < bg->grants[i].expires_ms && strcmp(bg->grants[i].subject, p->subject) == 0) {
			p->role = TND_ROLE_ADMIN;
			tnd_strlcpy(p->grant, bg->grants[i].id, sizeof(p->grant));
			raised = true;
		}
	pthread_rwlock_unlock(&bg->lock);
	return raised;
}
