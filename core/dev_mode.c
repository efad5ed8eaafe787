/*
 * dev_mode.c — `tenancyd --dev`: a zero-setup development server in the
 * spirit of `vault server -dev`.  Prepares a state directory with API
 * tokens (admin, operator, viewer; kept across restarts in the same
 * directory) and a generated tenancyd.conf for the embedded default
 * (SQLite registry, loopback API), then runs the ordinary daemon on it.
 *
 * The generated config carries the same catalogue (plans, regions) as
 * etc/tenancyd.conf; a unit test keeps the two in step.
 */
#include "autoconfig.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dev_mode.h"
#include "host.h"
#include "state_lock.h"
#include "tokens.h"
#include "util.h"

const char dev_mode_catalog[] =
	"regions = (\n"
	"  { name = \"eu-west-1\";      residency = \"eu\";   enabled = true; standby = \"eu-central-1\"; },\n"
	"  { name = \"eu-central-1\";   residency = \"eu\";   enabled = true; standby = \"eu-west-1\"; },\n"
	"  { name = \"us-east-1\";      residency = \"us\";   enabled = true; standby = \"us-west-2\"; },\n"
	"  { name = \"us-west-2\";      residency = \"us\";   enabled = true; standby = \"us-east-1\"; },\n"
	"  { name = \"ap-southeast-1\"; residency = \"apac\"; enabled = true; }\n"
	");\n"
	"plans = (\n"
	"  { code = \"free\"; description = \"Free tier, shared schema only\";\n"
	"    isolation = [ \"shared\" ]; default_isolation = \"shared\"; default_residency = \"eu\";\n"
	"    quotas:     { compute_units = 1; storage_gb = 1;  events_per_minute = 60;  concurrent_operations = 1; };\n"
	"    max_quotas: { compute_units = 2; storage_gb = 5;  events_per_minute = 120; concurrent_operations = 1; }; },\n"
	"  { code = \"business\"; description = \"Business, shared or dedicated\";\n"
	"    isolation = [ \"shared\", \"dedicated\" ]; default_isolation = \"shared\"; default_residency = \"eu\";\n"
	"    quotas:     { compute_units = 4;  storage_gb = 50;  events_per_minute = 600;  concurrent_operations = 2; };\n"
	"    max_quotas: { compute_units = 16; storage_gb = 500; events_per_minute = 6000; concurrent_operations = 8; }; },\n"
	"  { code = \"enterprise\"; description = \"Enterprise, every isolation mode\";\n"
	"    isolation = [ \"shared\", \"dedicated\", \"hybrid\" ]; default_isolation = \"dedicated\"; default_residency = \"eu\";\n"
	"    quotas:     { compute_units = 16;  storage_gb = 500;  events_per_minute = 6000;  concurrent_operations = 4; };\n"
	"    max_quotas: { compute_units = 256; storage_gb = 10000; events_per_minute = 60000; concurrent_operations = 32; }; }\n"
	");\n";

static int dev_write_token(const char *dir, const char *role_text, enum tnd_role role, struct tnd_buf *tokens_file,
			   struct tnd_error *err)
{
	char *path = tnd_xasprintf("%s/%s.token", dir, role_text);
	char token[TND_TOKEN_SIZE];
	char *existing = NULL, *line;
	int r = 0;

	/* keep the tokens of an existing dev state dir, so scripts keep working */
	if (tnd_read_file(path, 4096, &existing, NULL, NULL) == 0) {
		existing[strcspn(existing, "\n")] = '\0';
		tnd_strlcpy(token, existing, sizeof(token));
		free(existing);
	} else {
		char *text;
		tokens_generate(token);
		text = tnd_xasprintf("%s\n", token);
		r = tnd_write_file_atomic(path, text, strlen(text), 0600, err);
		free(text);
	}
	if (r == 0) {
		line = tokens_format_line(role_text, role, token, NULL);
		tnd_buf_add(tokens_file, line, strlen(line));
		free(line);
	}
	explicit_bzero(token, sizeof(token));
	free(path);
	return r;
}

int dev_mode_prepare(const char *state_dir, const char *listen, char **ret_config_path, struct tnd_error *err)
{
	static const struct {
		const char *name;
		enum tnd_role role;
	} roles[] = { { "admin", TND_ROLE_ADMIN }, { "operator", TND_ROLE_OPERATOR }, { "viewer", TND_ROLE_VIEWER } };
	struct tnd_buf tokens;
	char *dir, *tokens_path = NULL, *conf_path = NULL, *conf_text = NULL;
	int r = 0;

	if (state_dir) {
		dir = tnd_path_absolute(state_dir);
		if (tnd_mkdir_p(dir, 0700) < 0) {
			tnd_error_set(err, "cannot create state directory %s: %s", dir, strerror(errno));
			free(dir);
			return -errno;
		}
	} else {
		const char *tmp = getenv("TMPDIR");
		dir = tnd_xasprintf("%s/tenancyd-dev-XXXXXX", tmp && *tmp ? tmp : "/tmp");
		if (mkdtemp(dir) == NULL) {
			tnd_error_set(err, "cannot create a temporary state directory: %s", strerror(errno));
			free(dir);
			return -errno;
		}
	}
	chmod(dir, 0700);
	/* a dev server already running here keeps its config and tokens */
	r = state_lock_acquire(dir, err);
	if (r < 0) {
		free(dir);
		return r;
	}

	tnd_buf_init(&tokens);
	tnd_buf_addf(&tokens, "# development tokens written by tenancyd --dev\n");
	for (size_t i = 0; i < TND_ARRAY_SIZE(roles) && r == 0; i++)
		r = dev_write_token(dir, roles[i].name, roles[i].role, &tokens, err);
	if (r < 0)
		goto out;
	tokens_path = tnd_xasprintf("%s/tokens", dir);
	r = tnd_write_file_atomic(tokens_path, tokens.data, tokens.len, 0600, err);
	if (r < 0)
		goto out;

	conf_text = tnd_xasprintf(
		"# Generated by tenancyd --dev at every start; edits last until the next\n"
		"# start (SIGHUP re-reads this file).\n"
		"daemon: {\n"
		"  state_dir = \"%s\";\n"
		"  log_file = \"-\";\n"
		"  log_level = \"info\";\n"
		"  workers = 2;\n"
		"};\n"
		"api: {\n"
		"  listen = \"%s\";\n"
		"  tokens_file = \"%s\";\n"
		"};\n"
		"plugins: {\n"
		"  dir = \"%s\";\n"
		"  storage: { name = \"sqlite\"; settings: { path = \"registry.db\"; synchronous = \"full\"; }; };\n"
		"};\n"
		"%s",
		dir, listen ? listen : DEV_MODE_DEFAULT_LISTEN, tokens_path, TND_PLUGINDIR, dev_mode_catalog);
	conf_path = tnd_xasprintf("%s/tenancyd.conf", dir);
	r = tnd_write_file_atomic(conf_path, conf_text, strlen(conf_text), 0644, err);
	if (r < 0)
		goto out;
	*ret_config_path = conf_path;
	conf_path = NULL;
out:
	tnd_buf_free(&tokens);
	free(tokens_path);
	free(conf_path);
	free(conf_text);
	free(dir);
	return r;
}
