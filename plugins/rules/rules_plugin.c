/*
 * rules_plugin.c — the rules policy plugin's face to the core: its one
 * exported descriptor, its settings (`rules_file`), reading the rules file
 * safely, turning a §9 policy request into the facts the rules match on,
 * and the evaluate/reload ops.
 *
 * Evaluations run concurrently on the core's threads; a reload parses the
 * new file without any lock and swaps the set in under a write lock, so a
 * bad file never disturbs the rules in force.
 */
#include "autoconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <tenancyd/host.h>
#include <tenancyd/policy.h>

#include "rules_internal.h"

/* A rules file larger than this is a mistake, not a policy. */
#define RULES_MAX_FILE (1024 * 1024)

struct rules_ctx {
	const struct tnd_host *host;
	char *path;
	pthread_rwlock_t lock;
	struct rules_set *set;  /* in force; swapped under the write lock */
};

/* --- the file ---------------------------------------------------------------------- */

/*
 * Read @path as tenancyd reads its own config: a regular file owned by root
 * or the daemon's user, writable by nobody else.  Checked on the open
 * descriptor, so what was checked is what is read.
 */
static int rules_read_file(const char *path, char **ret_text, struct tnd_error *err)
{
	struct stat st;
	char *text;
	ssize_t got;
	size_t len = 0;
	int fd, r;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		tnd_error_set(err, "%s: %s", path, strerror(-r));
		return r;
	}
	if (fstat(fd, &st) < 0) {
		r = -errno;
		tnd_error_set(err, "%s: %s", path, strerror(-r));
		goto fail;
	}
	r = -EPERM;
	if (!S_ISREG(st.st_mode)) {
		tnd_error_set(err, "%s: not a regular file", path);
		goto fail;
	}
	if (st.st_uid != 0 && st.st_uid != geteuid()) {
		tnd_error_set(err, "%s: owned by uid %u, neither root nor the daemon's user (uid %u)", path,
			      (unsigned)st.st_uid, (unsigned)geteuid());
		goto fail;
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		tnd_error_set(err, "%s: writable by group or others (mode %04o)", path, (unsigned)(st.st_mode & 07777));
		goto fail;
	}
	if (st.st_size > RULES_MAX_FILE) {
		r = -EFBIG;
		tnd_error_set(err, "%s: larger than %d bytes", path, RULES_MAX_FILE);
		goto fail;
	}
	text = malloc((size_t)st.st_size + 1);
	if (text == NULL) {
		r = -ENOMEM;
		goto fail;
	}
	while (len < (size_t)st.st_size && (got = read(fd, text + len, (size_t)st.st_size - len)) > 0)
		len += (size_t)got;
	text[len] = '\0';
	close(fd);
	*ret_text = text;
	return 0;
fail:
	close(fd);
	return r;
}

static int rules_load(const char *path, struct rules_set **ret_set, struct tnd_error *err)
{
	char *text = NULL;
	int r = rules_read_file(path, &text, err);

	if (r < 0)
		return r;
	r = rules_parse(text, path, ret_set, err);
	free(text);
	return r;
}

/* --- settings ------------------------------------------------------------------------ */

static int rules_settings_path(const struct tnd_host *host, const struct tnd_json *config, const char **ret_path,
			       struct tnd_error *err)
{
	size_t n = 0;
	const char *key;
	int r;

	host->json_get_size(host, config, "", &n);
	for (size_t i = 0; i < n; i++)
		if (host->json_get_key(host, config, "", i, &key) == 0 && strcmp(key, "rules_file") != 0) {
			tnd_error_set(err, "unknown setting '%s' (the rules plugin knows rules_file)", key);
			return -EINVAL;
		}
	r = host->json_get_string(host, config, "/rules_file", ret_path);
	if (r < 0) {
		tnd_error_set(err, "setting rules_file (the rules file's absolute path) is %s",
			      r == -ENOENT ? "missing" : "not a string");
		return -EINVAL;
	}
	if ((*ret_path)[0] != '/') {
		tnd_error_set(err, "setting rules_file must be an absolute path, not \"%s\"", *ret_path);
		return -EINVAL;
	}
	return 0;
}

