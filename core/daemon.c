/*
 * daemon.c — tenancyd's life: start-up in dependency order, the signal
 * loop, and shutdown in reverse order.
 *
 * Signals are blocked in every thread and taken synchronously by the main
 * thread with sigtimedwait(), so handlers never run in async-signal context
 * and a reload can do real work (parse files, log).  The same loop runs
 * periodic registry housekeeping.
 */
#include "autoconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "api.h"
#include "audit.h"
#include "conf.h"
#include "controller.h"
#include "credentials.h"
#include "dispatcher.h"
#include "webhook_secret.h"
#include "daemon.h"
#include "log.h"
#include "orchestrator.h"
#include "plugin_loader.h"
#include "policy_gate.h"
#include "reconcile.h"
#include "quota_usage.h"
#include "region_usage.h"
#include "registry.h"
#include "state_lock.h"
#include "util.h"

#define LOG_COMPONENT "daemon"

#define DAEMON_MAINTAIN_INTERVAL_S 60
/* tenant documents kept rendered in memory (about 1 KiB each) */
#define DAEMON_DOCUMENT_CACHE 16384

/* --- pid file --------------------------------------------------------------- */

static int daemon_pidfile_fd = -1;

static int daemon_pidfile_take(const char *path)
{
	char text[32];
	int fd, len;

	if (path == NULL)
		return 0;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0) {
		log_error("cannot open pid file %s: %s", path, strerror(errno));
		return -errno;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		ssize_t r = read(fd, text, sizeof(text) - 1);
		text[r > 0 ? r : 0] = '\0';
		text[strcspn(text, "\n")] = '\0';
		log_error("another tenancyd holds %s (pid %s)", path, text[0] ? text : "unknown");
		close(fd);
		return -EBUSY;
	}
	len = snprintf(text, sizeof(text), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) < 0 || pwrite(fd, text, (size_t)len, 0) != len) {
		log_error("cannot write pid file %s: %s", path, strerror(errno));
		close(fd);
		return -EIO;
	}
	daemon_pidfile_fd = fd;
	return 0;
}

static void daemon_pidfile_release(const char *path)
{
	if (daemon_pidfile_fd < 0)
		return;
	unlink(path);
	close(daemon_pidfile_fd);
	daemon_pidfile_fd = -1;
}

/* --- detaching ----------------------------------------------------------------- */

/*
 * Fork into the background; the parent waits until the child reports that
 * it is serving (or failed) over a pipe and exits with that status, so
 * `tenancyd && next-step` only proceeds against a ready daemon.
 */
static int daemon_detach(int *ret_ready_fd)
{
	int fds[2];
	pid_t pid;

	if (pipe2(fds, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid > 0) {
		char status = 1;
		close(fds[1]);
		if (read(fds[0], &status, 1) != 1)
			status = 1;
		_exit(status);
	}
	close(fds[0]);
	if (setsid() < 0)
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid > 0)
		_exit(0);
	if (chdir("/") < 0)
		return -errno;
	{
		int null = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (null >= 0) {
			dup2(null, STDIN_FILENO);
			dup2(null, STDOUT_FILENO);
			close(null);
		}
	}
	*ret_ready_fd = fds[1];
	return 0;
}

static void daemon_report_ready(int *ready_fd, char status)
{
	if (*ready_fd < 0)
		return;
	if (write(*ready_fd, &status, 1) != 1)
		log_warning("could not tell the parent process we are ready");
	close(*ready_fd);
	*ready_fd = -1;
	if (status == 0) {
		/* stderr stays the log until we are up, so start-up errors reach the operator */
		int null = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (null >= 0) {
			dup2(null, STDERR_FILENO);
			close(null);
		}
	}
}

/* --- reload ------------------------------------------------------------------------- */

