/*
 * buildtree.c — daemon_build_dir(): tenancyd, tenancyd-worker and the
 * tests share it, so it lives apart from the daemon's start-up code.
 */
#include "autoconfig.h"

#include <libgen.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

#include "buildtree.h"

const char *daemon_build_dir(void)
{
	static char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	const char *dir;

	if (n <= 0)
		return NULL;
	exe[n] = '\0';
	dir = dirname(exe);
	if (strcmp(dir, TND_ABS_BUILDDIR) == 0 || strcmp(dir, TND_ABS_BUILDDIR "/.libs") == 0)
		return TND_ABS_BUILDDIR;
	return NULL;
}
