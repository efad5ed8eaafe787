/*
 * test_dev_mode.c — `tenancyd --dev` state preparation: the generated config
 * loads, its tokens work and survive a restart in the same directory, its
 * catalogue (plans, regions) is the same as the shipped etc/tenancyd.conf,
 * and with the embedded isolation plugins it runs the reconcile engine with
 * a credentials key that is generated once and kept.
 */
#include "autoconfig.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
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
	/* the reconcile engine only where its plugins are; without, no key either */
	assert_int_equal(conf_reconcile_enabled(conf), dev_mode_embedded_plugins_found());
	if (!dev_mode_embedded_plugins_found()) {
		char *key = tnd_xasprintf("%s/credentials.key", dir);
		struct stat st;

		assert_int_equal(conf->plugins.n_isolation, 0);
		assert_null(conf->reconcile.credentials_key_file);
		assert_int_equal(stat(key, &st), -1);
		free(key);
	}

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

/* The credentials key: mode 0600, base64 of exactly 32 bytes; returns its text. */
static char *read_credentials_key(const char *path)
{
	unsigned char key[64];
	size_t len = 0, key_len = 0;
	char *text = NULL;
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(tnd_read_file(path, 4096, &text, &len, NULL), 0);
	assert_true(len > 0 && text[len - 1] == '\n');
	len--;
	while (len > 0 && text[len - 1] == '=')
		len--;
	for (size_t i = 0; i < len; i++)
		assert_non_null(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", text[i]));
	/* standard alphabet → URL alphabet, for the decoder we have */
	for (size_t i = 0; i < len; i++)
		text[i] = text[i] == '+' ? '-' : text[i] == '/' ? '_' : text[i];
	assert_int_equal(tnd_base64url_decode(text, len, key, sizeof(key), &key_len), 0);
	assert_int_equal(key_len, 32);
	free(text);
	assert_int_equal(tnd_read_file(path, 4096, &text, NULL, NULL), 0);
	return text;
}

static void test_dev_reconcile_config(void **state)
{
	static const char *const plugins[] = { "embedded_shared_schema", "embedded_dedicated_db", "embedded_hybrid" };
	char *dir = testutil_mkdtemp("devrec");
	char *key_path = tnd_xasprintf("%s/credentials.key", dir);
	char *endpoint = tnd_xasprintf("ipc://%s/workers.sock", dir);
	char *config = NULL, *key, *key_again;
	struct tnd_error err = { "" };
	struct tnd_conf *conf;

	(void)state;
	assert_int_equal(dev_mode_prepare_engine(dir, "127.0.0.1:0", true, &config, &err), 0);
	conf = load(config);
	assert_true(conf_reconcile_enabled(conf));
	assert_int_equal(conf->daemon.workers, 2);
	assert_int_equal(conf->plugins.n_isolation, TND_ARRAY_SIZE(plugins));
	for (size_t i = 0; i < TND_ARRAY_SIZE(plugins); i++)
		assert_string_equal(conf->plugins.isolation[i].name, plugins[i]);
	assert_string_equal(conf->reconcile.credentials_key_file, key_path);
	assert_int_equal(conf->reconcile.resync_interval_s, 30);
	assert_string_equal(conf->workers.endpoint, endpoint);
	assert_int_equal(conf->n_regions, 5);
	for (size_t i = 0; i < conf->n_regions; i++) {
		const struct tnd_region_conf *region = &conf->regions[i];
		char *plane = tnd_xasprintf("dataplane/%s", region->name);

		assert_string_equal(conf_region_isolation_plugin(region, TND_ISOLATION_SHARED), plugins[0]);
		assert_string_equal(conf_region_isolation_plugin(region, TND_ISOLATION_DEDICATED), plugins[1]);
		assert_string_equal(conf_region_isolation_plugin(region, TND_ISOLATION_HYBRID), plugins[2]);
		assert_string_equal(json_string_value(json_object_get(region->data_plane, "dir")), plane);
		free(plane);
	}
	key = read_credentials_key(key_path);
	conf_unref(conf);
	free(config);

	/* a restart keeps the key: a new one would orphan every stored credential */
	assert_int_equal(dev_mode_prepare_engine(dir, NULL, true, &config, &err), 0);
	key_again = read_credentials_key(key_path);
	assert_string_equal(key, key_again);
	conf = load(config);
	assert_string_equal(conf->reconcile.credentials_key_file, key_path);
	conf_unref(conf);

	free(key);
	free(key_again);
	free(config);
	free(endpoint);
	free(key_path);
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

static void dev_catalogue_matches_shipped_example(bool reconcile)
{
	char *dir = testutil_mkdtemp("devcat");
	char *example_path = tnd_xasprintf("%s/etc/tenancyd.conf", testutil_builddir());
	char *example = NULL, *config = NULL, *copy, *token_line;
	char token[TND_TOKEN_SIZE];
	struct tnd_error err = { "" };
	struct tnd_conf *dev, *shipped;

	assert_int_equal(dev_mode_prepare_engine(dir, "127.0.0.1:0", reconcile, &config, &err), 0);
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

/* Regions' isolation and data_plane groups are not part of the catalogue. */
static void test_dev_catalogue_matches_shipped_example(void **state)
{
	(void)state;
	dev_catalogue_matches_shipped_example(false);
	dev_catalogue_matches_shipped_example(true);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dev_config_loads_and_tokens_work),
		cmocka_unit_test(test_dev_reconcile_config),
		cmocka_unit_test(test_dev_catalogue_matches_shipped_example),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
