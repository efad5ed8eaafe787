/*
 * audit_signpool.c — batch signing of audit records on helper threads (see
 * audit_signpool.h).
 *
 * One batch runs at a time (the storage writer is single).  Its items are
 * claimed one by one under the pool's lock by the caller and every helper
 * alike; each signature (tens of microseconds) is made outside the lock.
 * The caller returns once every item is signed, so the batch's arrays are
 * never touched after it returns.  An EVP_PKEY may be used by several
 * threads at once for signing.
 */
#include "autoconfig.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "audit_key.h"
#include "audit_record.h"
#include "audit_signpool.h"
#include "util.h"

struct audit_signpool {
	const struct audit_signer *signer;
	pthread_t *threads;
	size_t n_threads;
	pthread_mutex_t batch_lock;  /* one batch at a time */
	pthread_mutex_t lock;        /* the fields below */
	pthread_cond_t work;         /* a batch has items left, or stop */
	pthread_cond_t done;         /* the batch's last item is signed */
	const char *const *hashes;
	char (*signatures)[89];
	size_t n, next, finished;
	int error;
	struct tnd_error err;
	bool stop;
};

/* Sign item @i of the current batch; 0 or a negative errno (@err set). */
static int signpool_one(struct audit_signpool *pool, size_t i, struct tnd_error *err)
{
	unsigned char raw[32];
	char signature[AUDIT_SIG_B64_LEN + 1];
	int r;

	if (audit_hash_decode(pool->hashes[i], raw) < 0) {
		tnd_error_set(err, "audit: not a record hash: %.70s", pool->hashes[i] ? pool->hashes[i] : "(null)");
		return -EINVAL;
	}
	r = audit_sign(pool->signer, raw, sizeof(raw), signature, err);
	if (r == 0)
		memcpy(pool->signatures[i], signature, sizeof(signature));
	return r;
}

/* Claim and sign items until the batch has none left; called with the lock held. */
static void signpool_drain(struct audit_signpool *pool)
{
	while (pool->next < pool->n) {
		size_t i = pool->next++;
		struct tnd_error err = { "" };
		int r;

		pthread_mutex_unlock(&pool->lock);
		r = signpool_one(pool, i, &err);
		pthread_mutex_lock(&pool->lock);
		if (r < 0 && pool->error == 0) {
			pool->error = r;
			pool->err = err;
		}
		if (++pool->finished == pool->n)
			pthread_cond_signal(&pool->done);
	}
}

static void *signpool_run(void *arg)
{
	struct audit_signpool *pool = arg;

	pthread_mutex_lock(&pool->lock);
	while (!pool->stop) {
		if (pool->next < pool->n)
			signpool_drain(pool);
		else
			pthread_cond_wait(&pool->work, &pool->lock);
	}
	pthread_mutex_unlock(&pool->lock);
	return NULL;
}

struct audit_signpool *audit_signpool_new(const struct audit_signer *signer, size_t n_threads)
{
	struct audit_signpool *pool = tnd_xcalloc(1, sizeof(*pool));

	pool->signer = signer;
	pthread_mutex_init(&pool->batch_lock, NULL);
	pthread_mutex_init(&pool->lock, NULL);
	pthread_cond_init(&pool->work, NULL);
	pthread_cond_init(&pool->done, NULL);
	pool->threads = tnd_xcalloc(n_threads ? n_threads : 1, sizeof(*pool->threads));
	for (size_t i = 0; i < n_threads; i++) {
		if (pthread_create(&pool->threads[pool->n_threads], NULL, signpool_run, pool) != 0)
			break; /* fewer helpers; the caller signs whatever they do not */
		pool->n_threads++;
	}
	return pool;
}

void audit_signpool_free(struct audit_signpool *pool)
{
	if (pool == NULL)
		return;
	pthread_mutex_lock(&pool->lock);
	pool->stop = true;
	pthread_cond_broadcast(&pool->work);
	pthread_mutex_unlock(&pool->lock);
	for (size_t i = 0; i < pool->n_threads; i++)
		pthread_join(pool->threads[i], NULL);
	free(pool->threads);
	pthread_mutex_destroy(&pool->batch_lock);
	pthread_mutex_destroy(&pool->lock);
	pthread_cond_destroy(&pool->work);
	pthread_cond_destroy(&pool->done);
	free(pool);
}

int audit_signpool_sign(struct audit_signpool *pool, size_t n, const char *const *hashes,
			char (*ret_signatures)[89], struct tnd_error *err)
{
	int r;

	if (n == 0)
		return 0;
	pthread_mutex_lock(&pool->batch_lock);
	pthread_mutex_lock(&pool->lock);
	pool->hashes = hashes;
	pool->signatures = ret_signatures;
	pool->n = n;
	pool->next = 0;
	pool->finished = 0;
	pool->error = 0;
	/* one item is the caller's anyway: wake helpers only for more */
	if (n > 1)
		pthread_cond_broadcast(&pool->work);
	signpool_drain(pool);
	while (pool->finished < pool->n)
		pthread_cond_wait(&pool->done, &pool->lock);
	r = pool->error;
	if (r < 0)
		*err = pool->err;
	pool->n = pool->next = pool->finished = 0;
	pool->hashes = NULL;
	pool->signatures = NULL;
	pthread_mutex_unlock(&pool->lock);
	pthread_mutex_unlock(&pool->batch_lock);
	return r;
}
