/*
 * cli_config.c — endpoint and token resolution for tenancyctl: flags, then
 * environment, then the config file, then defaults (see cli_config.h).
 */
#include "autoconfig.h"

#include <errno.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli_config.h"
#include "util.h"

/* A config file is a handful of lines; anything bigger is not one. */
#define CONFIG_MAX_BYTES (64 * 1024)
/* A token file holds one token and maybe a comment or newline. */
#define TOKEN_FILE_MAX_BYTES 4096

static bool config_present(const char *s)
{
	return s != NULL && s[0] != '\0';
}

bool cli_token_valid(const char *token)
{
	size_t len = token ? strlen(token) : 0;

	if (len == 0 || len > CLI_TOKEN_MAX)
		return false;
	/* it goes into an HTTP header: no spaces, no control characters */
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)token[i] <= 0x20 || (unsigned char)token[i] >= 0x7f)
			return false;
	return true;
}

/* --- the config file ------------------------------------------------------------- */

static char *config_trim(char *s)
{
	char *end;

	while (*s == ' ' || *s == '\t')
		s++;
	end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
		*--end = '\0';
	return s;
}

/* Make @value absolute: "~/x" is under @home, "x" is next to the config file. */
static char *config_resolve_path(const char *value, const char *config_path, const char *home)
{
	char *dir_copy, *dir, *result;

	if (value[0] == '/')
		return tnd_xstrdup(value);
	if (value[0] == '~' && value[1] == '/' && config_present(home))
		return tnd_xasprintf("%s/%s", home, value + 2);
	dir_copy = tnd_path_absolute(config_path);
	dir = dirname(dir_copy);
	result = tnd_xasprintf("%s/%s", dir, value);
	free(dir_copy);
	return result;
}

static int config_parse_line(char *line, unsigned lineno, const char *path, const char *home,
			     struct cli_config_file *cfg, struct tnd_error *err)
{
	char *eq = strchr(line, '='), *key, *value;
	size_t vlen;

	if (eq == NULL) {
		tnd_error_set(err, "%s:%u: expected 'key = value'", path, lineno);
		return -EINVAL;
	}
	*eq = '\0';
	key = config_trim(line);
	value = config_trim(eq + 1);
	vlen = strlen(value);
	if (vlen >= 2 && value[0] == '"' && value[vlen - 1] == '"') {
		value[vlen - 1] = '\0';
		value++;
	}
	if (value[0] == '\0') {
		tnd_error_set(err, "%s:%u: %s has an empty value", path, lineno, key);
		return -EINVAL;
	}
	if (strcmp(key, "url") == 0) {
		if (cfg->url) {
			tnd_error_set(err, "%s:%u: url given twice (first on line %u)", path, lineno, cfg->url_line);
			return -EINVAL;
		}
		cfg->url = tnd_xstrdup(value);
		cfg->url_line = lineno;
	} else if (strcmp(key, "token-file") == 0) {
		if (cfg->token_file) {
			tnd_error_set(err, "%s:%u: token-file given twice (first on line %u)", path, lineno,
				      cfg->token_file_line);
			return -EINVAL;
		}
		cfg->token_file = config_resolve_path(value, path, home);
		cfg->token_file_line = lineno;
	} else if (strcmp(key, "token") == 0) {
		/* an inline secret ends up in backups and screen shares: refuse it */
		tnd_error_set(err, "%s:%u: tokens are not written in the config file; put the token in a "
			      "file of its own (mode 0600) and name it with token-file", path, lineno);
		return -EINVAL;
	} else {
		tnd_error_set(err, "%s:%u: unknown key '%s' (known: url, token-file)", path, lineno, key);
		return -EINVAL;
	}
	return 0;
}

int cli_config_parse(const char *text, const char *path, const char *home, struct cli_config_file *ret,
		     struct tnd_error *err)
{
	struct cli_config_file cfg = { NULL, 0, NULL, 0 };
	char *copy = tnd_xstrdup(text), *line = copy, *next;
	unsigned lineno = 0;
	int r = 0;

	for (; line && r == 0; line = next) {
		char *content;

		lineno++;
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		content = config_trim(line);
		if (content[0] == '\0' || content[0] == '#')
			continue;
		r = config_parse_line(content, lineno, path, home, &cfg, err);
	}
	free(copy);
	if (r < 0) {
		cli_config_file_clear(&cfg);
		return r;
	}
	*ret = cfg;
	return 0;
}

int cli_config_load(const char *path, bool must_exist, const char *home, struct cli_config_file *ret,
		    struct tnd_error *err)
{
	struct tnd_error read_err = { "" };
	char *text = NULL;
	int r = tnd_read_file(path, CONFIG_MAX_BYTES, &text, NULL, &read_err);

	if (r == -ENOENT && !must_exist) {
		memset(ret, 0, sizeof(*ret));
		return 0;
	}
	if (r < 0) {
		tnd_error_set(err, "config file %s", read_err.message);
		return r;
	}
	r = cli_config_parse(text, path, home, ret, err);
	free(text);
	return r;
}

void cli_config_file_clear(struct cli_config_file *config)
{
	if (config == NULL)
		return;
	free(config->url);
	free(config->token_file);
	memset(config, 0, sizeof(*config));
}

char *cli_config_default_path(const char *home)
{
	if (!config_present(home))
		return NULL;
	return tnd_xasprintf("%s/.config/tenancyctl/config", home);
}

/* --- tokens ------------------------------------------------------------------------- */

