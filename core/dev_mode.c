/*
 * dev_mode.c — `tenancyd --dev`: a zero-setup development server in the
 * spirit of `vault server -dev`.  Prepares a state directory with API
 * tokens (admin, operator, viewer; kept across restarts in the same
 * directory) and a generated tenancyd.conf for the embedded default
 * (SQLite registry, loopback API), then runs the ordinary daemon on it.
 *
 * The generated config carries the same catalogue (plans, regions) as
 * etc/tenancyd.conf; a unit test keeps the two in step.  Rate limits are
 * left out: a development server should not throttle scripts and tests.  When the embedded
 * isolation plugins are available it also runs the reconcile engine on the
 * embedded data plane (under the state directory), with a credentials key
 * generated once and kept, like the tokens.
 */
#include "autoconfig.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "audit_key.h"
#include "daemon.h"
#include "dev_mode.h"
#include "host.h"
#include "state_lock.h"
#include "tokens.h"
#include "util.h"

/*
 * The development catalogue: the same regions and plans as
 * etc/tenancyd.conf.in (test_dev_mode compares them).  Regions are a table
 * because in reconcile mode each one also gets its `isolation` and
 * `data_plane` groups.
 */
static const struct {
	const char *name;
	const char *residency;
	const char *standby;    /* NULL: none */
} dev_regions[] = {
	{ "eu-west-1", "eu", "eu-central-1" },
	{ "eu-central-1", "eu", "eu-west-1" },
	{ "us-east-1", "us", "us-west-2" },
	{ "us-west-2", "us", "us-east-1" },
	{ "ap-southeast-1", "apac", NULL },
};

static const char dev_plans[] =
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

/* The embedded data plane's isolation plugins, one per mode. */
#define DEV_PLUGIN_SHARED "embedded_shared_schema"
#define DEV_PLUGIN_DEDICATED "embedded_dedicated_db"
#define DEV_PLUGIN_HYBRID "embedded_hybrid"
#define DEV_CREDENTIALS_KEY_BYTES 32

static void dev_add_catalog(struct tnd_buf *conf, bool reconcile)
{
	tnd_buf_addf(conf, "regions = (\n");
	for (size_t i = 0; i < TND_ARRAY_SIZE(dev_regions); i++) {
		tnd_buf_addf(conf, "  { name = \"%s\"; residency = \"%s\"; enabled = true;", dev_regions[i].name,
			     dev_regions[i].residency);
		if (dev_regions[i].standby)
			tnd_buf_addf(conf, " standby = \"%s\";", dev_regions[i].standby);
		/* every region offers every mode; its data plane lives in the
		 * state dir (the embedded plugins resolve the relative path) */
		if (reconcile)
			tnd_buf_addf(conf,
				     "\n    isolation: { shared = \"" DEV_PLUGIN_SHARED "\"; dedicated = \""
				     DEV_PLUGIN_DEDICATED "\"; hybrid = \"" DEV_PLUGIN_HYBRID "\"; };\n"
				     "    data_plane: { dir = \"dataplane/%s\"; };\n ",
				     dev_regions[i].name);
		tnd_buf_addf(conf, " }%s\n", i + 1 < TND_ARRAY_SIZE(dev_regions) ? "," : "");
	}
	tnd_buf_addf(conf, ");\n%s", dev_plans);
}

bool dev_mode_embedded_plugins_found(void)
{
	const char *build_dir = daemon_build_dir();
	struct stat st;
	bool found = false;
	char *path;

	/* where the plugin loader looks too: the build tree first, then the
	 * installed plugin directory */
	if (build_dir) {
		path = tnd_xasprintf("%s/plugins/%s/.libs/%s.so", build_dir, DEV_PLUGIN_SHARED, DEV_PLUGIN_SHARED);
		found = stat(path, &st) == 0 && S_ISREG(st.st_mode);
		free(path);
	}
	if (!found) {
		path = tnd_xasprintf("%s/%s.so", TND_PLUGINDIR, DEV_PLUGIN_SHARED);
		found = stat(path, &st) == 0 && S_ISREG(st.st_mode);
		free(path);
	}
	return found;
}

/* The key tenant credentials are encrypted with.  An existing one is kept
 * as it is: replacing it would make every stored credential unreadable. */
