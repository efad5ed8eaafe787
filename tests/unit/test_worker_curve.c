/*
 * test_worker_curve.c — remote workers over tcp:// with CURVE: a worker
 * whose public key is authorized gets tasks; one with an unknown key, and
 * a peer without CURVE at all, never get past the handshake, and the
 * refusals are counted.  Also what the pool and tenancyd-worker refuse to
 * start with: tcp:// without keys, unreadable or unsafe key files,
 * malformed authorized keys.
 */
#include "autoconfig.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <zmq.h>

#include "log.h"
#include "metrics.h"
#include "testutil.h"
#include "util.h"
#include "worker_proto.h"
#include "worker_testlib.h"

struct keypair {
	char public[41];
	char secret[41];
	char *public_file;
	char *secret_file;
};

struct fixture {
	struct wt_env env;
	struct wt_results results;
	struct keypair server, good, bad;
	char *authorized_file;
	char *endpoint;
	pid_t workers[2];
};

static void keypair_make(struct fixture *f, struct keypair *k, const char *name)
{
	char *file;

	assert_int_equal(zmq_curve_keypair(k->public, k->secret), 0);
	file = tnd_xasprintf("%s.public", name);
	k->public_file = testutil_write_file(f->env.dir, file, k->public, 0644);
	free(file);
	file = tnd_xasprintf("%s.secret", name);
	k->secret_file = testutil_write_file(f->env.dir, file, k->secret, 0600);
	free(file);
}

static void keypair_free(struct keypair *k)
{
	free(k->public_file);
	free(k->secret_file);
}

/* A port nobody listens on right now. */
static unsigned free_port(void)
{
	struct sockaddr_in addr;
	socklen_t len = sizeof(addr);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	memset(&addr, 0, sizeof(addr));
	addr.sin_family = AF_INET;
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&addr, &len), 0);
	close(fd);
	return ntohs(addr.sin_port);
}

static int setup(void **state)
{
	struct fixture *f = tnd_xcalloc(1, sizeof(*f));
	char *text;

	log_set_level(TND_LOG_ERROR);
	wt_env_init(&f->env, "curve", 0);
	wt_results_init(&f->results);
	keypair_make(f, &f->server, "server");
	keypair_make(f, &f->good, "good");
	keypair_make(f, &f->bad, "bad");
	text = tnd_xasprintf("# workers allowed to connect\n\n%s  good worker\n", f->good.public);
	f->authorized_file = testutil_write_file(f->env.dir, "authorized_keys", text, 0644);
	free(text);
	f->endpoint = tnd_xasprintf("tcp://127.0.0.1:%u", free_port());
	wt_env_set_endpoint(&f->env, f->endpoint, f->server.secret_file, f->authorized_file);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	for (size_t i = 0; i < TND_ARRAY_SIZE(f->workers); i++)
		if (f->workers[i] > 0)
			wt_wait_exit(f->workers[i], 0);
	wt_results_free(&f->results);
	keypair_free(&f->server);
	keypair_free(&f->good);
	keypair_free(&f->bad);
	free(f->authorized_file);
	free(f->endpoint);
	wt_env_free(&f->env);
	free(f);
	return 0;
}

static pid_t remote_worker(struct fixture *f, const char *id, const struct keypair *k)
{
	const char *args[] = { "-c",
			       f->env.config_path,
			       "--connect",
			       f->endpoint,
			       "--id",
			       id,
			       "--curve-server-key",
			       f->server.public_file,
			       "--curve-public-key",
			       k->public_file,
			       "--curve-secret-key",
			       k->secret_file,
			       "--foreground-log-level",
			       "error",
			       NULL };

	return wt_spawn_worker(args);
}

static uint64_t refused(void)
{
	return metrics_counter_get("tenancyd_worker_curve_refused_total", NULL);
}

