/*
 * conf_fixture.h — what the tenancyd.conf tests share: config snippets
 * that are valid on their own, a scratch directory holding a tokens file and
 * a credentials key, and the helpers that load a config or assert its error.
 *
 * Configs are written on the fly.  An error test marks the line the error
 * must name with a "#!" comment, so the expectation stays next to the
 * mistake instead of in a line count.
 */
#ifndef TND_CONF_FIXTURE_H
#define TND_CONF_FIXTURE_H

#include "conf.h"

#define API_OK "api: {\n  listen = \"127.0.0.1:0\";\n  tokens_file = \"tokens\";\n};\n"
#define PLUGINS_OK "plugins: {\n  storage: { name = \"sqlite\"; };\n};\n"
#define REGIONS_OK "regions = (\n  { name = \"eu-west-1\"; residency = \"eu\"; }\n);\n"
#define QUOTAS_1 "quotas: { compute_units = 1; storage_gb = 1; events_per_minute = 60; concurrent_operations = 1; };"
#define PLANS_OK \
	"plans = (\n  { code = \"free\"; isolation = [ \"shared\" ]; default_residency = \"eu\";\n" \
	"    " QUOTAS_1 " }\n);\n"
#define MINIMAL API_OK PLUGINS_OK REGIONS_OK PLANS_OK

/* The scratch directory configs are written to (absolute), holding
 * "tokens" (one token, conf_token, named "ops") and "credentials.key"
 * (a valid 32-byte key in base64, mode 0600). */
extern char *conf_dir;
extern char *conf_token;

/** cmocka group setup and teardown: create and remove conf_dir. */
int setup_dir(void **state);
int teardown_dir(void **state);

/** Write @text as conf_dir/tenancyd.conf (mode 0600); returns its path (caller frees). */
char *write_conf(const char *text);
/** Load @text or fail the test with the error. */
struct tnd_conf *load_ok(const char *text);
/** The 1-based line of the first line of @text containing @marker. */
unsigned line_of(const char *text, const char *marker);
/** conf_load of @text must fail with "<path>:<line of #!>: ...<cause>...". */
void assert_conf_error(const char *text, const char *cause);

#endif /* TND_CONF_FIXTURE_H */
