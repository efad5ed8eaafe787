/*
 * cli_config.h — where tenancyctl finds its server and its bearer token.
 *
 * The URL and the token are resolved separately; for each, the first
 * source that names one wins:
 *   1. flags:        --url; --token or --token-file
 *   2. environment:  TENANCYD_URL; TENANCYD_TOKEN, else TENANCYD_TOKEN_FILE
 *   3. config file:  $TENANCYCTL_CONFIG, else ~/.config/tenancyctl/config,
 *                    with "url = …" and "token-file = …" lines
 *   4. the default URL http://127.0.0.1:8470; no token
 *
 * A token file must not be accessible by group or others (like ssh with
 * private keys).  The token itself never appears in any message.
 */
#ifndef TND_CLI_CONFIG_H
#define TND_CLI_CONFIG_H

#include <stdbool.h>

#include <tenancyd/plugin.h>

#define CLI_DEFAULT_URL "http://127.0.0.1:8470"
/* A token is 1 to this many printable ASCII characters. */
#define CLI_TOKEN_MAX 1024

/** A parsed config file; paths in it are absolute. */
struct cli_config_file {
	char *url;
	unsigned url_line;
	char *token_file;
	unsigned token_file_line;
};

/**
 * Parse the text of a config file named @path (for messages and for
 * resolving a relative token-file against its directory; "~/" expands to
 * @home).  Lines are "key = value" (value optionally in double quotes),
 * blank, or comments starting with '#'.  Unknown keys, repeated keys and
 * malformed lines are errors naming the line.  0 or -EINVAL.
 */
int cli_config_parse(const char *text, const char *path, const char *home, struct cli_config_file *ret,
		     struct tnd_error *err);
/** Read and parse @path.  A missing file is an empty config unless @must_exist. */
int cli_config_load(const char *path, bool must_exist, const char *home, struct cli_config_file *ret,
		    struct tnd_error *err);
void cli_config_file_clear(struct cli_config_file *config);

/** Everything the resolution looks at; NULL or empty strings are absent. */
struct cli_sources {
	const char *flag_url;
	const char *flag_token;
	const char *flag_token_file;
	const char *env_url;
	const char *env_token;
	const char *env_token_file;
	const char *config_path;       /* NULL: no config file to read */
	bool config_path_explicit;     /* named by $TENANCYCTL_CONFIG: must exist */
	const char *home;              /* $HOME, for "~/" in the config file */
};

/** The result of the resolution. */
struct cli_endpoint {
	char *url;            /* http(s)://…, without a trailing '/' */
	char *token;          /* NULL when no source names one */
	char *url_source;     /* "--url", "TENANCYD_URL", "<config>:<line>", "default" */
	char *token_source;   /* likewise; NULL without a token */
};

/** Resolve URL and token from @src (see the top of this file).  0, or -EINVAL,
 *  -ENOENT, -EPERM with the reason (never the token) in @err. */
int cli_endpoint_resolve(const struct cli_sources *src, struct cli_endpoint *ret, struct tnd_error *err);
/** Free and wipe (the token is zeroed before it is freed). */
void cli_endpoint_clear(struct cli_endpoint *endpoint);

/** The default config path, ~/.config/tenancyctl/config (caller frees), or NULL without @home. */
char *cli_config_default_path(const char *home);

/**
 * Read the token in @path: the first line, surrounding whitespace removed.
 * Refused (-EPERM) when the file is accessible by group or others, is not a
 * regular file, or is owned by someone else; -EINVAL when empty or not
 * printable ASCII.
 */
int cli_token_file_read(const char *path, char **ret_token, struct tnd_error *err);

/** True if @token is 1..CLI_TOKEN_MAX printable ASCII characters without spaces. */
bool cli_token_valid(const char *token);

#endif /* TND_CLI_CONFIG_H */
