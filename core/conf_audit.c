/*
 * conf_audit.c — parsing and checking the `audit` section (see
 * conf_audit.h).  Key files are checked here, so `tenancyd -t` names a
 * missing, unsafe or malformed key with its line; the daemon loads them
 * again at start-up (audit.c).
 *
 *   audit: {
 *     signing_key_file = "audit.key";            # default <state_dir>/audit.key
 *     verify_keys = [ "audit-2025.pub" ];       # optional: earlier public keys
 *   };
 */
#include "autoconfig.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "audit_key.h"
#include "conf_audit.h"
#include "util.h"

static const char *const audit_keys[] = { "enabled", "signing_key_file", "verify_keys", NULL };

static int audit_check_signing_key(struct conf_reader *reader, config_setting_t *where, const char *path)
{
	struct audit_signer *signer = NULL;
	struct tnd_error err = { "" };
	int r = audit_signer_load(path, &signer, &err);

	audit_signer_free(signer);
	if (r < 0)
		return conf_fail(reader, where, "audit.signing_key_file: %s", err.message);
	return 0;
}

static int audit_parse_verify_keys(struct conf_reader *reader, config_setting_t *group, struct tnd_conf *conf)
{
	config_setting_t *list = NULL;
	int r = conf_get_aggregate(reader, group, "verify_keys", CONFIG_TYPE_ARRAY, false, &list);
	int n;

	if (r < 0 || list == NULL)
		return r;
	n = config_setting_length(list);
	conf->audit.verify_keys = tnd_xcalloc((size_t)n + 1, sizeof(char *));
	for (int i = 0; i < n; i++) {
		config_setting_t *elem = config_setting_get_elem(list, (unsigned)i);
		const char *value = config_setting_get_string(elem);
		struct audit_keyring *ring;
		struct tnd_error err = { "" };
		char *joined;

		if (value == NULL || value[0] == '\0')
			return conf_fail(reader, elem, "audit.verify_keys: each element must be a non-empty path");
		joined = value[0] == '/' ? tnd_xstrdup(value) : tnd_xasprintf("%s/%s", reader->dir, value);
		conf->audit.verify_keys[i] = tnd_path_absolute(joined);
		conf->audit.n_verify_keys++;
		free(joined);
		ring = audit_keyring_new();
		r = tnd_file_check(conf->audit.verify_keys[i], TND_FILE_TRUSTED, &err);
		if (r == 0)
			r = audit_keyring_add_file(ring, conf->audit.verify_keys[i], &err);
		audit_keyring_free(ring);
		if (r < 0)
			return conf_fail(reader, elem, "audit.verify_keys: %s", err.message);
	}
	return 0;
}

int conf_audit_parse(struct conf_reader *reader, config_setting_t *root, struct tnd_conf *conf)
{
	config_setting_t *group = NULL;
	struct stat st;
	int r;

	r = conf_get_aggregate(reader, root, "audit", CONFIG_TYPE_GROUP, false, &group);
	if (r < 0)
		return r;
	if (group) {
		r = conf_check_keys(reader, group, audit_keys);
		if (r < 0)
			return r;
		bool enabled = true;

		r = conf_get_bool(reader, group, "enabled", false, &enabled);
		if (r < 0)
			return r;
		conf->audit.disabled = !enabled;
		r = conf_get_path(reader, group, "signing_key_file", false, &conf->audit.signing_key_file);
		if (r < 0)
			return r;
		r = audit_parse_verify_keys(reader, group, conf);
		if (r < 0)
			return r;
	}
	if (conf->audit.signing_key_file)
		return audit_check_signing_key(reader, config_setting_get_member(group, "signing_key_file"),
					       conf->audit.signing_key_file);
	/* The default key is created on first start; one that exists must be sound. */
	conf->audit.signing_key_file = tnd_xasprintf("%s/audit.key", conf->daemon.state_dir);
	conf->audit.signing_key_generate = true;
	if (lstat(conf->audit.signing_key_file, &st) == 0)
		return audit_check_signing_key(reader, group ? group : root, conf->audit.signing_key_file);
	return 0;
}

void conf_audit_free(struct tnd_conf *conf)
{
	free(conf->audit.signing_key_file);
	for (size_t i = 0; i < conf->audit.n_verify_keys; i++)
		free(conf->audit.verify_keys[i]);
	free(conf->audit.verify_keys);
}