static bool daemon_plugin_lists_differ(const struct tnd_plugin_conf *a, size_t na, const struct tnd_plugin_conf *b,
				       size_t nb)
{
	if (na != nb)
		return true;
	for (size_t i = 0; i < na; i++)
		if (!tnd_streq(a[i].name, b[i].name) || !tnd_streq(a[i].file, b[i].file) ||
		    !json_equal(a[i].settings, b[i].settings))
			return true;
	return false;
}

static bool daemon_plugins_differ(const struct tnd_conf *a, const struct tnd_conf *b)
{
	return !tnd_streq(a->plugins.dir, b->plugins.dir) ||
	       daemon_plugin_lists_differ(&a->plugins.storage, 1, &b->plugins.storage, 1) ||
	       daemon_plugin_lists_differ(a->plugins.isolation, a->plugins.n_isolation, b->plugins.isolation,
					  b->plugins.n_isolation) ||
	       daemon_plugin_lists_differ(a->plugins.policy, a->plugins.policy != NULL, b->plugins.policy,
					  b->plugins.policy != NULL) ||
	       daemon_plugin_lists_differ(a->plugins.notifiers, a->plugins.n_notifiers, b->plugins.notifiers,
					  b->plugins.n_notifiers);
}

static bool daemon_workers_differ(const struct tnd_conf *a, const struct tnd_conf *b)
{
	return a->daemon.workers != b->daemon.workers || !tnd_streq(a->workers.endpoint, b->workers.endpoint) ||
	       !tnd_streq(a->workers.command, b->workers.command) ||
	       a->workers.heartbeat_interval_ms != b->workers.heartbeat_interval_ms ||
	       a->workers.heartbeat_timeout_ms != b->workers.heartbeat_timeout_ms ||
	       !tnd_streq(a->workers.curve_secret_key_file, b->workers.curve_secret_key_file) ||
	       !tnd_streq(a->workers.authorized_keys_file, b->workers.authorized_keys_file) ||
	       !tnd_streq(a->reconcile.credentials_key_file, b->reconcile.credentials_key_file);
}

/* The settings of the reconcile section that apply on reload (the key file
 * needs a restart, daemon_workers_differ() warns about it). */
static bool daemon_reconcile_differs(const struct tnd_conf *a, const struct tnd_conf *b)
{
	return a->reconcile.resync_interval_s != b->reconcile.resync_interval_s ||
	       a->reconcile.retry_base_ms != b->reconcile.retry_base_ms ||
	       a->reconcile.retry_cap_ms != b->reconcile.retry_cap_ms ||
	       a->reconcile.max_attempts != b->reconcile.max_attempts ||
	       a->reconcile.step_timeout_s != b->reconcile.step_timeout_s ||
	       a->reconcile.archive_retention_days != b->reconcile.archive_retention_days;
}

static void daemon_reload(const char *path, struct controller *ctl)
{
	struct tnd_conf *next = NULL, *old;
	struct tnd_error err = { "" };
	bool reconcile_changed;

	log_notice("SIGHUP: reloading %s", path);
	/* the policy's rules are files of their own: re-read them whatever
	 * becomes of tenancyd.conf */
	policy_gate_reload();
	if (conf_load(path, &next, &err) < 0) {
		log_error("reload rejected, the previous configuration stays in force: %s", err.message);
		return;
	}
	old = conf_current_get1();
	if (!tnd_streq(old->api.listen, next->api.listen))
		log_warning("api.listen changed to %s; it takes effect at the next restart", next->api.listen);
	if (!tnd_streq(old->daemon.state_dir, next->daemon.state_dir))
		log_warning("daemon.state_dir changed; it takes effect at the next restart");
	if (daemon_plugins_differ(old, next))
		log_warning("plugin configuration changed; it takes effect at the next restart");
	if (!tnd_streq(old->audit.signing_key_file, next->audit.signing_key_file) ||
	    old->audit.n_verify_keys != next->audit.n_verify_keys)
		log_warning("audit keys changed; they take effect at the next restart");
	if (daemon_workers_differ(old, next))
		log_warning("worker or credentials-key settings changed; they take effect at the next restart");
	if (!tnd_streq(old->daemon.log_file, next->daemon.log_file)) {
		int r = log_open(next->daemon.log_file, next->daemon.log_level);
		if (r < 0)
			log_error("cannot open new log file %s: %s; keeping the old one", next->daemon.log_file,
				  strerror(-r));
	}
	log_set_level(next->daemon.log_level);
	reconcile_changed = daemon_reconcile_differs(old, next);
	conf_unref(old);
	conf_current_replace(next);
	log_notice("configuration reloaded from %s", path);
	/* the controller sleeps a whole resync_interval at a time: without a
	 * kick, a shorter interval would wait out the old one first */
	if (ctl && reconcile_changed)
		controller_kick(ctl);
}

