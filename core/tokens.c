/*
 * tokens.c — the API tokens file: parsing and checking it, and
 * authenticating a presented bearer token against it (see tokens.h).
 *
 * Only SHA-256 hashes are stored.  A presented token is hashed and looked
 * up by binary search over the sorted hashes.  The search compares hashes,
 * not tokens, so its timing can reveal at most how a hash of the attacker's
 * own guess sorts, which says nothing useful about any real token.  The
 * final match is still confirmed in constant time.
 */
#include "autoconfig.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tokens.h"
#include "util.h"

#define TOKENS_FILE_MAX (16u << 20)
#define TOKENS_PREFIX "tnd_"
#define TOKENS_HASH_PREFIX "sha256:"
#define TOKENS_RANDOM_BYTES 32
#define TOKENS_NAME_MAX 64
#define TOKENS_BASE64URL_CHARS \
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

struct tokens_entry {
	char hash[65];  /* lower-case hex */
	struct tnd_principal principal;
	unsigned line;
};

struct tnd_tokens {
	struct tokens_entry *entries;  /* sorted by hash */
	size_t n;
};

static const char *const tokens_role_names[] = {
	[TND_ROLE_NONE] = "none",
	[TND_ROLE_TENANT] = "tenant",
	[TND_ROLE_VIEWER] = "viewer",
	[TND_ROLE_AUDITOR] = "auditor",
	[TND_ROLE_OPERATOR] = "operator",
	[TND_ROLE_ADMIN] = "admin",
};

const char *role_name(enum tnd_role role)
{
	if ((size_t)role >= TND_ARRAY_SIZE(tokens_role_names))
		return "none";
	return tokens_role_names[role];
}

enum tnd_role role_parse(const char *name)
{
	for (size_t i = TND_ROLE_TENANT; i < TND_ARRAY_SIZE(tokens_role_names); i++)
		if (tnd_streq(name, tokens_role_names[i]))
			return (enum tnd_role)i;
	return TND_ROLE_NONE;
}

bool tokens_name_valid(const char *s)
{
	size_t len = strlen(s);

	return len >= 1 && len <= TOKENS_NAME_MAX &&
	       strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") == len;
}

/* ^[a-z][a-z0-9-]{1,38}[a-z0-9]$, as metadata.id in the manifest. */
static bool tokens_tenant_id_valid(const char *s)
{
	size_t len = strlen(s);

	return len >= 3 && len <= 40 && s[0] >= 'a' && s[0] <= 'z' &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-") == len && s[len - 1] != '-';
}

bool tokens_well_formed(const char *token)
{
	return token && strnlen(token, TND_TOKEN_SIZE) == TND_TOKEN_LEN &&
	       tnd_str_has_prefix(token, TOKENS_PREFIX) &&
	       strspn(token + strlen(TOKENS_PREFIX), TOKENS_BASE64URL_CHARS) ==
		       TND_TOKEN_LEN - strlen(TOKENS_PREFIX);
}

void tokens_hash(const char *token, char out[65])
{
	tnd_sha256_hex(token, strlen(token), out);
}

void tokens_generate(char out[TND_TOKEN_SIZE])
{
	unsigned char random[TOKENS_RANDOM_BYTES];
	char encoded[4 * ((TOKENS_RANDOM_BYTES + 2) / 3) + 1];

	/* There is no safe fallback for a missing entropy source. */
	if (tnd_random_bytes(random, sizeof(random)) < 0)
		abort();
	tnd_base64url_encode(random, sizeof(random), encoded);
	memcpy(out, TOKENS_PREFIX, strlen(TOKENS_PREFIX));
	tnd_strlcpy(out + strlen(TOKENS_PREFIX), encoded, TND_TOKEN_SIZE - strlen(TOKENS_PREFIX));
	explicit_bzero(random, sizeof(random));
}

/* NULL when the line could not be loaded back: bad name, role or tenant. */
char *tokens_format_line(const char *name, enum tnd_role role, const char *token, const char *tenant)
{
	char hash[65];

	if (name == NULL || token == NULL || !tokens_name_valid(name) || role == TND_ROLE_NONE ||
	    (size_t)role >= TND_ARRAY_SIZE(tokens_role_names))
		return NULL;
	if ((role == TND_ROLE_TENANT) != (tenant != NULL))
		return NULL;
	if (tenant && !tokens_tenant_id_valid(tenant))
		return NULL;
	tokens_hash(token, hash);
	return tnd_xasprintf("%s %s " TOKENS_HASH_PREFIX "%s%s%s\n", name, role_name(role), hash,
			     tenant ? " " : "", tenant ? tenant : "");
}

/* --- loading ----------------------------------------------------------------- */