static void test_only_authorized_keys_connect(void **state)
{
	static const unsigned char v1 = 1;
	struct fixture *f = *state;
	struct worker_pool *pool = NULL;
	struct tnd_error err = { "" };
	struct worker_pool_stats stats;
	uint64_t refused_before = refused();
	void *ctx, *plain;
	unsigned one = 1;
	int status, zero = 0;

	if (worker_pool_start(f->env.conf, f->env.config_path, wt_done_cb, &f->results, &pool, &err) < 0)
		fail_msg("worker_pool_start: %s", err.message);
	f->workers[1] = remote_worker(f, "remote-bad", &f->bad);
	f->workers[0] = remote_worker(f, "remote-good", &f->good);
	/* a peer that does not speak CURVE at all */
	ctx = zmq_ctx_new();
	plain = zmq_socket(ctx, ZMQ_DEALER);
	zmq_setsockopt(plain, ZMQ_ROUTING_ID, "plain", 5);
	zmq_setsockopt(plain, ZMQ_LINGER, &zero, sizeof(zero));
	assert_int_equal(zmq_connect(plain, f->endpoint), 0);
	zmq_send(plain, &v1, 1, ZMQ_SNDMORE);
	zmq_send(plain, "HELLO", 5, ZMQ_SNDMORE);
	{
		static const char hello[] =
			"{\"workerId\":\"plain\",\"pid\":1,\"plugins\":[\"good_isolation\"],\"protocol\":1,\"version\":\"x\"}";
		zmq_send(plain, hello, sizeof(hello) - 1, ZMQ_DONTWAIT);
	}

	assert_true(wt_wait_stats(pool, wt_pred_ready, &one, 10000));
	for (int i = 0; i < 10; i++) {
		char id[16];
		snprintf(id, sizeof(id), "t-%d", i);
		wt_submit(pool, id, "good_isolation", "provision", json_pack("{s:s}", "tenantId", "t1"), 5000, 2);
	}
	assert_true(wt_wait_done(&f->results, 10, 10000));
	for (int i = 0; i < 10; i++) {
		char id[16];
		struct wt_done d;
		snprintf(id, sizeof(id), "t-%d", i);
		assert_int_equal(wt_count(&f->results, id, &d), 1);
		assert_int_equal(d.rc, 0);
		assert_string_equal(d.worker_id, "remote-good");
	}
	/* the unknown key keeps trying and keeps being refused */
	for (int i = 0; i < 500 && refused() == refused_before; i++)
		wt_sleep_ms(10);
	assert_true(refused() > refused_before);
	worker_pool_stats(pool, &stats);
	assert_int_equal(stats.workers_ready, 1);

	worker_pool_stop(pool);
	/* the authorized worker obeys SHUTDOWN; the refused one never heard anything */
	status = wt_wait_exit(f->workers[0], 5000);
	f->workers[0] = 0;
	assert_true(status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0);
	kill(f->workers[1], SIGTERM);
	status = wt_wait_exit(f->workers[1], 5000);
	f->workers[1] = 0;
	assert_true(status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0);
	zmq_close(plain);
	zmq_ctx_term(ctx);
}

static void expect_start_error(struct fixture *f, int expected, const char *needle)
{
	struct worker_pool *pool = NULL;
	struct tnd_error err = { "" };
	int r = worker_pool_start(f->env.conf, f->env.config_path, wt_done_cb, &f->results, &pool, &err);

	if (r != expected || strstr(err.message, needle) == NULL)
		fail_msg("worker_pool_start: got %d '%s', want %d '...%s...'", r, err.message, expected, needle);
	assert_null(pool);
}

static void test_start_refusals(void **state)
{
	struct fixture *f = *state;
	char *path;

	wt_env_set_endpoint(&f->env, f->endpoint, NULL, NULL);
	expect_start_error(f, -EINVAL, "CURVE");

	chmod(f->server.secret_file, 0644);
	wt_env_set_endpoint(&f->env, f->endpoint, f->server.secret_file, f->authorized_file);
	expect_start_error(f, -EPERM, f->server.secret_file);
	chmod(f->server.secret_file, 0600);

	path = testutil_write_file(f->env.dir, "short.secret", "tooshort\n", 0600);
	wt_env_set_endpoint(&f->env, f->endpoint, path, f->authorized_file);
	expect_start_error(f, -EINVAL, "not a Z85 CURVE key");
	free(path);

	path = testutil_write_file(f->env.dir, "authorized_bad", "# ok\n\nnot-a-key comment\n", 0644);
	wt_env_set_endpoint(&f->env, f->endpoint, f->server.secret_file, path);
	{
		char *where = tnd_xasprintf("%s:3:", path);
		expect_start_error(f, -EINVAL, where);
		free(where);
	}
	free(path);

	wt_env_set_endpoint(&f->env, "inproc://workers", NULL, NULL);
	expect_start_error(f, -EINVAL, "want ipc://");
}

static void test_worker_command_line(void **state)
{
	struct fixture *f = *state;
	const char *no_keys[] = { "-c", f->env.config_path, "--connect", f->endpoint, NULL };
	const char *keys_on_ipc[] = { "-c", f->env.config_path, "--connect", "ipc:///tmp/x.sock",
				      "--curve-server-key", f->server.public_file, NULL };
	const char *bad_id[] = { "-c", f->env.config_path, "--connect", "ipc:///tmp/x.sock", "--id", "a b", NULL };
	const char *unsafe_secret[] = { "-c", f->env.config_path, "--connect", f->endpoint, "--curve-server-key",
					f->server.public_file, "--curve-public-key", f->good.public_file,
					"--curve-secret-key", f->good.secret_file, "--foreground-log-level", "error",
					NULL };
	int status;

	status = wt_wait_exit(wt_spawn_worker(no_keys), 5000);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 2);
	status = wt_wait_exit(wt_spawn_worker(keys_on_ipc), 5000);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 2);
	status = wt_wait_exit(wt_spawn_worker(bad_id), 5000);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 2);
	/* a secret key others can read is refused at start */
	chmod(f->good.secret_file, 0640);
	status = wt_wait_exit(wt_spawn_worker(unsafe_secret), 5000);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_only_authorized_keys_connect, setup, teardown),
		cmocka_unit_test_setup_teardown(test_start_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_worker_command_line, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
