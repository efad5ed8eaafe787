/*
 * embedded_login.c — log in to the embedded data plane as a tenant, the way
 * a consumer would, for the integration scripts: the password a script read
 * from GET /v1/tenants/{id}/credentials must open the tenant's files through
 * embedded_open_as() (plugins/embedded_common/embedded_access.c), which
 * checks the salted hash in roles.db, the login flag and the write flag.
 *
 *   embedded_login DIR ISOLATION TENANT [SQL...] < password
 *   embedded_login --archived DIR ISOLATION TENANT [SQL...]
 *
 * DIR is the region's data-plane directory, ISOLATION shared, dedicated or
 * hybrid.  The password is the first line of stdin (never an argument: the
 * command line is visible in ps).  --archived opens an archived tenant's
 * files read-only as the operator (embedded_open_archived), no password.
 * Each SQL argument runs in turn; result rows are printed one per line,
 * columns separated by '|'.
 *
 * Exit status: 0 logged in and every statement ran; 3 login refused
 * (-EACCES: no such role, login off, wrong password); 4 a file of the tenant
 * is missing (-ENOENT); 5 a statement failed (SQLite's message on stderr,
 * e.g. "attempt to write a readonly database"); 6 -EPERM (--archived of a
 * tenant that is not archived); 1 anything else; 2 usage.
 */
#include "autoconfig.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "embedded.h"

static int login_print_row(void *userdata, int n, char **values, char **names)
{
	(void)userdata;
	(void)names;
	for (int i = 0; i < n; i++)
		printf("%s%s", i ? "|" : "", values[i] ? values[i] : "");
	putchar('\n');
	return 0;
}

static int login_isolation(const char *word, enum embedded_isolation *ret)
{
	if (strcmp(word, "shared") == 0)
		*ret = EMBEDDED_SHARED;
	else if (strcmp(word, "dedicated") == 0)
		*ret = EMBEDDED_DEDICATED;
	else if (strcmp(word, "hybrid") == 0)
		*ret = EMBEDDED_HYBRID;
	else
		return -EINVAL;
	return 0;
}

int main(int argc, char **argv)
{
	enum embedded_isolation isolation;
	char password[512];
	sqlite3 *db = NULL;
	bool archived = false;
	int first, r, status = 0;

	if (argc > 1 && strcmp(argv[1], "--archived") == 0) {
		archived = true;
		argv++;
		argc--;
	}
	if (argc < 4 || login_isolation(argv[2], &isolation) < 0) {
		fprintf(stderr, "usage: embedded_login [--archived] DIR shared|dedicated|hybrid TENANT [SQL...]\n");
		return 2;
	}
	first = 4;
	if (archived) {
		r = embedded_open_archived(argv[1], isolation, argv[3], &db);
	} else {
		if (fgets(password, sizeof(password), stdin) == NULL) {
			fprintf(stderr, "embedded_login: no password on stdin\n");
			return 2;
		}
		password[strcspn(password, "\r\n")] = '\0';
		r = embedded_open_as(argv[1], isolation, argv[3], password, &db);
		explicit_bzero(password, sizeof(password));
	}
	if (r < 0) {
		fprintf(stderr, "embedded_login: %s: %s\n", argv[3], strerror(-r));
		switch (r) {
		case -EACCES: return 3;
		case -ENOENT: return 4;
		case -EPERM: return 6;
		default: return 1;
		}
	}
	for (int i = first; i < argc && status == 0; i++) {
		char *message = NULL;

		if (sqlite3_exec(db, argv[i], login_print_row, NULL, &message) != SQLITE_OK) {
			fprintf(stderr, "embedded_login: %s: %s\n", argv[i], message ? message : "failed");
			status = 5;
		}
		sqlite3_free(message);
	}
	sqlite3_close(db);
	return status;
}