static int tokens_fail(struct tnd_error *err, const char *path, unsigned line, const char *cause)
{
	tnd_error_set(err, "%s:%u: %s", path, line, cause);
	return -EINVAL;
}

static bool tokens_parse_hash(const char *field, char out[65])
{
	const char *hex = field + strlen(TOKENS_HASH_PREFIX);

	if (!tnd_str_has_prefix(field, TOKENS_HASH_PREFIX) || strlen(hex) != 64 ||
	    strspn(hex, "0123456789abcdefABCDEF") != 64)
		return false;
	for (size_t i = 0; i < 64; i++)
		out[i] = (hex[i] >= 'A' && hex[i] <= 'F') ? (char)(hex[i] - 'A' + 'a') : hex[i];
	out[64] = '\0';
	return true;
}

/*
 * One non-comment line, split into @fields (NUL-terminated in place).
 * Messages never quote a field: the file is secret, and a misplaced field
 * may well be a hash or a raw token.
 */
static int tokens_parse_line(char **fields, size_t n_fields, const char *path, unsigned line,
			     struct tokens_entry *entry, struct tnd_error *err)
{
	enum tnd_role role;
	char cause[128];

	if (n_fields < 3)
		return tokens_fail(err, path, line,
				   "expected '<name> <role> sha256:<64 hex digits> [<tenant-id>]'");
	if (n_fields > 4)
		return tokens_fail(err, path, line, "too many fields (at most 4)");
	if (tokens_well_formed(fields[0]))
		return tokens_fail(err, path, line,
				   "the name field holds a raw token; the file must hold only its hash");
	if (!tokens_name_valid(fields[0]))
		return tokens_fail(err, path, line, "token name is invalid (want [A-Za-z0-9._-]{1,64})");
	role = role_parse(fields[1]);
	if (role == TND_ROLE_NONE)
		return tokens_fail(err, path, line,
				   "unknown role (want admin, operator, auditor, viewer or tenant)");
	if (!tokens_parse_hash(fields[2], entry->hash))
		return tokens_fail(err, path, line, "third field must be 'sha256:' followed by 64 hex digits");
	if (role == TND_ROLE_TENANT && n_fields < 4)
		return tokens_fail(err, path, line, "role 'tenant' requires a tenant id as fourth field");
	if (role != TND_ROLE_TENANT && n_fields == 4) {
		snprintf(cause, sizeof(cause), "role '%s' takes no tenant id", role_name(role));
		return tokens_fail(err, path, line, cause);
	}
	if (n_fields == 4 && !tokens_tenant_id_valid(fields[3]))
		return tokens_fail(err, path, line, "tenant id is invalid (want ^[a-z][a-z0-9-]{1,38}[a-z0-9]$)");

	tnd_strlcpy(entry->principal.name, fields[0], sizeof(entry->principal.name));
	entry->principal.role = role;
	if (n_fields == 4)
		tnd_strlcpy(entry->principal.tenant, fields[3], sizeof(entry->principal.tenant));
	entry->line = line;
	return 0;
}

static int tokens_cmp_hash(const void *a, const void *b)
{
	const struct tokens_entry *x = a, *y = b;
	int c = memcmp(x->hash, y->hash, 64);

	return c ? c : (x->line > y->line) - (x->line < y->line);
}

static int tokens_cmp_name(const void *a, const void *b)
{
	const struct tokens_entry *const *x = a, *const *y = b;
	int c = strcmp((*x)->principal.name, (*y)->principal.name);

	return c ? c : ((*x)->line > (*y)->line) - ((*x)->line < (*y)->line);
}

/*
 * Names and hashes must be unique (a shared hash would make the principal
 * of a token ambiguous).  Sorting finds every duplicate; the one reported is
 * the earliest second occurrence, where an operator reading the file top
 * down first meets the problem.  Leaves the entries sorted by hash.
 */