/* --- the run ---------------------------------------------------------------------------- */

static void daemon_write_url(const struct tnd_conf *conf, uint16_t port, char *url, size_t cap)
{
	char *path = tnd_xasprintf("%s/api.url", conf->daemon.state_dir);
	struct tnd_error err = { "" };
	bool v6 = strchr(conf->api.host, ':') != NULL;

	snprintf(url, cap, "http://%s%s%s:%u", v6 ? "[" : "", conf->api.host, v6 ? "]" : "", (unsigned)port);
	{
		char *line = tnd_xasprintf("%s\n", url);
		if (tnd_write_file_atomic(path, line, strlen(line), 0644, &err) < 0)
			log_warning("cannot write %s: %s", path, err.message);
		free(line);
	}
	free(path);
}

static void daemon_print_banner(const struct tnd_conf *conf, const char *url)
{
	char *token_path = tnd_xasprintf("%s/admin.token", conf->daemon.state_dir);
	char *token = NULL;
	struct tnd_error err = { "" };

	if (tnd_read_file(token_path, 4096, &token, NULL, &err) == 0)
		token[strcspn(token, "\n")] = '\0';
	printf("\n"
	       "tenancyd development server\n"
	       "  API:          %s\n"
	       "  state dir:    %s\n"
	       "  admin token:  %s\n"
	       "                (also operator.token, viewer.token and auditor.token in the state dir)\n"
	       "  try:\n"
	       "    curl -H \"Authorization: Bearer $(cat %s)\" %s/v1/tenants\n"
	       "    export TENANCYD_URL=%s TENANCYD_TOKEN=$(cat %s)\n"
	       "    tenancyctl list\n\n",
	       url, conf->daemon.state_dir, token ? token : "(unreadable)", token_path, url, url, token_path);
	fflush(stdout);
	free(token);
	free(token_path);
}

/*
 * With isolation plugins configured, start the reconcile engine: credentials
 * key, workers and orchestrator, controller.  Without, the registry settles
 * desired states by itself (registry-only mode).
 */
static int daemon_start_reconcile(const struct tnd_conf *conf, const char *config_path, struct registry *reg,
				  struct orchestrator **ret_orch, struct controller **ret_ctl)
{
	struct credentials_key *key = NULL;
	struct tnd_error err = { "" };

	if (!conf_reconcile_enabled(conf)) {
		log_notice("no isolation plugin configured: registry-only mode (desired states settle at once)");
		return 0;
	}
	if (!registry_supports_reconcile(reg)) {
		log_error("the storage driver %s predates storage ABI 1.1 (no workflows): cannot run the data plane",
			  conf->plugins.storage.name);
		return -ENOTSUP;
	}
	if (credentials_key_load(conf->reconcile.credentials_key_file, &key, &err) < 0) {
		log_error("reconcile.credentials_key_file: %s", err.message);
		return -EINVAL;
	}
	if (orchestrator_start(reg, config_path, ret_orch, &err) < 0) {
		log_error("cannot start the workers: %s", err.message);
		credentials_key_free(key);
		return -EIO;
	}
	reconcile_setup(key, (void (*)(void *))orchestrator_wake, *ret_orch);
	if (controller_start(reg, *ret_orch, ret_ctl, &err) < 0) {
		log_error("%s", err.message);
		return -EIO;
	}
	log_notice("reconcile engine running: %d worker(s), resync every %llds", conf->daemon.workers,
		   (long long)conf->reconcile.resync_interval_s);
	return 0;
}

