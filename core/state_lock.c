/*
 * state_lock.c — one tenancyd per state directory (see state_lock.h).
 */
#include "autoconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "state_lock.h"
#include "util.h"

static int state_lock_fd = -1;
static char *state_lock_dir;

int state_lock_acquire(const char *state_dir, struct tnd_error *err)
{
	char *path, text[32];
	int fd, len;

	if (state_lock_fd >= 0 && tnd_streq(state_lock_dir, state_dir))
		return 0;
	path = tnd_xasprintf("%s/tenancyd.lock", state_dir);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		int e = errno;
		tnd_error_set(err, "cannot open %s: %s", path, strerror(e));
		free(path);
		return -e;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		ssize_t n = pread(fd, text, sizeof(text) - 1, 0);
		text[n > 0 ? n : 0] = '\0';
		text[strcspn(text, "\n")] = '\0';
		tnd_error_set(err, "another tenancyd (pid %s) is using the state directory %s",
			      text[0] ? text : "unknown", state_dir);
		close(fd);
		free(path);
		return -EBUSY;
	}
	/* the pid is for the message above; the lock itself is what counts */
	len = snprintf(text, sizeof(text), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) == 0 && pwrite(fd, text, (size_t)len, 0) != len) {
		/* not fatal: the flock still excludes everyone else */
	}
	free(path);
	if (state_lock_fd >= 0)
		close(state_lock_fd);
	free(state_lock_dir);
	state_lock_fd = fd;
	state_lock_dir = tnd_xstrdup(state_dir);
	return 0;
}