static int tokens_check_unique(struct tnd_tokens *tokens, const char *path, struct tnd_error *err)
{
	const struct tokens_entry *dup = NULL, *first = NULL;
	bool dup_is_name = false;
	struct tokens_entry **by_name;
	char cause[256];

	/* Also keeps qsort() away from an empty (NULL) array. */
	if (tokens->n < 2)
		return 0;
	qsort(tokens->entries, tokens->n, sizeof(*tokens->entries), tokens_cmp_hash);
	for (size_t i = 1; i < tokens->n; i++)
		if (memcmp(tokens->entries[i - 1].hash, tokens->entries[i].hash, 64) == 0 &&
		    (dup == NULL || tokens->entries[i].line < dup->line)) {
			dup = &tokens->entries[i];
			first = &tokens->entries[i - 1];
		}

	by_name = tnd_xcalloc(tokens->n, sizeof(*by_name));
	for (size_t i = 0; i < tokens->n; i++)
		by_name[i] = &tokens->entries[i];
	qsort(by_name, tokens->n, sizeof(*by_name), tokens_cmp_name);
	for (size_t i = 1; i < tokens->n; i++)
		if (strcmp(by_name[i - 1]->principal.name, by_name[i]->principal.name) == 0 &&
		    (dup == NULL || by_name[i]->line < dup->line)) {
			dup = by_name[i];
			first = by_name[i - 1];
			dup_is_name = true;
		}
	free(by_name);

	if (dup == NULL)
		return 0;
	if (dup_is_name)
		snprintf(cause, sizeof(cause), "duplicate token name '%s' (first at line %u)",
			 dup->principal.name, first->line);
	else
		snprintf(cause, sizeof(cause), "token '%s' has the same hash as token '%s' (line %u)",
			 dup->principal.name, first->principal.name, first->line);
	return tokens_fail(err, path, dup->line, cause);
}

static int tokens_parse(char *data, size_t len, const char *path, struct tnd_tokens *tokens,
			struct tnd_error *err)
{
	size_t cap = 0;
	unsigned line = 0;
	char *p = data, *end = data + len;

	if (memchr(data, '\0', len))
		return tokens_fail(err, path, 1, "file contains a NUL byte");
	while (p < end) {
		char *eol = memchr(p, '\n', (size_t)(end - p));
		char *fields[5];
		size_t n_fields = 0;
		char *save = NULL;
		int r;

		line++;
		if (eol == NULL)
			eol = end;
		*eol = '\0';
		/* A '#' field starts a comment, whether the line is blank before it or not. */
		for (char *f = strtok_r(p, " \t\r", &save); f && *f != '#'; f = strtok_r(NULL, " \t\r", &save)) {
			if (n_fields == TND_ARRAY_SIZE(fields))
				break;
			fields[n_fields++] = f;
		}
		p = eol + 1;
		if (n_fields == 0)
			continue;
		if (tokens->n == cap) {
			cap = cap ? 2 * cap : 16;
			tokens->entries = tnd_xrealloc(tokens->entries, cap * sizeof(*tokens->entries));
		}
		memset(&tokens->entries[tokens->n], 0, sizeof(*tokens->entries));
		r = tokens_parse_line(fields, n_fields, path, line, &tokens->entries[tokens->n], err);
		if (r < 0)
			return r;
		tokens->n++;
	}
	return tokens_check_unique(tokens, path, err);
}

int tokens_load(const char *path, struct tnd_tokens **ret_tokens, struct tnd_error *err)
{
	struct tnd_tokens *tokens;
	char *data = NULL;
	size_t len = 0;
	int r;

	r = tnd_file_check(path, TND_FILE_SECRET, err);
	if (r < 0)
		return r;
	r = tnd_read_file(path, TOKENS_FILE_MAX, &data, &len, err);
	if (r < 0)
		return r;
	tokens = tnd_xcalloc(1, sizeof(*tokens));
	r = tokens_parse(data, len, path, tokens, err);
	explicit_bzero(data, len);
	free(data);
	if (r < 0) {
		tokens_free(tokens);
		return r;
	}
	*ret_tokens = tokens;
	return 0;
}

void tokens_free(struct tnd_tokens *tokens)
{
	if (tokens == NULL)
		return;
	free(tokens->entries);
	free(tokens);
}

size_t tokens_count(const struct tnd_tokens *tokens)
{
	return tokens ? tokens->n : 0;
}

static int tokens_cmp_key(const void *key, const void *element)
{
	return memcmp(key, ((const struct tokens_entry *)element)->hash, 64);
}

int tokens_authenticate(const struct tnd_tokens *tokens, const char *token, struct tnd_principal *ret)
{
	const struct tokens_entry *entry;
	char hash[65];

	/* Malformed input never costs a hash. */
	if (tokens == NULL || tokens->n == 0 || !tokens_well_formed(token))
		return -ENOENT;
	tokens_hash(token, hash);
	entry = bsearch(hash, tokens->entries, tokens->n, sizeof(*tokens->entries), tokens_cmp_key);
	if (entry == NULL || !tnd_memeq_consttime(entry->hash, hash, 64))
		return -ENOENT;
	*ret = entry->principal;
	snprintf(ret->subject, sizeof(ret->subject), "file:%s", entry->principal.name);
	ret->base_role = entry->principal.role;
	return 0;
}

bool tokens_has_name(const struct tnd_tokens *tokens, const char *name)
{
	for (size_t i = 0; tokens && i < tokens->n; i++)
		if (strcmp(tokens->entries[i].principal.name, name) == 0)
			return true;
	return false;
}