static tnd_plugin_check_config_fn rules_check_config;

static int rules_check_config(const struct tnd_host *host, const struct tnd_json *config, struct tnd_error *err)
{
	struct rules_set *set = NULL;
	const char *path;
	int r = rules_settings_path(host, config, &path, err);

	if (r < 0)
		return r;
	r = rules_load(path, &set, err);
	rules_set_free(set);
	return r;
}

/* --- life ------------------------------------------------------------------------------ */

static tnd_plugin_init_fn rules_init;
static tnd_plugin_fini_fn rules_fini;

static int rules_init(const struct tnd_host *host, const struct tnd_json *config, void **ret_ctx,
		      struct tnd_error *err)
{
	struct rules_set *set = NULL;
	struct rules_ctx *ctx;
	const char *path;
	int r = rules_settings_path(host, config, &path, err);

	if (r < 0)
		return r;
	r = rules_load(path, &set, err);
	if (r < 0)
		return r;
	ctx = calloc(1, sizeof(*ctx));
	if (ctx == NULL || (ctx->path = strdup(path)) == NULL) {
		free(ctx);
		rules_set_free(set);
		return -ENOMEM;
	}
	ctx->host = host;
	ctx->set = set;
	pthread_rwlock_init(&ctx->lock, NULL);
	host->log(host, TND_LOG_INFO, "%zu rule(s) from %s, default %s", set->n, path,
		  set->default_effect == RULES_ALLOW ? "allow" : "deny");
	*ret_ctx = ctx;
	return 0;
}

static void rules_fini(void *opaque)
{
	struct rules_ctx *ctx = opaque;

	if (ctx == NULL)
		return;
	pthread_rwlock_destroy(&ctx->lock);
	rules_set_free(ctx->set);
	free(ctx->path);
	free(ctx);
}

static tnd_policy_reload_fn rules_reload;

static int rules_reload(void *opaque, struct tnd_error *err)
{
	struct rules_ctx *ctx = opaque;
	struct rules_set *set = NULL, *old;
	int r = rules_load(ctx->path, &set, err);

	if (r < 0)
		return r; /* the old rules stay; the core logs why */
	pthread_rwlock_wrlock(&ctx->lock);
	old = ctx->set;
	ctx->set = set;
	pthread_rwlock_unlock(&ctx->lock);
	rules_set_free(old);
	ctx->host->log(ctx->host, TND_LOG_INFO, "%zu rule(s) from %s, default %s", set->n, ctx->path,
		       set->default_effect == RULES_ALLOW ? "allow" : "deny");
	return 0;
}

/* --- evaluating ------------------------------------------------------------------------ */

/* The first of @pointers naming a string in @request, or NULL. */
static const char *rules_fact(const struct rules_ctx *ctx, const struct tnd_json *request, const char *first,
			      const char *second)
{
	const char *value = NULL;

	if (ctx->host->json_get_string(ctx->host, request, first, &value) == 0)
		return value;
	if (second && ctx->host->json_get_string(ctx->host, request, second, &value) == 0)
		return value;
	return NULL;
}

/* Label keys are [A-Za-z0-9._-] (manifest v1), but escape them per RFC 6901 anyway. */
static void rules_label_pointer(const char *key, char *buf, size_t cap)
{
	size_t len = (size_t)snprintf(buf, cap, "/tenant/manifest/metadata/labels/");

	for (const char *p = key; *p && len + 3 < cap; p++) {
		if (*p == '~' || *p == '/') {
			buf[len++] = '~';
			buf[len++] = *p == '~' ? '0' : '1';
		} else {
			buf[len++] = *p;
		}
	}
	buf[len < cap ? len : cap - 1] = '\0';
}