int cli_token_file_read(const char *path, char **ret_token, struct tnd_error *err)
{
	struct tnd_error check = { "" };
	char *text = NULL, *token;
	int r;

	/* like ssh: a secret others can read (or plant) is not used at all */
	r = tnd_file_check(path, TND_FILE_SECRET, &check);
	if (r == -EPERM) {
		if (strstr(check.message, "accessible"))
			tnd_error_set(err, "refusing token file %s; make it private with: chmod 600 %s",
				      check.message, path);
		else
			tnd_error_set(err, "refusing token file %s", check.message);
		return r;
	}
	if (r < 0) {
		tnd_error_set(err, "token file %s", check.message);
		return r;
	}
	r = tnd_read_file(path, TOKEN_FILE_MAX_BYTES, &text, NULL, &check);
	if (r < 0) {
		tnd_error_set(err, "token file %s", check.message);
		return r;
	}
	text[strcspn(text, "\n")] = '\0';
	token = config_trim(text);
	if (!cli_token_valid(token)) {
		tnd_error_set(err, "token file %s: the first line must hold the token (1 to %d printable "
			      "characters, no spaces)", path, CLI_TOKEN_MAX);
		explicit_bzero(text, strlen(text));
		free(text);
		return -EINVAL;
	}
	*ret_token = tnd_xstrdup(token);
	explicit_bzero(text, strlen(text));
	free(text);
	return 0;
}

/* --- resolution ------------------------------------------------------------------------ */

static int endpoint_check_url(const char *url, const char *source, char **ret_url, struct tnd_error *err)
{
	size_t len = strlen(url), scheme;
	char *copy;

	if (strncasecmp(url, "http://", 7) == 0)
		scheme = 7;
	else if (strncasecmp(url, "https://", 8) == 0)
		scheme = 8;
	else {
		tnd_error_set(err, "%s: the URL must start with http:// or https://", source);
		return -EINVAL;
	}
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)url[i] <= 0x20 || (unsigned char)url[i] == 0x7f) {
			tnd_error_set(err, "%s: the URL contains spaces or control characters", source);
			return -EINVAL;
		}
	if (len == scheme || url[scheme] == '/') {
		tnd_error_set(err, "%s: the URL names no host", source);
		return -EINVAL;
	}
	copy = tnd_xstrdup(url);
	while (len > scheme && copy[len - 1] == '/')
		copy[--len] = '\0';
	*ret_url = copy;
	return 0;
}

static int endpoint_take_token(const char *token, const char *source, char **ret_token, struct tnd_error *err)
{
	if (!cli_token_valid(token)) {
		tnd_error_set(err, "%s: a token is 1 to %d printable characters without spaces", source,
			      CLI_TOKEN_MAX);
		return -EINVAL;
	}
	*ret_token = tnd_xstrdup(token);
	return 0;
}

static int endpoint_resolve_token(const struct cli_sources *src, const struct cli_config_file *cfg,
				  struct cli_endpoint *ep, struct tnd_error *err)
{
	const char *file = NULL;
	int r;

	if (config_present(src->flag_token)) {
		ep->token_source = tnd_xstrdup("--token");
		return endpoint_take_token(src->flag_token, "--token", &ep->token, err);
	}
	if (config_present(src->flag_token_file)) {
		file = src->flag_token_file;
		ep->token_source = tnd_xstrdup("--token-file");
	} else if (config_present(src->env_token)) {
		ep->token_source = tnd_xstrdup("TENANCYD_TOKEN");
		return endpoint_take_token(src->env_token, "TENANCYD_TOKEN", &ep->token, err);
	} else if (config_present(src->env_token_file)) {
		file = src->env_token_file;
		ep->token_source = tnd_xstrdup("TENANCYD_TOKEN_FILE");
	} else if (cfg->token_file) {
		file = cfg->token_file;
		ep->token_source = tnd_xasprintf("%s:%u", src->config_path, cfg->token_file_line);
	} else {
		return 0;
	}
	r = cli_token_file_read(file, &ep->token, err);
	if (r < 0) {
		char message[sizeof(err->message)];
		tnd_strlcpy(message, err->message, sizeof(message));
		tnd_error_set(err, "%s: %s", ep->token_source, message);
	}
	return r;
}

int cli_endpoint_resolve(const struct cli_sources *src, struct cli_endpoint *ret, struct tnd_error *err)
{
	struct cli_config_file cfg = { NULL, 0, NULL, 0 };
	struct cli_endpoint ep = { NULL, NULL, NULL, NULL };
	const char *url;
	int r = 0;

	/* a broken config file is reported even when flags override it: it would bite later */
	if (config_present(src->config_path)) {
		r = cli_config_load(src->config_path, src->config_path_explicit, src->home, &cfg, err);
		if (r < 0)
			return r;
	}
	if (config_present(src->flag_url)) {
		url = src->flag_url;
		ep.url_source = tnd_xstrdup("--url");
	} else if (config_present(src->env_url)) {
		url = src->env_url;
		ep.url_source = tnd_xstrdup("TENANCYD_URL");
	} else if (cfg.url) {
		url = cfg.url;
		ep.url_source = tnd_xasprintf("%s:%u", src->config_path, cfg.url_line);
	} else {
		url = CLI_DEFAULT_URL;
		ep.url_source = tnd_xstrdup("default");
	}
	r = endpoint_check_url(url, ep.url_source, &ep.url, err);
	if (r == 0)
		r = endpoint_resolve_token(src, &cfg, &ep, err);
	cli_config_file_clear(&cfg);
	if (r < 0) {
		cli_endpoint_clear(&ep);
		return r;
	}
	*ret = ep;
	return 0;
}

void cli_endpoint_clear(struct cli_endpoint *endpoint)
{
	if (endpoint == NULL)
		return;
	if (endpoint->token) {
		explicit_bzero(endpoint->token, strlen(endpoint->token));
		free(endpoint->token);
	}
	free(endpoint->url);
	free(endpoint->url_source);
	free(endpoint->token_source);
	memset(endpoint, 0, sizeof(*endpoint));
}
