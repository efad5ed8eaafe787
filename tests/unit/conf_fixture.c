/*
 * conf_fixture.c — the scratch directory and helpers the tenancyd.conf
 * tests share (see conf_fixture.h).
 */
#include "autoconfig.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "conf_fixture.h"
#include "testutil.h"
#include "tokens.h"
#include "util.h"

char *conf_dir;
char *conf_token;

int setup_dir(void **state)
{
	unsigned char key[32];
	char key_text[64];
	char *line;

	(void)state;
	conf_dir = testutil_mkdtemp("conf");
	conf_token = tnd_xmalloc(TND_TOKEN_SIZE);
	tokens_generate(conf_token);
	line = tokens_format_line("ops", TND_ROLE_OPERATOR, conf_token, NULL);
	free(testutil_write_file(conf_dir, "tokens", line, 0600));
	free(line);

	assert_int_equal(tnd_random_bytes(key, sizeof(key)), 0);
	tnd_base64url_encode(key, sizeof(key), key_text);
	strcat(key_text, "\n");
	free(testutil_write_file(conf_dir, "credentials.key", key_text, 0600));
	return 0;
}

int teardown_dir(void **state)
{
	(void)state;
	testutil_rmrf(conf_dir);
	free(conf_dir);
	free(conf_token);
	return 0;
}

char *write_conf(const char *text)
{
	return testutil_write_file(conf_dir, "tenancyd.conf", text, 0600);
}

struct tnd_conf *load_ok(const char *text)
{
	struct tnd_conf *conf = NULL;
	struct tnd_error err = { "" };
	char *path = write_conf(text);

	if (conf_load(path, &conf, &err) != 0)
		fail_msg("unexpected error: %s", err.message);
	free(path);
	return conf;
}

unsigned line_of(const char *text, const char *marker)
{
	const char *hit = strstr(text, marker);
	unsigned line = 1;

	assert_non_null(hit);
	for (const char *p = text; p < hit; p++)
		line += *p == '\n';
	return line;
}

void assert_conf_error(const char *text, const char *cause)
{
	struct tnd_conf *conf = NULL;
	struct tnd_error err = { "" };
	char *path = write_conf(text);
	char *prefix = tnd_xasprintf("%s:%u: ", path, line_of(text, "#!"));
	int r = conf_load(path, &conf, &err);

	if (r >= 0 || !tnd_str_has_prefix(err.message, prefix) || strstr(err.message, cause) == NULL)
		fail_msg("config:\n%s\n  got r=%d '%s'\n  want '%s' ... '%s'", text, r, err.message, prefix,
			 cause);
	assert_null(conf);
	free(prefix);
	free(path);
}
