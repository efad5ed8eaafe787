/*
 * worker_main.c — tenancyd-worker's entry point: the command line, the
 * configuration and the isolation plugins it names, CURVE keys, signals,
 * then the session with the core (worker_session.c).
 *
 * Exit codes: 0 after SHUTDOWN or SIGTERM, 1 on a start-up failure, 2 usage.
 */
#include "autoconfig.h"

#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <zmq.h>

#include "buildtree.h"
#include "conf.h"
#include "util.h"
#include "worker.h"
#include "worker_curve.h"
#include "worker_proto.h"

#define MAIN_DEFAULT_CONFIG TND_SYSCONFDIR "/tenancyd.conf"

char worker_log_fields[WORKER_PROTO_ID_MAX + 32];

struct main_options {
	const char *config_path;
	const char *endpoint;
	const char *id;
	const char *server_key_file;
	const char *public_key_file;
	const char *secret_key_file;
	int log_level; /* -1: the config's */
};

static void main_usage(FILE *out)
{
	fprintf(out,
		"Usage: tenancyd-worker -c CONFIG --connect ENDPOINT [OPTIONS]\n"
		"\n"
		"Runs tenancyd's isolation-plugin ops for the core at ENDPOINT (ipc://PATH for local\n"
		"workers, tcp://HOST:PORT with CURVE keys for remote ones).\n"
		"\n"
		"  -c, --config FILE              tenancyd.conf naming the isolation plugins (default %s)\n"
		"      --connect ENDPOINT         the core's worker endpoint\n"
		"      --id NAME                  this worker's id, [A-Za-z0-9._-]{1,64} (default HOST-PID)\n"
		"      --curve-server-key FILE    the core's CURVE public key (Z85), for tcp://\n"
		"      --curve-public-key FILE    this worker's CURVE public key (Z85), for tcp://\n"
		"      --curve-secret-key FILE    this worker's CURVE secret key (Z85, mode 0600), for tcp://\n"
		"      --foreground-log-level L   log to stderr at L (error, warning, notice, info, debug)\n"
		"                                 instead of the config's daemon.log_level\n"
		"  -V, --version                  print the version and protocol, then exit\n"
		"  -h, --help                     show this help\n"
		"\n"
		"SIGTERM and SIGINT end the worker; a running op is given %d ms to finish\n"
		"(none when the core started this worker: it ends at once).\n"
		"SIGUSR1 reopens the log file; it is also reopened when rotated away.\n",
		MAIN_DEFAULT_CONFIG, WORKER_FINISH_GRACE_MS);
}

