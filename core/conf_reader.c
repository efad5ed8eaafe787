/*
 * conf_reader.c — typed, strict access to a parsed libconfig tree with
 * "file:line: cause" errors (see conf_reader.h).  Knows nothing about which
 * keys tenancyd.conf has; conf.c and conf_topology.c hold that schema.
 */
#include "autoconfig.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf_reader.h"
#include "util.h"

/* Free-form groups are operator data, but a runaway nesting is a mistake. */
#define CONF_JSON_MAX_DEPTH 32

int conf_fail(struct conf_reader *reader, const config_setting_t *setting, const char *fmt, ...)
{
	char cause[sizeof(reader->err->message)];
	const char *file = reader->file;
	unsigned line = 0;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cause, sizeof(cause), fmt, ap);
	va_end(ap);
	if (setting) {
		/* A setting from an @include'd file is reported against that file. */
		if (config_setting_source_file(setting))
			file = config_setting_source_file(setting);
		line = config_setting_source_line(setting);
	}
	if (line > 0)
		tnd_error_set(reader->err, "%s:%u: %s", file, line, cause);
	else
		tnd_error_set(reader->err, "%s: %s", file, cause);
	return -EINVAL;
}

const char *conf_setting_path(const config_setting_t *setting, char *buf, size_t cap)
{
	const config_setting_t *chain[64];
	size_t depth = 0, len = 0;

	/* Collect the ancestors (the root has no parent and no name). */
	for (const config_setting_t *s = setting; s && config_setting_parent(s); s = config_setting_parent(s))
		if (depth < TND_ARRAY_SIZE(chain))
			chain[depth++] = s;
	buf[0] = '\0';
	while (depth-- > 0 && len < cap) {
		const config_setting_t *s = chain[depth];
		const char *name = config_setting_name(s);
		int n;

		if (name)
			n = snprintf(buf + len, cap - len, "%s%s", len ? "." : "", name);
		else
			n = snprintf(buf + len, cap - len, "[%d]", config_setting_index(s));
		if (n < 0)
			break;
		len += (size_t)n;
	}
	return buf;
}

static const char *conf_type_noun(int type)
{
	switch (type) {
	case CONFIG_TYPE_GROUP:
		return "a group { ... }";
	case CONFIG_TYPE_LIST:
		return "a list ( ... )";
	case CONFIG_TYPE_ARRAY:
		return "an array [ ... ]";
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64:
		return "an integer";
	case CONFIG_TYPE_FLOAT:
		return "a floating-point number";
	case CONFIG_TYPE_STRING:
		return "a string";
	case CONFIG_TYPE_BOOL:
		return "a boolean (true or false)";
	default:
		return "an unknown type";
	}
}

static int conf_wrong_type(struct conf_reader *reader, config_setting_t *setting, int want)
{
	char path[256];

	return conf_fail(reader, setting, "'%s' must be %s, not %s",
			 conf_setting_path(setting, path, sizeof(path)), conf_type_noun(want),
			 conf_type_noun(config_setting_type(setting)));
}

int conf_check_keys(struct conf_reader *reader, config_setting_t *group, const char *const *known)
{
	int n = config_setting_length(group);

	for (int i = 0; i < n; i++) {
		config_setting_t *member = config_setting_get_elem(group, (unsigned)i);
		const char *name = config_setting_name(member);
		bool found = false;
		char path[256];

		for (const char *const *k = known; *k && !found; k++)
			found = tnd_streq(*k, name);
		if (!found)
			return conf_fail(reader, member, "unknown setting '%s'",
					 conf_setting_path(member, path, sizeof(path)));
	}
	return 0;
}

/* Find @key in @group; absent is an error only when @required. */
static int conf_member(struct conf_reader *reader, config_setting_t *group, const char *key,
		       bool required, config_setting_t **ret)
{
	config_setting_t *member = config_setting_get_member(group, key);
	char path[256];

	if (member == NULL) {
		if (!required)
			return 0;
		conf_setting_path(group, path, sizeof(path));
		return conf_fail(reader, group, "missing required setting '%s%s%s'", path,
				 path[0] ? "." : "", key);
	}
	*ret = member;
	return 0;
}

int conf_get_string(struct conf_reader *reader, config_setting_t *group, const char *key,
		    bool required, const char **ret)
{
	config_setting_t *member = NULL;
	int r = conf_member(reader, group, key, required, &member);

	if (r < 0 || member == NULL)
		return r;
	if (config_setting_type(member) != CONFIG_TYPE_STRING)
		return conf_wrong_type(reader, member, CONFIG_TYPE_STRING);
	*ret = config_setting_get_string(member);
	return 0;
}

int conf_get_int(struct conf_reader *reader, config_setting_t *group, const char *key,
		 bool required, int64_t min, int64_t max, int64_t *ret)
{
	config_setting_t *member = NULL;
	int r = conf_member(reader, group, key, required, &member);
	long long value;
	char path[256];

	if (r < 0 || member == NULL)
		return r;
	if (config_setting_type(member) != CONFIG_TYPE_INT && config_setting_type(member) != CONFIG_TYPE_INT64)
		return conf_wrong_type(reader, member, CONFIG_TYPE_INT);
	value = config_setting_get_int64(member);
	if (value < min || value > max)
		return conf_fail(reader, member, "'%s' is %lld, must be between %lld and %lld",
				 conf_setting_path(member, path, sizeof(path)), value, (long long)min,
				 (long long)max);
	*ret = value;
	return 0;
}

