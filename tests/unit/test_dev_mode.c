/*
 * test_dev_mode.c — `tenancyd --dev` state preparation: the generated config
 * loads, its tokens work and survive a restart in the same directory, and
 * its catalogue (plans, regions) is the same as the shipped etc/tenancyd.conf.
 */
#include "autoconfig.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "conf.h"
#include "dev_mode.h"
#include "testutil.h"
#include "tokens.h"
#include "util.h"

static char *read_token(const char *dir, const char *role)
{
	char *path = tnd_xasprintf("%s/%s.token", dir, role);
	char *text = NULL;
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(tnd_read_file(path, 4096, &text, NULL, NULL), 0);
	text[strcspn(text, "\n")] = '\0';
	free(path);
	return text;
}

static struct tnd_conf *load(const char *path)
{
	struct tnd_error err = { "" };
	struct tnd_conf *conf = NULL;

	if (conf_load(path, &conf, &err) != 0)
		fail_msg("%s", err.message);
	return conf;
}

static void test_dev_config_loads_and_tokens_work(void **state)
{
	char *dir = testutil_mkdtemp("dev");
	char *config = NULL, *admin, *viewer, *admin_again;
	struct tnd_error err = { "" };
	struct tnd_principal who;
	struct tnd_conf *conf;

	(void)state;
	assert_int_equal(dev_mode_prepare(dir, "127.0.0.1:0", &config, &err), 0);
	conf = load(config);
	assert_string_equal(conf->daemon.state_dir, dir);
	assert_int_equal(conf->api.port, 0);
	assert_string_equal(conf->plugins.storage.name, "sqlite");

	admin = read_token(dir, "admin");
	viewer = read_token(dir, "viewer");
	assert_int_equal(tokens_authenticate(conf->tokens, admin, &who), 0);
	assert_int_equal(who.role, TND_ROLE_ADMIN);
	assert_int_equal(tokens_authenticate(conf->tokens, viewer, &who), 0);
	assert_int_equal(who.role, TND_ROLE_VIEWER);
	conf_unref(conf);
	free(config);

	/* a restart in the same state dir keeps the tokens scripts already hold */
	assert_int_equal(dev_mode_prepare(dir, NULL, &config, &err), 0);
	admin_again = read_token(dir, "admin");
	assert_string_equal(admin, admin_again);
	conf = load(config);
	assert_int_equal(conf->api.port, 8470);
	assert_int_equal(tokens_authenticate(conf->tokens, admin, &who), 0);
	conf_unref(conf);

	free(admin);
	free(admin_again);
	free(viewer);
	free(config);
	testutil_rmrf(dir);
	free(dir);
}

static void assert_quotas_equal(const struct tnd_quotas *a, const struct tnd_quotas *b)
{
	assert_int_equal(a->compute_units, b->compute_units);
	assert_int_equal(a->storage_gb, b->storage_gb);
	assert_int_equal(a->events_per_minute, b->events_per_minute);
	assert_int_equal(a->concurrent_operations, b->concurrent_operations);
}

static void test_dev_catalogue_matches_shipped_example(void **state)
{
	char *dir = testutil_mkdtemp("devcat");
	char *example_path = tnd_xasprintf("%s/etc/tenancyd.conf", testutil_builddir());
	char *example = NULL, *config = NULL, *copy, *token_line;
	char token[TND_TOKEN_SIZE];
	struct tnd_error err = { "" };
	struct tnd_conf *dev, *shipped;

	(void)state;
	assert_int_equal(dev_mode_prepare(dir, "127.0.0.1:0", &config, &err), 0);
	dev = load(config);

	/* the shipped file names a relative tokens file; give it one */
	assert_int_equal(tnd_read_file(example_path, 1 << 20, &example, NULL, &err), 0);
	tokens_generate(token);
	token_line = tokens_format_line("ops", TND_ROLE_ADMIN, token, NULL);
	free(testutil_write_file(dir, "tokens", token_line, 0600));
	copy = testutil_write_file(dir, "shipped.conf", example, 0600);
	shipped = load(copy);

	assert_int_equal(dev->n_plans, shipped->n_plans);
	for (size_t i = 0; i < shipped->n_plans; i++) {
		const struct tnd_plan_conf *s = &shipped->plans[i];
		const struct tnd_plan_conf *d = conf_plan(dev, s->code);
		assert_non_null(d);
		assert_int_equal(d->isolation_modes, s->isolation_modes);
		assert_int_equal(d->default_isolation, s->default_isolation);
		assert_string_equal(d->default_residency, s->default_residency);
		assert_quotas_equal(&d->quotas, &s->quotas);
		assert_quotas_equal(&d->max_quotas, &s->max_quotas);
	}
	assert_int_equal(dev->n_regions, shipped->n_regions);
	for (size_t i = 0; i < shipped->n_regions; i++) {
		const struct tnd_region_conf *s = &shipped->regions[i];
		const struct tnd_region_conf *d = conf_region(dev, s->name);
		assert_non_null(d);
		assert_string_equal(d->residency, s->residency);
		assert_int_equal(d->enabled, s->enabled);
		assert_true(tnd_streq(d->standby, s->standby));
		assert_int_equal(d->capacity, s->capacity);
	}

	conf_unref(dev);
	conf_unref(shipped);
	free(token_line);
	free(copy);
	free(example);
	free(example_path);
	free(config);
	testutil_rmrf(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dev_config_loads_and_tokens_work),
		cmocka_unit_test(test_dev_catalogue_matches_shipped_example),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
