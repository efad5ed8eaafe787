/*
 * embedded_paths.c — names and paths of the embedded data plane: which
 * tenant ids are acceptable, the t_<id> name, resolving the dataPlane.dir
 * setting against the state directory, and the paths of a tenant's files.
 * Nothing here touches the disk, so a hostile request is refused before
 * any file is created or opened.
 */
#include "autoconfig.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "embedded.h"

/* Room under PATH_MAX for "/dedicated/t_<40 chars>.db-journal" and temp names. */
#define PATHS_DIR_MAX (PATH_MAX - 128)

char *embedded_printf_dup(const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return NULL;
	s = malloc((size_t)n + 1);
	if (s == NULL)
		return NULL;
	va_start(ap, fmt);
	vsnprintf(s, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return s;
}

const char *embedded_isolation_word(enum embedded_isolation isolation)
{
	switch (isolation) {
	case EMBEDDED_SHARED:
		return "shared";
	case EMBEDDED_DEDICATED:
		return "dedicated";
	case EMBEDDED_HYBRID:
		return "hybrid";
	}
	return "?";
}

bool embedded_tenant_id_valid(const char *id)
{
	size_t len;

	if (id == NULL)
		return false;
	len = strlen(id);
	if (len < 3 || len > EMBEDDED_ID_MAX)
		return false;
	if (id[0] < 'a' || id[0] > 'z')
		return false;
	for (size_t i = 1; i < len; i++) {
		char c = id[i];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');

		if (!alnum && !(c == '-' && i + 1 < len))
			return false;
	}
	return true;
}

int embedded_tenant_name(const char *id, char ret_name[EMBEDDED_NAME_MAX + 1])
{
	size_t len;

	if (!embedded_tenant_id_valid(id))
		return -EINVAL;
	len = strlen(id);
	/* Ids never contain '_', so the mapping stays one-to-one. */
	ret_name[0] = 't';
	ret_name[1] = '_';
	for (size_t i = 0; i < len; i++)
		ret_name[2 + i] = id[i] == '-' ? '_' : id[i];
	ret_name[2 + len] = '\0';
	return 0;
}

/* Results go into JSON strings, which must be UTF-8. */
static bool paths_utf8_valid(const unsigned char *s)
{
	while (*s != '\0') {
		size_t n;
		unsigned cp;

		if (*s < 0x80) {
			if (*s < 0x20)
				return false; /* no control characters in a path we report */
			s++;
			continue;
		}
		if ((*s & 0xe0) == 0xc0) {
			n = 1;
			cp = *s & 0x1f;
		} else if ((*s & 0xf0) == 0xe0) {
			n = 2;
			cp = *s & 0x0f;
		} else if ((*s & 0xf8) == 0xf0) {
			n = 3;
			cp = *s & 0x07;
		} else {
			return false;
		}
		for (size_t i = 1; i <= n; i++) {
			if ((s[i] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i] & 0x3f);
		}
		if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		s += n + 1;
	}
	return true;
}

/* True when some '/'-separated component of @path is "..". */
static bool paths_has_dotdot(const char *path)
{
	const char *p = path;

	while (*p != '\0') {
		size_t len = strcspn(p, "/");

		if (len == 2 && p[0] == '.' && p[1] == '.')
			return true;
		p += len;
		p += strspn(p, "/");
	}
	return false;
}

void embedded_plane_clear(struct embedded_plane *plane)
{
	free(plane->dir);
	free(plane->roles_db);
	free(plane->shared_db);
	free(plane->schema_dir);
	free(plane->dedicated_dir);
	memset(plane, 0, sizeof(*plane));
}

int embedded_plane_resolve(const char *state_dir, const char *setting, struct embedded_plane *ret_plane,
			   struct tnd_error *err)
{
	struct embedded_plane plane = { 0 };
	size_t len;

	if (setting == NULL || setting[0] == '\0') {
		tnd_error_set(err, "dataPlane.dir is missing: the embedded data plane needs a directory");
		return -EINVAL;
	}
	/* Refused for absolute paths too: nothing needs "..", and a path that
	 * says where it is without detours is what an operator can audit. */
	if (paths_has_dotdot(setting)) {
		tnd_error_set(err, "dataPlane.dir \"%s\" has a \"..\" component", setting);
		return -EINVAL;
	}
	if (setting[0] == '/') {
		plane.dir = strdup(setting);
	} else {
		if (state_dir == NULL || state_dir[0] != '/') {
			tnd_error_set(err, "dataPlane.dir \"%s\" is relative, but there is no absolute state directory",
				      setting);
			return -EINVAL;
		}
		plane.dir = embedded_printf_dup("%s/%s", state_dir, setting);
	}
	if (plane.dir == NULL)
		return -ENOMEM;
	len = strlen(plane.dir);
	while (len > 1 && plane.dir[len - 1] == '/')
		plane.dir[--len] = '\0';
	if (strcmp(plane.dir, "/") == 0) {
		tnd_error_set(err, "dataPlane.dir must not be the root directory");
		embedded_plane_clear(&plane);
		return -EINVAL;
	}
	if (len > PATHS_DIR_MAX || !paths_utf8_valid((const unsigned char *)plane.dir)) {
		tnd_error_set(err, "dataPlane.dir is too long or not printable UTF-8");
		embedded_plane_clear(&plane);
		return -EINVAL;
	}
	plane.roles_db = embedded_printf_dup("%s/roles.db", plane.dir);
	plane.shared_db = embedded_printf_dup("%s/shared.db", plane.dir);
	plane.schema_dir = embedded_printf_dup("%s/shared", plane.dir);
	plane.dedicated_dir = embedded_printf_dup("%s/dedicated", plane.dir);
	if (plane.roles_db == NULL || plane.shared_db == NULL || plane.schema_dir == NULL ||
	    plane.dedicated_dir == NULL) {
		embedded_plane_clear(&plane);
		return -ENOMEM;
	}
	*ret_plane = plane;
	return 0;
}

void embedded_tenant_clear(struct embedded_tenant *tenant)
{
	free(tenant->schema_file);
	free(tenant->data_file);
	memset(tenant, 0, sizeof(*tenant));
}

int embedded_tenant_init(const struct embedded_plane *plane, enum embedded_isolation isolation, const char *id,
			 struct embedded_tenant *ret_tenant, struct tnd_error *err)
{
	struct embedded_tenant tenant = { .isolation = isolation };

	if (embedded_tenant_name(id, tenant.name) < 0) {
		/* the id is hostile or broken: say so without echoing it whole */
		tnd_error_set(err, "tenantId is not a tenant id (^[a-z][a-z0-9-]{1,38}[a-z0-9]$)");
		return -EINVAL;
	}
	memcpy(tenant.id, id, strlen(id) + 1);
	if (embedded_has_schema(isolation)) {
		tenant.schema_file = embedded_printf_dup("%s/%s.db", plane->schema_dir, tenant.name);
		if (tenant.schema_file == NULL)
			return -ENOMEM;
	}
	if (embedded_has_data(isolation)) {
		tenant.data_file = embedded_printf_dup("%s/%s.db", plane->dedicated_dir, tenant.name);
		if (tenant.data_file == NULL) {
			embedded_tenant_clear(&tenant);
			return -ENOMEM;
		}
	}
	*ret_tenant = tenant;
	return 0;
}