/*
 * Webhooks: subscription secrets are sealed with the credentials key (the
 * reconcile engine's, or loaded here when only the file is configured);
 * the dispatcher runs when a `webhook` notifier plugin is configured.
 */
static int daemon_start_webhooks(const struct tnd_conf *conf, struct registry *reg, const struct plugin_set *plugins,
				 struct credentials_key **ret_own_key, struct dispatcher **ret_dispatcher)
{
	const struct tnd_loaded_plugin *notifier = plugin_set_find(plugins, "webhook");
	struct tnd_error err = { "" };

	if (reconcile_key()) {
		webhook_secret_set_key(reconcile_key());
	} else if (conf->reconcile.credentials_key_file) {
		if (credentials_key_load(conf->reconcile.credentials_key_file, ret_own_key, &err) < 0) {
			log_error("reconcile.credentials_key_file: %s", err.message);
			return -EINVAL;
		}
		webhook_secret_set_key(*ret_own_key);
	}
	if (notifier == NULL || notifier->kind != TND_PLUGIN_NOTIFIER)
		return 0;
	if (!webhook_secret_available()) {
		log_error("the webhook notifier needs reconcile.credentials_key_file: subscription secrets are sealed "
			  "with it");
		return -EINVAL;
	}
	if (dispatcher_start(reg, conf, notifier, ret_dispatcher, &err) < 0) {
		log_error("cannot start the webhook dispatcher: %s", err.message);
		return -EIO;
	}
	return 0;
}

static void daemon_block_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGHUP);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, set, NULL);
	signal(SIGPIPE, SIG_IGN);
}

