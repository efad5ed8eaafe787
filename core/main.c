/*
 * main.c — tenancyd's entry point: the command line, and dispatch to the
 * modes: check a config (-t), list plugins, development server (--dev),
 * or the daemon.  Exit codes: 0 success, 1 failure, 2 usage.
 */
#include "autoconfig.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "daemon.h"
#include "dev_mode.h"
#include "log.h"
#include "plugin_loader.h"
#include "util.h"

#define MAIN_DEFAULT_CONFIG TND_SYSCONFDIR "/tenancyd.conf"

static void main_usage(FILE *out)
{
	fprintf(out,
		"Usage: tenancyd [OPTIONS]\n"
		"\n"
		"The tenancy control plane daemon.\n"
		"\n"
		"  -c, --config FILE   configuration file (default %s)\n"
		"  -t, --test-config   check the configuration and the plugins it names, then exit\n"
		"  -f, --foreground    do not detach; log to stderr unless the config names a file\n"
		"      --list-plugins  load the configured plugins, print name, kind, version and ABI, exit\n"
		"      --dev           development server: SQLite registry and loopback API in a state\n"
		"                      directory, admin token printed; stays in the foreground\n"
		"      --state-dir DIR with --dev: keep state in DIR (default: a new temporary directory)\n"
		"      --listen ADDR   with --dev: listen on host:port (default %s)\n"
		"      --registry-only with --dev: no data plane and no workers; desired states settle at once\n"
		"  -V, --version       print the version and plugin ABI, then exit\n"
		"  -h, --help          show this help\n"
		"\n"
		"Signals: SIGHUP reloads the configuration (a bad file keeps the old one), SIGTERM and\n"
		"SIGINT drain in-flight requests and exit, SIGUSR1 reopens the log file.\n",
		MAIN_DEFAULT_CONFIG, DEV_MODE_DEFAULT_LISTEN);
}

/* Load the config and every plugin it names without starting anything. */
static int main_load_plugins(const char *config_path, struct tnd_conf **ret_conf, struct plugin_set *set)
{
	struct plugin_load_options load = { 0 };
	struct tnd_error err = { "" };
	struct tnd_conf *conf = NULL;

	if (conf_load(config_path, &conf, &err) < 0) {
		fprintf(stderr, "tenancyd: %s\n", err.message);
		return -1;
	}
	load.dir = conf->plugins.dir;
	load.build_dir = daemon_build_dir();
	load.allow_unsafe_permissions = conf->plugins.allow_unsafe_permissions;
	load.state_dir = conf->daemon.state_dir;
	load.check_only = true;
	if (plugin_load_all(&load, conf, set, &err) < 0) {
		fprintf(stderr, "tenancyd: %s\n", err.message);
		plugin_set_clear(set);
		conf_unref(conf);
		return -1;
	}
	*ret_conf = conf;
	return 0;
}

static int main_check_config(const char *config_path)
{
	struct plugin_set set = { NULL, 0 };
	struct tnd_conf *conf = NULL;

	/* the loader logs refusals; keep them on stderr next to our verdict */
	log_open(NULL, TND_LOG_WARNING);
	if (main_load_plugins(config_path, &conf, &set) < 0)
		return 1;
	printf("%s: configuration ok (%zu region(s), %zu plan(s), %zu plugin(s))\n", conf->path, conf->n_regions,
	       conf->n_plans, set.n);
	plugin_set_clear(&set);
	conf_unref(conf);
	return 0;
}

static int main_list_plugins(const char *config_path)
{
	struct plugin_set set = { NULL, 0 };
	struct tnd_conf *conf = NULL;

	log_open(NULL, TND_LOG_WARNING);
	if (main_load_plugins(config_path, &conf, &set) < 0)
		return 1;
	plugin_set_print(&set, stdout);
	plugin_set_clear(&set);
	conf_unref(conf);
	return 0;
}

int main(int argc, char **argv)
{
	enum { OPT_LIST_PLUGINS = 256, OPT_DEV, OPT_STATE_DIR, OPT_LISTEN, OPT_REGISTRY_ONLY };
	static const struct option options[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "test-config", no_argument, NULL, 't' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "list-plugins", no_argument, NULL, OPT_LIST_PLUGINS },
		{ "dev", no_argument, NULL, OPT_DEV },
		{ "state-dir", required_argument, NULL, OPT_STATE_DIR },
		{ "listen", required_argument, NULL, OPT_LISTEN },
		{ "registry-only", no_argument, NULL, OPT_REGISTRY_ONLY },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config_path = NULL, *state_dir = NULL, *listen = NULL;
	bool test = false, foreground = false, list = false, dev = false, registry_only = false;
	struct daemon_options opts = { 0 };
	char *dev_config = NULL;
	int c, code;

	while ((c = getopt_long(argc, argv, "c:tfVh", options, NULL)) != -1) {
		switch (c) {
		case 'c': config_path = optarg; break;
		case 't': test = true; break;
		case 'f': foreground = true; break;
		case OPT_LIST_PLUGINS: list = true; break;
		case OPT_DEV: dev = true; break;
		case OPT_STATE_DIR: state_dir = optarg; break;
		case OPT_LISTEN: listen = optarg; break;
		case OPT_REGISTRY_ONLY: registry_only = true; break;
		case 'V':
			printf("tenancyd %s (plugin ABI %d.%d)\n", PACKAGE_VERSION, TND_ABI_MAJOR, TND_ABI_MINOR);
			return 0;
		case 'h': main_usage(stdout); return 0;
		default: main_usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "tenancyd: unexpected argument '%s'\n", argv[optind]);
		main_usage(stderr);
		return 2;
	}
	if ((state_dir || listen || registry_only) && !dev) {
		fprintf(stderr, "tenancyd: --state-dir, --listen and --registry-only go with --dev (the config file sets them otherwise)\n");
		return 2;
	}
	if (dev && config_path) {
		fprintf(stderr, "tenancyd: --dev generates its own config; drop -c or drop --dev\n");
		return 2;
	}
	if (dev) {
		struct tnd_error err = { "" };
		if (dev_mode_prepare_engine(state_dir, listen, !registry_only && dev_mode_embedded_plugins_found(),
					    &dev_config, &err) < 0) {
			fprintf(stderr, "tenancyd: %s\n", err.message);
			return 1;
		}
		config_path = dev_config;
		foreground = true;
	}
	if (config_path == NULL)
		config_path = MAIN_DEFAULT_CONFIG;

	if (test)
		code = main_check_config(config_path);
	else if (list)
		code = main_list_plugins(config_path);
	else {
		opts.config_path = config_path;
		opts.foreground = foreground;
		opts.dev = dev;
		code = daemon_run(&opts);
	}
	free(dev_config);
	return code;
}
