/*
 * webhook_pool.c — reusable libcurl easy handles.  deliver() may run on
 * several threads at once; a handle is used by one thread at a time and
 * comes back with its live connections, so consecutive deliveries to the
 * same receiver skip the TCP and TLS handshakes.
 */
#include "autoconfig.h"

#include <errno.h>
#include <stdlib.h>

#include "webhook.h"

int webhook_pool_init(struct webhook_pool *pool, size_t cap)
{
	pool->idle = calloc(cap, sizeof(*pool->idle));
	if (pool->idle == NULL)
		return -ENOMEM;
	pool->cap = cap;
	pool->n_idle = 0;
	if (pthread_mutex_init(&pool->lock, NULL) != 0) {
		free(pool->idle);
		pool->idle = NULL;
		return -ENOMEM;
	}
	return 0;
}

CURL *webhook_pool_take(struct webhook_pool *pool)
{
	CURL *handle = NULL;

	pthread_mutex_lock(&pool->lock);
	if (pool->n_idle > 0)
		handle = pool->idle[--pool->n_idle];
	pthread_mutex_unlock(&pool->lock);
	return handle != NULL ? handle : curl_easy_init();
}

void webhook_pool_give(struct webhook_pool *pool, CURL *handle)
{
	if (handle == NULL)
		return;
	pthread_mutex_lock(&pool->lock);
	if (pool->n_idle < pool->cap) {
		pool->idle[pool->n_idle++] = handle;
		handle = NULL;
	}
	pthread_mutex_unlock(&pool->lock);
	if (handle != NULL)
		curl_easy_cleanup(handle); /* more threads than the pool keeps: close the extra */
}

void webhook_pool_destroy(struct webhook_pool *pool)
{
	if (pool->idle == NULL)
		return;
	for (size_t i = 0; i < pool->n_idle; i++)
		curl_easy_cleanup(pool->idle[i]);
	free(pool->idle);
	pool->idle = NULL;
	pool->n_idle = 0;
	pthread_mutex_destroy(&pool->lock);
}
