/*
 * conf_reader.h — typed, strict access to a parsed libconfig tree, for the
 * modules that turn tenancyd.conf into a struct tnd_conf (conf.c and
 * conf_topology.c).  Internal to the config loader.
 *
 * Every failure fills the reader's error as "<file>:<line>: <cause>", naming
 * the setting by its full path ("api.max_depth", "plans[1].quotas.storage_gb"),
 * and returns -EINVAL, so a caller only has to propagate the return value.
 */
#ifndef TND_CONF_READER_H
#define TND_CONF_READER_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>
#include <libconfig.h>

#include <tenancyd/plugin.h>

struct conf_reader {
	const char *file;        /* the config file as the operator named it */
	const char *dir;         /* its directory, absolute: base of relative paths */
	struct tnd_error *err;
};

/** Fail at @setting (NULL: the file as a whole, no line).  Always -EINVAL. */
int conf_fail(struct conf_reader *reader, const config_setting_t *setting, const char *fmt, ...)
	TND_PRINTF(3, 4);

/** The dotted path of @setting ("plans[0].quotas.storage_gb") in @buf. */
const char *conf_setting_path(const config_setting_t *setting, char *buf, size_t cap);

/** Refuse any member of group @group not named in the NULL-terminated @known. */
int conf_check_keys(struct conf_reader *reader, config_setting_t *group, const char *const *known);

/*
 * Getters.  A member that is absent leaves *ret untouched and returns 0,
 * unless @required (then: "missing required setting").  A member of the
 * wrong type is an error naming the expected type.  Strings are borrowed
 * from the libconfig tree.
 */
int conf_get_string(struct conf_reader *reader, config_setting_t *group, const char *key,
		    bool required, const char **ret);
int conf_get_int(struct conf_reader *reader, config_setting_t *group, const char *key,
		 bool required, int64_t min, int64_t max, int64_t *ret);
int conf_get_bool(struct conf_reader *reader, config_setting_t *group, const char *key,
		  bool required, bool *ret);
/** @type: CONFIG_TYPE_GROUP, CONFIG_TYPE_LIST or CONFIG_TYPE_ARRAY. */
int conf_get_aggregate(struct conf_reader *reader, config_setting_t *group, const char *key,
		       int type, bool required, config_setting_t **ret);
/** As conf_get_string, and resolves a relative path against the file's
 *  directory; *ret is a new string (caller frees).  Empty paths are refused. */
int conf_get_path(struct conf_reader *reader, config_setting_t *group, const char *key,
		  bool required, char **ret);

/** The element at @index of a list, which must be a group. */
int conf_list_group(struct conf_reader *reader, config_setting_t *list, int index,
		    config_setting_t **ret);

/**
 * The free-form group @key of @group as a new JSON object ({} if absent):
 * integers → integer, floats → real, booleans, strings, arrays and lists →
 * arrays, groups → objects.
 */
int conf_get_json_object(struct conf_reader *reader, config_setting_t *group, const char *key,
			 json_t **ret);

/**
 * True if @s is 1..@max_len characters, the first from @first, the rest
 * from @rest (character sets as plain strings of allowed characters).
 */
bool conf_name_valid(const char *s, size_t max_len, const char *first, const char *rest);

#define CONF_CHARS_LOWER "abcdefghijklmnopqrstuvwxyz"
#define CONF_CHARS_DIGIT "0123456789"

#endif /* TND_CONF_READER_H */