static int main_parse(int argc, char **argv, struct main_options *o)
{
	enum { OPT_CONNECT = 256, OPT_ID, OPT_SERVER_KEY, OPT_PUBLIC_KEY, OPT_SECRET_KEY, OPT_LOG_LEVEL };
	static const struct option options[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "connect", required_argument, NULL, OPT_CONNECT },
		{ "id", required_argument, NULL, OPT_ID },
		{ "curve-server-key", required_argument, NULL, OPT_SERVER_KEY },
		{ "curve-public-key", required_argument, NULL, OPT_PUBLIC_KEY },
		{ "curve-secret-key", required_argument, NULL, OPT_SECRET_KEY },
		{ "foreground-log-level", required_argument, NULL, OPT_LOG_LEVEL },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c, n_keys;

	memset(o, 0, sizeof(*o));
	o->config_path = MAIN_DEFAULT_CONFIG;
	o->log_level = -1;
	while ((c = getopt_long(argc, argv, "c:Vh", options, NULL)) != -1) {
		switch (c) {
		case 'c': o->config_path = optarg; break;
		case OPT_CONNECT: o->endpoint = optarg; break;
		case OPT_ID: o->id = optarg; break;
		case OPT_SERVER_KEY: o->server_key_file = optarg; break;
		case OPT_PUBLIC_KEY: o->public_key_file = optarg; break;
		case OPT_SECRET_KEY: o->secret_key_file = optarg; break;
		case OPT_LOG_LEVEL:
			o->log_level = log_level_parse(optarg);
			if (o->log_level < 0) {
				fprintf(stderr, "tenancyd-worker: unknown log level '%s'\n", optarg);
				return 2;
			}
			break;
		case 'V':
			printf("tenancyd-worker %s (worker protocol %d, plugin ABI %d.%d)\n", PACKAGE_VERSION,
			       WORKER_PROTO_VERSION, TND_ABI_MAJOR, TND_ABI_MINOR);
			return 0;
		case 'h': main_usage(stdout); return 0;
		default: main_usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "tenancyd-worker: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	if (o->endpoint == NULL) {
		fprintf(stderr, "tenancyd-worker: --connect ENDPOINT is required\n");
		return 2;
	}
	if (o->id && !worker_proto_id_valid(o->id, strlen(o->id))) {
		fprintf(stderr, "tenancyd-worker: --id '%s': want 1-64 of [A-Za-z0-9._-]\n", o->id);
		return 2;
	}
	n_keys = (o->server_key_file != NULL) + (o->public_key_file != NULL) + (o->secret_key_file != NULL);
	if (tnd_str_has_prefix(o->endpoint, "tcp://")) {
		if (n_keys != 3) {
			fprintf(stderr, "tenancyd-worker: tcp:// endpoints need --curve-server-key, "
					"--curve-public-key and --curve-secret-key\n");
			return 2;
		}
	} else if (tnd_str_has_prefix(o->endpoint, "ipc://")) {
		if (n_keys != 0) {
			fprintf(stderr, "tenancyd-worker: CURVE keys go with tcp:// endpoints only\n");
			return 2;
		}
	} else {
		fprintf(stderr, "tenancyd-worker: --connect '%s': want ipc://PATH or tcp://HOST:PORT\n", o->endpoint);
		return 2;
	}
	return -1; /* go on */
}

/* HOST-PID with anything outside the id alphabet replaced. */
static void main_default_id(char *buf, size_t cap)
{
	char host[64] = "worker";

	if (gethostname(host, sizeof(host)) < 0)
		tnd_strlcpy(host, "worker", sizeof(host));
	host[sizeof(host) - 1] = '\0';
	snprintf(buf, cap, "%.40s-%ld", host, (long)getpid());
	for (char *p = buf; *p; p++)
		if (!worker_proto_id_valid(p, 1))
			*p = '-';
}

static int main_load_plugins(const struct tnd_conf *conf, struct plugin_set *set)
{
	struct plugin_load_options load = { 0 };

	load.dir = conf->plugins.dir;
	load.build_dir = daemon_build_dir();
	load.allow_unsafe_permissions = conf->plugins.allow_unsafe_permissions;
	load.state_dir = conf->daemon.state_dir;
	for (size_t i = 0; i < conf->plugins.n_isolation; i++) {
		const struct tnd_plugin_conf *p = &conf->plugins.isolation[i];
		struct tnd_error err = { "" };
		int r = plugin_load(&load, set, TND_PLUGIN_ISOLATION, p->name, p->file, p->settings, NULL, &err);

		if (r < 0)
			return r; /* the loader logged why */
	}
	if (set->n == 0)
		worker_log(TND_LOG_WARNING, "%s names no isolation plugin: this worker can run no task", conf->path);
	return 0;
}

struct main_keys {
	char server[WORKER_CURVE_KEY_LEN + 1];
	char public[WORKER_CURVE_KEY_LEN + 1];
	char secret[WORKER_CURVE_KEY_LEN + 1];
};

static int main_read_keys(const struct main_options *o, struct main_keys *keys)
{
	struct tnd_error err = { "" };

	if (worker_curve_key_read(o->server_key_file, TND_FILE_TRUSTED, keys->server, &err) < 0 ||
	    worker_curve_key_read(o->public_key_file, TND_FILE_TRUSTED, keys->public, &err) < 0 ||
	    worker_curve_key_read(o->secret_key_file, TND_FILE_SECRET, keys->secret, &err) < 0) {
		worker_log(TND_LOG_ERROR, "%s", err.message);
		return -1;
	}
	return 0;
}

/* Whether the core spawned us: it ties a local worker's life to its own
 * (worker_spawn.c sets PR_SET_PDEATHSIG, which survives exec). */
static bool main_spawned_by_core(void)
{
	int sig = 0;

	return prctl(PR_GET_PDEATHSIG, &sig) == 0 && sig != 0;
}

static int main_serve(const struct main_options *o, const char *id, const struct plugin_set *plugins,
		      const struct main_keys *keys, int signal_fd)
{
	struct worker_session_options session = { 0 };
	struct worker_runner *runner = NULL;
	const char **names = tnd_xcalloc(plugins->n + 1, sizeof(*names));
	void *ctx = zmq_ctx_new();
	int code = 1, r = -ENOMEM;

	for (size_t i = 0; i < plugins->n; i++)
		names[i] = plugins->items[i]->name;
	if (ctx)
		r = worker_runner_start(ctx, plugins, &runner);
	if (r < 0) {
		worker_log(TND_LOG_ERROR, "cannot start the op thread: %s", zmq_strerror(-r));
		goto out;
	}
	session.worker_id = id;
	session.endpoint = o->endpoint;
	if (o->server_key_file) {
		session.server_key = keys->server;
		session.public_key = keys->public;
		session.secret_key = keys->secret;
	}
	session.plugin_names = names;
	session.n_plugins = plugins->n;
	session.signal_fd = signal_fd;
	session.spawned_by_core = main_spawned_by_core();
	code = worker_session_run(ctx, &session, runner);
	worker_runner_stop(runner);
out:
	if (ctx)
		zmq_ctx_term(ctx);
	free(names);
	return code;
}

int main(int argc, char **argv)
{
	struct plugin_set plugins = { NULL, 0 };
	struct main_keys keys;
	struct main_options o;
	struct tnd_error err = { "" };
	struct tnd_conf *conf = NULL;
	char id[WORKER_PROTO_ID_MAX + 1];
	sigset_t signals;
	int code, signal_fd = -1;

	code = main_parse(argc, argv, &o);
	if (code >= 0)
		return code;
	if (o.id)
		tnd_strlcpy(id, o.id, sizeof(id));
	else
		main_default_id(id, sizeof(id));
	snprintf(worker_log_fields, sizeof(worker_log_fields), "{\"workerId\":\"%s\"}", id);
	log_open(NULL, o.log_level >= 0 ? o.log_level : TND_LOG_INFO);

	if (conf_load(o.config_path, &conf, &err) < 0) {
		worker_log(TND_LOG_ERROR, "%s", err.message);
		return 1;
	}
	if (o.log_level < 0) {
		/* share the daemon's log file: a detached daemon's stderr is /dev/null */
		if (conf->daemon.log_file && log_open(conf->daemon.log_file, conf->daemon.log_level) < 0)
			worker_log(TND_LOG_WARNING, "cannot open log file %s; logging to stderr", conf->daemon.log_file);
		log_set_level(conf->daemon.log_level);
	}
	memset(&keys, 0, sizeof(keys));
	code = 1;
	if (o.server_key_file && main_read_keys(&o, &keys) < 0)
		goto out;

	/* taken synchronously by the session loop; the op thread inherits the mask */
	sigemptyset(&signals);
	sigaddset(&signals, SIGTERM);
	sigaddset(&signals, SIGINT);
	sigaddset(&signals, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &signals, NULL);
	signal(SIGPIPE, SIG_IGN);
	signal_fd = signalfd(-1, &signals, SFD_CLOEXEC | SFD_NONBLOCK);
	if (signal_fd < 0) {
		worker_log(TND_LOG_ERROR, "signalfd: %s", strerror(errno));
		goto out;
	}
	if (main_load_plugins(conf, &plugins) < 0)
		goto out;
	worker_log(TND_LOG_INFO, "tenancyd-worker %s (pid %ld) serving %zu isolation plugin(s)", PACKAGE_VERSION,
		   (long)getpid(), plugins.n);
	code = main_serve(&o, id, &plugins, &keys, signal_fd);
	if (code == 0)
		worker_log(TND_LOG_INFO, "stopped");
out:
	explicit_bzero(&keys, sizeof(keys));
	plugin_set_clear(&plugins);
	if (signal_fd >= 0)
		close(signal_fd);
	conf_unref(conf);
	return code;
}