static int rules_collect(const struct rules_ctx *ctx, const struct tnd_json *request, struct rules_input *in,
			 struct tnd_error *err)
{
	const struct tnd_host *host = ctx->host;
	const char *time_text;
	char pointer[192];
	size_t n = 0;

	memset(in, 0, sizeof(*in));
	in->action = rules_fact(ctx, request, "/action", NULL);
	if (in->action == NULL) {
		tnd_error_set(err, "the request has no action");
		return -EINVAL;
	}
	host->json_get_size(host, request, "/actor/roles", &n);
	for (size_t i = 0; i < n && in->n_roles < RULES_MAX_ROLES; i++) {
		snprintf(pointer, sizeof(pointer), "/actor/roles/%zu", i);
		if (host->json_get_string(host, request, pointer, &in->roles[in->n_roles]) == 0)
			in->n_roles++;
	}
	in->plan = rules_fact(ctx, request, "/context/plan", "/tenant/manifest/spec/plan");
	in->isolation = rules_fact(ctx, request, "/tenant/placement/isolation", "/tenant/manifest/spec/isolation");
	in->region = rules_fact(ctx, request, "/context/region", "/tenant/placement/region");
	in->residency = rules_fact(ctx, request, "/tenant/manifest/spec/placement/residency", NULL);
	n = 0;
	host->json_get_size(host, request, "/tenant/manifest/metadata/labels", &n);
	for (size_t i = 0; i < n && in->n_labels < RULES_MAX_LABELS; i++) {
		const char *key = NULL, *value = NULL;
		if (host->json_get_key(host, request, "/tenant/manifest/metadata/labels", i, &key) < 0)
			continue;
		rules_label_pointer(key, pointer, sizeof(pointer));
		if (host->json_get_string(host, request, pointer, &value) < 0)
			continue;
		in->label_keys[in->n_labels] = key;
		in->label_values[in->n_labels] = value;
		in->n_labels++;
	}
	/* the request's own time, so a decision can be replayed (and tested) */
	time_text = rules_fact(ctx, request, "/context/time", NULL);
	if (time_text == NULL || rules_parse_time(time_text, &in->time_ms) < 0)
		in->time_ms = host->clock_realtime_ms(host);
	return 0;
}

static tnd_policy_evaluate_fn rules_evaluate_request;

static int rules_evaluate_request(void *opaque, const struct tnd_json *request, struct tnd_buf *response,
				  struct tnd_error *err)
{
	struct rules_ctx *ctx = opaque;
	const struct tnd_host *host = ctx->host;
	struct rules_outcome outcome;
	struct rules_input in;
	int r = rules_collect(ctx, request, &in, err);

	if (r < 0)
		return r;
	pthread_rwlock_rdlock(&ctx->lock);
	rules_evaluate(ctx->set, &in, &outcome);
	/* the reasons are the set's strings: write them before letting go of it */
	r = host->buf_printf(host, response, "{\"decision\":\"%s\",\"reasons\":[",
			     outcome.effect == RULES_ALLOW ? "allow" : "deny");
	for (size_t i = 0; r == 0 && i < outcome.n_reasons; i++) {
		if (i > 0)
			r = host->buf_append(host, response, ",", 1);
		if (r == 0)
			r = host->buf_append_json_string(host, response, outcome.reasons[i]);
	}
	pthread_rwlock_unlock(&ctx->lock);
	rules_outcome_clear(&outcome);
	if (r == 0)
		r = host->buf_printf(host, response, "],\"obligations\":{}}");
	if (r < 0)
		tnd_error_set(err, "cannot write the answer: %s", strerror(-r));
	return r;
}

static const struct tnd_policy_ops rules_ops = {
	.size = sizeof(struct tnd_policy_ops),
	.evaluate = rules_evaluate_request,
	.reload = rules_reload,
};

TND_PLUGIN_DEFINE(TND_PLUGIN_POLICY, "rules", PACKAGE_VERSION, 0, rules_init, rules_fini, &rules_ops,
		  rules_check_config, "ordered allow/deny rules from a libconfig file");
