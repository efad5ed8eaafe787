/*
 * worker_spawn.c — local worker processes (see worker_spawn.h): fork+exec,
 * waitpid polling, restart backoff, and the stop sequence.
 *
 * The core is multi-threaded, so between fork() and exec() the child only
 * makes async-signal-safe calls on memory prepared before the fork.  The
 * child unblocks the signals the daemon blocks in all its threads (the
 * worker must see SIGTERM), restores SIGPIPE, and asks the kernel to
 * SIGTERM it when its parent thread — the pool's I/O thread — goes away,
 * so a crashed core leaves no orphaned workers behind.
 */
#include "autoconfig.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "metrics.h"
#include "util.h"
#include "worker_spawn.h"

#define LOG_COMPONENT "workers"

struct spawn_slot {
	char id[32];           /* local-<n> */
	pid_t pid;             /* 0: not running */
	int64_t started_us;
	int64_t next_start_us; /* when not running: when to start it */
	int64_t backoff_ms;    /* the delay before the next restart */
	bool exited_before;    /* the next start is a restart */
};

struct worker_spawner {
	char *command;
	char *config_path;
	char *endpoint;
	struct spawn_slot *slots;
	size_t n_slots;
	uint64_t respawns;
	bool stopped;
};

struct worker_spawner *worker_spawner_new(const struct worker_spawn_options *opts)
{
	struct worker_spawner *spawner = tnd_xcalloc(1, sizeof(*spawner));
	int64_t now = tnd_monotonic_us();

	spawner->command = tnd_xstrdup(opts->command);
	spawner->config_path = tnd_xstrdup(opts->config_path);
	spawner->endpoint = tnd_xstrdup(opts->endpoint);
	spawner->n_slots = opts->count > 0 ? (size_t)opts->count : 0;
	spawner->slots = tnd_xcalloc(spawner->n_slots ? spawner->n_slots : 1, sizeof(*spawner->slots));
	for (size_t i = 0; i < spawner->n_slots; i++) {
		snprintf(spawner->slots[i].id, sizeof(spawner->slots[i].id), "local-%zu", i + 1);
		spawner->slots[i].next_start_us = now;
		spawner->slots[i].backoff_ms = WORKER_SPAWN_BACKOFF_MIN_MS;
	}
	return spawner;
}

static void spawn_start(struct worker_spawner *spawner, struct spawn_slot *slot, int64_t now)
{
	char *argv[] = { spawner->command, "-c", spawner->config_path, "--connect", spawner->endpoint,
			 "--id",           slot->id, NULL };
	pid_t parent = getpid(), pid;

	pid = fork();
	if (pid == 0) {
		struct sigaction dfl;
		sigset_t none;

		memset(&dfl, 0, sizeof(dfl));
		dfl.sa_handler = SIG_DFL;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		sigaction(SIGPIPE, &dfl, NULL);
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != parent)
			_exit(1); /* the core died before the line above */
		execv(spawner->command, argv);
		_exit(127);
	}
	if (pid < 0) {
		log_error("cannot start worker %s: fork: %s; retrying in %lld ms", slot->id, strerror(errno),
			  (long long)slot->backoff_ms);
		slot->next_start_us = now + slot->backoff_ms * 1000;
		slot->backoff_ms = slot->backoff_ms * 2 > WORKER_SPAWN_BACKOFF_MAX_MS ? WORKER_SPAWN_BACKOFF_MAX_MS
										   : slot->backoff_ms * 2;
		return;
	}
	slot->pid = pid;
	slot->started_us = now;
	if (slot->exited_before) {
		spawner->respawns++;
		metrics_counter_add("tenancyd_worker_respawns_total", "Local worker processes restarted after an exit",
				    NULL, 1);
	}
	log_info("started worker %s (pid %ld): %s", slot->id, (long)pid, spawner->command);
}

