/*
 * tokens.h — API bearer tokens and roles.
 *
 * Tokens are stored only as SHA-256 hashes in a tokens file (one per line:
 * `<name> <role> sha256:<hex> [<tenant-id>]`, '#' comments), loaded with
 * the config snapshot and reloaded on SIGHUP.  A presented token is hashed
 * and looked up; the raw token is never kept or logged.
 *
 * Tokens made through the API (POST /v1/tokens) live in the registry and
 * are looked up in token_index.c; both kinds yield a tnd_principal.
 *
 * Roles, from most to least powerful: admin, operator (lifecycle, no
 * tokens/overrides), auditor (read + audit), viewer (read), and tenant
 * (read its own tenant only; the line names the tenant).
 */
#ifndef TND_TOKENS_H
#define TND_TOKENS_H

#include <stdbool.h>
#include <stddef.h>

#include <tenancyd/plugin.h>

enum tnd_role {
	TND_ROLE_NONE = 0,
	TND_ROLE_TENANT,
	TND_ROLE_VIEWER,
	TND_ROLE_AUDITOR,
	TND_ROLE_OPERATOR,
	TND_ROLE_ADMIN,
};

/** "tnd_" + 43 base64url characters (32 random bytes) + NUL. */
#define TND_TOKEN_LEN 47
#define TND_TOKEN_SIZE (TND_TOKEN_LEN + 1)

struct tnd_principal {
	char name[65];          /* the token's name (tokens file or registry) */
	enum tnd_role role;     /* in force for this request (break-glass may raise it) */
	char tenant[41];        /* TND_ROLE_TENANT: the only tenant it may read */
	/* which token this is, stable and unique across both sources:
	 * "file:<name>" or a registry token's id ("tok-...") */
	char subject[80];
	enum tnd_role base_role; /* the token's own role */
	char grant[48];         /* the break-glass grant raising role, or "" */
};

struct tnd_tokens;

/** Parse a tokens file; errors read "<file>:<line>: <cause>".  The file must
 *  be owned by root or the daemon's user and not readable by others. */
int tokens_load(const char *path, struct tnd_tokens **ret_tokens, struct tnd_error *err);
void tokens_free(struct tnd_tokens *tokens);
size_t tokens_count(const struct tnd_tokens *tokens);

/** Look up @token.  0 and *@ret filled, or -ENOENT (unknown or malformed). */
int tokens_authenticate(const struct tnd_tokens *tokens, const char *token, struct tnd_principal *ret);

/** Shape only: "tnd_" and 43 base64url characters. */
bool tokens_well_formed(const char *token);
/** True when the file has a token named @name. */
bool tokens_has_name(const struct tnd_tokens *tokens, const char *name);
/** [A-Za-z0-9._-]{1,64}, as in the file. */
bool tokens_name_valid(const char *name);

/** A fresh random token. */
void tokens_generate(char out[TND_TOKEN_SIZE]);
/** The stored form of @token: lower-case hex SHA-256. */
void tokens_hash(const char *token, char out[65]);
/** One tokens-file line (with trailing newline) for the given token; caller frees. */
char *tokens_format_line(const char *name, enum tnd_role role, const char *token, const char *tenant);

const char *role_name(enum tnd_role role);
/** "admin" ... "tenant" → role, or TND_ROLE_NONE. */
enum tnd_role role_parse(const char *name);

#endif /* TND_TOKENS_H */