static int dev_write_credentials_key(const char *path, struct tnd_error *err)
{
	unsigned char key[DEV_CREDENTIALS_KEY_BYTES];
	char text[4 * ((DEV_CREDENTIALS_KEY_BYTES + 2) / 3) + 2];
	struct stat st;
	int len, r;

	if (lstat(path, &st) == 0)
		return 0;
	if (errno != ENOENT) {
		r = -errno;
		tnd_error_set(err, "%s: %s", path, strerror(errno));
		return r;
	}
	if (tnd_random_bytes(key, sizeof(key)) < 0) {
		tnd_error_set(err, "cannot generate %s: no random bytes", path);
		return -EIO;
	}
	len = EVP_EncodeBlock((unsigned char *)text, key, sizeof(key));
	text[len++] = '\n';
	r = tnd_write_file_atomic(path, text, (size_t)len, 0600, err);
	explicit_bzero(key, sizeof(key));
	explicit_bzero(text, sizeof(text));
	return r;
}

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

/* The generated tenancyd.conf (libconfig text) in @conf. */
static void dev_add_config(struct tnd_buf *conf, const char *dir, const char *listen, const char *tokens_path,
			   const char *key_path)
{
	tnd_buf_addf(conf,
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
		     "  storage: { name = \"sqlite\"; settings: { path = \"registry.db\"; synchronous = \"full\"; }; };\n",
		     dir, listen ? listen : DEV_MODE_DEFAULT_LISTEN, tokens_path, TND_PLUGINDIR);
	if (key_path)
		tnd_buf_addf(conf,
			     "  isolation = (\n"
			     "    { name = \"" DEV_PLUGIN_SHARED "\"; },\n"
			     "    { name = \"" DEV_PLUGIN_DEDICATED "\"; },\n"
			     "    { name = \"" DEV_PLUGIN_HYBRID "\"; }\n"
			     "  );\n"
			     "};\n"
			     "reconcile: {\n"
			     "  credentials_key_file = \"%s\";\n"
			     "  resync_interval = 30;\n"
			     "};\n",
			     key_path);
	else
		tnd_buf_addf(conf, "};\n");
	dev_add_catalog(conf, key_path != NULL);
}

int dev_mode_prepare(const char *state_dir, const char *listen, char **ret_config_path, struct tnd_error *err)
{
	/*
	 * The reconcile engine runs on the embedded data plane only where its
	 * plugins exist.  Without them (a tree built before they landed, or an
	 * install without them) dev mode stays registry-only, as it was before
	 * the reconcile engine: no isolation plugins, so tenants settle at once.
	 * That is an ordinary mode of the daemon, not a fault: nothing is
	 * logged.
	 */
	return dev_mode_prepare_engine(state_dir, listen, dev_mode_embedded_plugins_found(), ret_config_path, err);
}

int dev_mode_prepare_engine(const char *state_dir, const char *listen, bool reconcile, char **ret_config_path,
			    struct tnd_error *err)
{
	static const struct {
		const char *name;
		enum tnd_role role;
	} roles[] = { { "admin", TND_ROLE_ADMIN },
		      { "operator", TND_ROLE_OPERATOR },
		      { "viewer", TND_ROLE_VIEWER },
		      { "auditor", TND_ROLE_AUDITOR } };
	struct tnd_buf tokens, conf;
	char *dir, *tokens_path = NULL, *conf_path = NULL, *key_path = NULL, *audit_path = NULL;
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
	tnd_buf_init(&conf);
	tnd_buf_addf(&tokens, "# development tokens written by tenancyd --dev\n");
	for (size_t i = 0; i < TND_ARRAY_SIZE(roles) && r == 0; i++)
		r = dev_write_token(dir, roles[i].name, roles[i].role, &tokens, err);
	if (r < 0)
		goto out;
	tokens_path = tnd_xasprintf("%s/tokens", dir);
	r = tnd_write_file_atomic(tokens_path, tokens.data, tokens.len, 0600, err);
	if (r < 0)
		goto out;
	if (reconcile) {
		key_path = tnd_xasprintf("%s/credentials.key", dir);
		r = dev_write_credentials_key(key_path, err);
		if (r < 0)
			goto out;
	}

	/* the audit signing key: like the credentials key, an existing one is
	 * kept (the trail already signed with it must keep verifying) */
	audit_path = tnd_xasprintf("%s/audit.key", dir);
	if (access(audit_path, F_OK) < 0) {
		r = audit_key_generate(audit_path, err);
		if (r < 0)
			goto out;
	}

	dev_add_config(&conf, dir, listen, tokens_path, key_path);
	tnd_buf_addf(&conf, "audit: {\n  signing_key_file = \"%s\";\n};\n", audit_path);
	conf_path = tnd_xasprintf("%s/tenancyd.conf", dir);
	r = tnd_write_file_atomic(conf_path, conf.data, conf.len, 0644, err);
	if (r < 0)
		goto out;
	*ret_config_path = conf_path;
	conf_path = NULL;
out:
	tnd_buf_free(&tokens);
	tnd_buf_free(&conf);
	free(tokens_path);
	free(conf_path);
	free(key_path);
	free(audit_path);
	free(dir);
	return r;
}
