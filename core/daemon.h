/*
 * daemon.h — running tenancyd: start-up in order, the signal loop
 * (SIGHUP reload, SIGUSR1 reopen logs, SIGTERM/SIGINT drain and exit),
 * and shutdown in reverse order.
 */
#ifndef TND_DAEMON_H
#define TND_DAEMON_H

#include <stdbool.h>

#include "buildtree.h" /* daemon_build_dir() */

struct daemon_options {
	const char *config_path;
	bool foreground;
	bool dev;            /* print the development banner once listening */
};

/** Run until told to stop.  Returns the process exit code. */
int daemon_run(const struct daemon_options *opts);

#endif /* TND_DAEMON_H */