static void spawn_describe_status(int status, char *buf, size_t cap)
{
	if (WIFEXITED(status))
		snprintf(buf, cap, "exited with status %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, cap, "was killed by signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
	else
		snprintf(buf, cap, "ended (wait status %d)", status);
}

/* After an exit: restart after the current backoff, then double it. */
static void spawn_exited(struct worker_spawner *spawner, struct spawn_slot *slot, int status, int64_t now)
{
	char how[96];
	int64_t lived_ms = (now - slot->started_us) / 1000;

	if (lived_ms >= WORKER_SPAWN_STABLE_MS)
		slot->backoff_ms = WORKER_SPAWN_BACKOFF_MIN_MS;
	spawn_describe_status(status, how, sizeof(how));
	slot->pid = 0;
	slot->exited_before = true;
	slot->next_start_us = now + slot->backoff_ms * 1000;
	if (!spawner->stopped)
		log_warning("worker %s %s after %lld ms; restarting in %lld ms", slot->id, how, (long long)lived_ms,
			    (long long)slot->backoff_ms);
	slot->backoff_ms = slot->backoff_ms * 2 > WORKER_SPAWN_BACKOFF_MAX_MS ? WORKER_SPAWN_BACKOFF_MAX_MS
									   : slot->backoff_ms * 2;
}

int64_t worker_spawner_tick(struct worker_spawner *spawner, worker_exit_fn *on_exit, void *userdata)
{
	int64_t now = tnd_monotonic_us(), next = INT64_MAX;

	for (size_t i = 0; i < spawner->n_slots; i++) {
		struct spawn_slot *slot = &spawner->slots[i];
		int status;

		if (slot->pid > 0 && waitpid(slot->pid, &status, WNOHANG) == slot->pid) {
			pid_t pid = slot->pid;
			spawn_exited(spawner, slot, status, now);
			if (on_exit)
				on_exit(slot->id, pid, userdata);
		}
		if (spawner->stopped || slot->pid > 0)
			continue;
		if (now >= slot->next_start_us)
			spawn_start(spawner, slot, now);
		if (slot->pid == 0 && slot->next_start_us < next)
			next = slot->next_start_us;
	}
	return next;
}

uint64_t worker_spawner_respawns(const struct worker_spawner *spawner)
{
	return spawner ? spawner->respawns : 0;
}

static bool spawn_any_running(const struct worker_spawner *spawner)
{
	for (size_t i = 0; i < spawner->n_slots; i++)
		if (spawner->slots[i].pid > 0)
			return true;
	return false;
}

static void spawn_reap(struct worker_spawner *spawner, int flags)
{
	int64_t now = tnd_monotonic_us();

	for (size_t i = 0; i < spawner->n_slots; i++) {
		struct spawn_slot *slot = &spawner->slots[i];
		int status = 0;
		pid_t r;

		if (slot->pid <= 0)
			continue;
		do
			r = waitpid(slot->pid, &status, flags);
		while (r < 0 && errno == EINTR);
		if (r == slot->pid || (r < 0 && errno == ECHILD))
			spawn_exited(spawner, slot, status, now);
	}
}

void worker_spawner_stop(struct worker_spawner *spawner, int64_t grace_ms)
{
	int64_t deadline = tnd_monotonic_us() + grace_ms * 1000;

	if (spawner == NULL)
		return;
	spawner->stopped = true;
	for (size_t i = 0; i < spawner->n_slots; i++)
		if (spawner->slots[i].pid > 0)
			kill(spawner->slots[i].pid, SIGTERM);
	for (;;) {
		struct timespec pause = { 0, 10 * 1000 * 1000 };

		spawn_reap(spawner, WNOHANG);
		if (!spawn_any_running(spawner) || tnd_monotonic_us() >= deadline)
			break;
		nanosleep(&pause, NULL);
	}
	for (size_t i = 0; i < spawner->n_slots; i++)
		if (spawner->slots[i].pid > 0) {
			log_warning("worker %s (pid %ld) did not exit within %lld ms: killing it", spawner->slots[i].id,
				    (long)spawner->slots[i].pid, (long long)grace_ms);
			kill(spawner->slots[i].pid, SIGKILL);
		}
	spawn_reap(spawner, 0);
}

void worker_spawner_free(struct worker_spawner *spawner)
{
	if (spawner == NULL)
		return;
	free(spawner->command);
	free(spawner->config_path);
	free(spawner->endpoint);
	free(spawner->slots);
	free(spawner);
}