int conf_get_bool(struct conf_reader *reader, config_setting_t *group, const char *key,
		  bool required, bool *ret)
{
	config_setting_t *member = NULL;
	int r = conf_member(reader, group, key, required, &member);

	if (r < 0 || member == NULL)
		return r;
	if (config_setting_type(member) != CONFIG_TYPE_BOOL)
		return conf_wrong_type(reader, member, CONFIG_TYPE_BOOL);
	*ret = config_setting_get_bool(member) != 0;
	return 0;
}

int conf_get_aggregate(struct conf_reader *reader, config_setting_t *group, const char *key,
		       int type, bool required, config_setting_t **ret)
{
	config_setting_t *member = NULL;
	int r = conf_member(reader, group, key, required, &member);

	if (r < 0 || member == NULL)
		return r;
	if (config_setting_type(member) != type)
		return conf_wrong_type(reader, member, type);
	*ret = member;
	return 0;
}

int conf_get_path(struct conf_reader *reader, config_setting_t *group, const char *key,
		  bool required, char **ret)
{
	const char *value = NULL;
	char path[256];
	char *joined;
	int r;

	r = conf_get_string(reader, group, key, required, &value);
	if (r < 0 || value == NULL)
		return r;
	if (value[0] == '\0')
		return conf_fail(reader, config_setting_get_member(group, key), "'%s' must not be empty",
				 conf_setting_path(config_setting_get_member(group, key), path, sizeof(path)));
	if (value[0] == '/')
		joined = tnd_xstrdup(value);
	else
		joined = tnd_xasprintf("%s/%s", reader->dir, value);
	*ret = tnd_path_absolute(joined);
	free(joined);
	return 0;
}

int conf_list_group(struct conf_reader *reader, config_setting_t *list, int index,
		    config_setting_t **ret)
{
	config_setting_t *element = config_setting_get_elem(list, (unsigned)index);

	if (config_setting_type(element) != CONFIG_TYPE_GROUP)
		return conf_wrong_type(reader, element, CONFIG_TYPE_GROUP);
	*ret = element;
	return 0;
}

static int conf_to_json(struct conf_reader *reader, config_setting_t *setting, unsigned depth,
			json_t **ret)
{
	char path[256];
	json_t *value;

	if (depth > CONF_JSON_MAX_DEPTH)
		return conf_fail(reader, setting, "'%s' is nested more than %d levels deep",
				 conf_setting_path(setting, path, sizeof(path)), CONF_JSON_MAX_DEPTH);

	switch (config_setting_type(setting)) {
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64:
		value = json_integer(config_setting_get_int64(setting));
		break;
	case CONFIG_TYPE_FLOAT: {
		double d = config_setting_get_float(setting);
		/* JSON has no NaN or infinity (jansson refuses them). */
		if (!isfinite(d))
			return conf_fail(reader, setting, "'%s' is not a finite number",
					 conf_setting_path(setting, path, sizeof(path)));
		value = json_real(d);
		break;
	}
	case CONFIG_TYPE_BOOL:
		value = json_boolean(config_setting_get_bool(setting));
		break;
	case CONFIG_TYPE_STRING:
		value = json_string(config_setting_get_string(setting));
		if (value == NULL)
			return conf_fail(reader, setting, "'%s' is not valid UTF-8",
					 conf_setting_path(setting, path, sizeof(path)));
		break;
	case CONFIG_TYPE_ARRAY:
	case CONFIG_TYPE_LIST:
	case CONFIG_TYPE_GROUP: {
		bool is_group = config_setting_type(setting) == CONFIG_TYPE_GROUP;
		int n = config_setting_length(setting);

		value = is_group ? json_object() : json_array();
		for (int i = 0; i < n; i++) {
			config_setting_t *child = config_setting_get_elem(setting, (unsigned)i);
			json_t *child_json = NULL;
			int r = conf_to_json(reader, child, depth + 1, &child_json);

			if (r < 0) {
				json_decref(value);
				return r;
			}
			if (is_group)
				json_object_set_new(value, config_setting_name(child), child_json);
			else
				json_array_append_new(value, child_json);
		}
		break;
	}
	default:
		return conf_fail(reader, setting, "'%s' has an unsupported type",
				 conf_setting_path(setting, path, sizeof(path)));
	}
	if (value == NULL)
		abort(); /* jansson fails only on allocation, which the daemon treats as fatal */
	*ret = value;
	return 0;
}

int conf_get_json_object(struct conf_reader *reader, config_setting_t *group, const char *key,
			 json_t **ret)
{
	config_setting_t *member = NULL;
	int r = conf_get_aggregate(reader, group, key, CONFIG_TYPE_GROUP, false, &member);

	if (r < 0)
		return r;
	if (member == NULL) {
		*ret = json_object();
		return 0;
	}
	return conf_to_json(reader, member, 0, ret);
}

bool conf_name_valid(const char *s, size_t max_len, const char *first, const char *rest)
{
	size_t len;

	if (s == NULL || s[0] == '\0' || strchr(first, s[0]) == NULL)
		return false;
	for (len = 1; s[len]; len++)
		if (strchr(rest, s[len]) == NULL)
			return false;
	return len <= max_len;
}