int daemon_run(const struct daemon_options *opts)
{
	struct plugin_load_options load = { 0 };
	struct plugin_set plugins = { NULL, 0 };
	struct tnd_error err = { "" };
	struct tnd_conf *conf = NULL;
	struct api_server *api = NULL;
	struct registry *reg = NULL;
	struct tnd_loaded_plugin *storage;
	struct orchestrator *orch = NULL;
	struct controller *ctl = NULL;
	struct dispatcher *dispatcher = NULL;
	struct credentials_key *webhook_key = NULL;
	int ready_fd = -1, exit_code = 1;
	int64_t next_maintain;
	char url[128];
	sigset_t signals;
	unsigned left;

	if (conf_load(opts->config_path, &conf, &err) < 0) {
		fprintf(stderr, "tenancyd: %s\n", err.message);
		return 1;
	}
	if (log_open(conf->daemon.log_file, conf->daemon.log_level) < 0) {
		fprintf(stderr, "tenancyd: cannot open log file %s: %s\n", conf->daemon.log_file, strerror(errno));
		conf_unref(conf);
		return 1;
	}
	if (!opts->foreground && daemon_detach(&ready_fd) < 0) {
		log_error("cannot detach: %s", strerror(errno));
		conf_unref(conf);
		return 1;
	}
	daemon_block_signals(&signals);
	if (tnd_mkdir_p(conf->daemon.state_dir, 0750) < 0) {
		log_error("cannot create state directory %s: %s", conf->daemon.state_dir, strerror(errno));
		goto out;
	}
	if (state_lock_acquire(conf->daemon.state_dir, &err) < 0) {
		log_error("%s", err.message);
		goto out;
	}
	if (daemon_pidfile_take(conf->daemon.pid_file) < 0)
		goto out;

	load.dir = conf->plugins.dir;
	load.build_dir = daemon_build_dir();
	load.allow_unsafe_permissions = conf->plugins.allow_unsafe_permissions;
	load.state_dir = conf->daemon.state_dir;
	load.isolation_check_only = true;
	if (plugin_load_all(&load, conf, &plugins, &err) < 0)
		goto out; /* the loader logged the refusal */
	storage = plugin_set_find_kind(&plugins, TND_PLUGIN_STORAGE);
	policy_gate_install(plugin_set_find_kind(&plugins, TND_PLUGIN_POLICY));
	if (!policy_gate_active())
		log_notice("no policy plugin configured: every request is allowed");
	reg = registry_new(storage, DAEMON_DOCUMENT_CACHE);
	if (region_usage_load(reg, &err) < 0) {
		log_error("cannot count the tenants per region: %s", err.message);
		goto out;
	}
	if (quota_usage_load(reg, conf, &err) < 0) {
		log_error("cannot count the compute units per plan: %s", err.message);
		goto out;
	}
	conf_current_replace(conf_ref(conf));
	if (audit_start(conf, reg, &err) < 0) {
		log_error("audit keys: %s", err.message);
		goto out;
	}
	if (daemon_start_reconcile(conf, opts->config_path, reg, &orch, &ctl) < 0)
		goto out;
	if (daemon_start_webhooks(conf, reg, &plugins, &webhook_key, &dispatcher) < 0)
		goto out;

	if (api_server_start(conf, reg, &api, &err) < 0) {
		log_error("%s", err.message);
		goto out;
	}
	api_server_attach_orchestrator(api, orch);
	daemon_write_url(conf, api_server_port(api), url, sizeof(url));
	log_notice("tenancyd %s serving on %s (state in %s, registry: %s)", PACKAGE_VERSION, url,
		   conf->daemon.state_dir, storage->name);
	if (opts->dev)
		daemon_print_banner(conf, url);
	daemon_report_ready(&ready_fd, 0);

	next_maintain = tnd_monotonic_us() + DAEMON_MAINTAIN_INTERVAL_S * 1000000LL;
	for (;;) {
		struct timespec wait = { 1, 0 };
		int sig = sigtimedwait(&signals, NULL, &wait);

		if (sig == SIGTERM || sig == SIGINT) {
			log_notice("%s: draining", sig == SIGTERM ? "SIGTERM" : "SIGINT");
			break;
		} else if (sig == SIGHUP) {
			daemon_reload(opts->config_path, ctl);
		} else if (sig == SIGUSR1) {
			int r = log_reopen();
			if (r < 0)
				log_error("SIGUSR1: cannot reopen the log file: %s", strerror(-r));
			else
				log_notice("SIGUSR1: log file reopened");
		}
		if (tnd_monotonic_us() >= next_maintain) {
			if (registry_maintain(reg, &err) < 0)
				log_warning("registry housekeeping failed: %s", err.message);
			next_maintain = tnd_monotonic_us() + DAEMON_MAINTAIN_INTERVAL_S * 1000000LL;
		}
	}

	api_server_quiesce(api);
	{
		struct tnd_conf *current = conf_current_get1();
		left = api_server_drain(api, current->api.drain_timeout_s);
		conf_unref(current);
	}
	if (left > 0)
		log_warning("drain timeout: %u request(s) still in flight are cut off", left);
	exit_code = 0;
out:
	daemon_report_ready(&ready_fd, 1);
	api_server_stop(api);
	/* requests are done: no new work; then let in-flight steps land */
	dispatcher_stop(dispatcher);
	webhook_secret_set_key(NULL);
	credentials_key_free(webhook_key);
	controller_stop(ctl);
	orchestrator_stop(orch);
	reconcile_shutdown();
	audit_stop();
	registry_free(reg);
	region_usage_reset();
	quota_usage_reset();
	policy_gate_install(NULL);
	plugin_set_clear(&plugins);
	daemon_pidfile_release(conf->daemon.pid_file);
	if (exit_code == 0)
		log_notice("stopped");
	conf_current_replace(NULL);
	conf_unref(conf);
	return exit_code;
}
