/*
 * embedded_files.c — the files of the embedded data plane: creating the
 * directories 0700, creating a tenant's database file atomically and 0600,
 * changing its mode (0400 on archive), removing it with its journals, and
 * inspecting it for observe.  Several workers may do this at once for
 * different tenants (and, after a lease expiry, for the same one), so
 * every step tolerates a concurrent creator or remover.
 */
#include "autoconfig.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "embedded.h"

/* "TNDE" in PRAGMA application_id marks a file as an embedded tenant database. */
#define FILES_APPLICATION_ID 0x544e4445

/* Make a rename or unlink in @dir durable. */
static void files_sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return;
	(void)fsync(fd);
	close(fd);
}

static char *files_parent(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (slash == NULL)
		return strdup(".");
	if (slash == path)
		return strdup("/");
	return strndup(path, (size_t)(slash - path));
}

void embedded_file_inspect(const char *path, struct embedded_file_state *ret_state)
{
	struct stat st;

	memset(ret_state, 0, sizeof(*ret_state));
	if (lstat(path, &st) < 0)
		return;
	ret_state->exists = true;
	ret_state->regular = S_ISREG(st.st_mode);
	ret_state->owned = st.st_uid == geteuid();
	ret_state->mode = st.st_mode & 07777;
}

/* mkdir -p: missing components are created 0700. */
static int files_mkdir_parents(const char *path, struct tnd_error *err)
{
	char *copy = strdup(path);
	int r = 0;

	if (copy == NULL)
		return -ENOMEM;
	for (char *p = copy + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char saved = *p;

		*p = '\0';
		if (mkdir(copy, 0700) < 0 && errno != EEXIST) {
			r = -errno;
			tnd_error_set(err, "cannot create directory %s: %s", copy, strerror(errno));
			break;
		}
		*p = saved;
		if (saved == '\0')
			break;
	}
	free(copy);
	return r;
}

int embedded_dir_prepare(const char *path, bool *ret_changed, struct tnd_error *err)
{
	struct stat st;
	bool changed = false;
	int r;

	if (stat(path, &st) < 0) {
		if (errno != ENOENT) {
			tnd_error_set(err, "cannot stat %s: %s", path, strerror(errno));
			return -errno;
		}
		r = files_mkdir_parents(path, err);
		if (r < 0)
			return r;
		if (stat(path, &st) < 0) {
			tnd_error_set(err, "cannot stat %s: %s", path, strerror(errno));
			return -errno;
		}
	}
	if (!S_ISDIR(st.st_mode)) {
		tnd_error_set(err, "%s is not a directory", path);
		return -ENOTDIR;
	}
	/* Tenants' files live here: a directory someone else owns could have
	 * been prepared to leak them. */
	if (st.st_uid != geteuid()) {
		tnd_error_set(err, "%s is owned by uid %u, not by the daemon's user (uid %u)", path,
			      (unsigned)st.st_uid, (unsigned)geteuid());
		return -EPERM;
	}
	if ((st.st_mode & 07777) != 0700) {
		if (chmod(path, 0700) < 0) {
			tnd_error_set(err, "cannot chmod 0700 %s: %s", path, strerror(errno));
			return -errno;
		}
		changed = true;
	}
	if (ret_changed != NULL)
		*ret_changed = changed;
	return 0;
}

/* Write an empty database with our application id into the fresh @tmp. */
static int files_db_init(const char *tmp, struct tnd_error *err)
{
	char sql[64];
	sqlite3 *db = NULL;
	int rc;

	rc = sqlite3_open_v2(tmp, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW, NULL);
	if (rc == SQLITE_OK) {
		snprintf(sql, sizeof(sql), "PRAGMA application_id = %d", FILES_APPLICATION_ID);
		/* the file is private until link() publishes it, and a crash leaves
		 * only a temporary file to sweep: no rollback journal to create,
		 * sync and delete (that churn cost more than the write itself) */
		rc = sqlite3_exec(db, "PRAGMA journal_mode = OFF", NULL, NULL, NULL);
		if (rc == SQLITE_OK)
			rc = sqlite3_exec(db, "PRAGMA synchronous = FULL", NULL, NULL, NULL);
		if (rc == SQLITE_OK)
			rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
	}
	if (rc != SQLITE_OK) {
		int r = embedded_sqlite_fail(err, db, rc, "cannot initialize a tenant database");

		sqlite3_close(db);
		return r;
	}
	rc = sqlite3_close(db);
	return rc == SQLITE_OK ? 0 : embedded_sqlite_fail(err, NULL, rc, "cannot close a new tenant database");
}

/*
 * Temporary files of @base in @dir that nobody is making any more: a
 * creator holds flock() on its temporary file until it is gone, and the
 * kernel lets go of that lock when the creator dies, so a temporary file we
 * can lock is a crash's leftover (a live creator's is skipped).  Its
 * journal (-journal, -wal, -shm) is a leftover once the file is gone, hence
 * two passes: the files, then the journals.  Best effort: what cannot be
 * removed now is left for the next provision or for destroy.
 */
static void files_sweep_temporaries(const char *dir, const char *base)
{
	size_t base_len = strlen(base);

	for (int pass = 0; pass < 2; pass++) {
		struct dirent *entry;
		DIR *d = opendir(dir);

		if (d == NULL)
			return;
		while ((entry = readdir(d)) != NULL) {
			const char *name = entry->d_name;
			const char *suffix = strchr(name + (strlen(name) > base_len + 5 ? base_len + 5 : 0), '-');
			char *path, *file;
			struct stat st;
			int fd;

			if (strncmp(name, base, base_len) != 0 || strncmp(name + base_len, ".tmp-", 5) != 0 ||
			    (pass == 0) != (suffix == NULL))
				continue;
			path = embedded_printf_dup("%s/%s", dir, name);
			if (path == NULL)
				break;
			if (pass == 0) {
				fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
				if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0)
					(void)unlink(path);
				if (fd >= 0)
					close(fd);
			} else {
				file = embedded_printf_dup("%s/%.*s", dir, (int)(suffix - name), name);
				if (file != NULL && lstat(file, &st) < 0 && errno == ENOENT)
					(void)unlink(path);
				free(file);
			}
			free(path);
		}
		closedir(d);
	}
}

static void files_sweep_in_parent(const char *path)
{
	char *dir = files_parent(path);
	const char *base = strrchr(path, '/');

	if (dir != NULL)
		files_sweep_temporaries(dir, base ? base + 1 : path);
	free(dir);
}

int embedded_db_file_create(const char *path, const char *tmp_tag, bool *ret_created, struct tnd_error *err)
{
	struct stat st;
	char *tmp = NULL, *dir = NULL;
	bool created = false;
	int fd, r = 0;

	if (lstat(path, &st) == 0) {
		if (!S_ISREG(st.st_mode)) {
			tnd_error_set(err, "%s exists and is not a regular file", path);
			return -EEXIST;
		}
		files_sweep_in_parent(path);
		*ret_created = false;
		return 0;
	}
	if (errno != ENOENT) {
		tnd_error_set(err, "cannot stat %s: %s", path, strerror(errno));
		return -errno;
	}
	tmp = embedded_printf_dup("%s.tmp-%s", path, tmp_tag);
	dir = files_parent(path);
	if (tmp == NULL || dir == NULL) {
		r = -ENOMEM;
		goto out;
	}
	/* SQLite would create the file 0644 minus the umask and give its
	 * journal the same mode: create it 0600 first. */
	fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		r = -errno;
		tnd_error_set(err, "cannot create %s: %s", tmp, strerror(errno));
		goto out;
	}
	/* held until the temporary file is gone: tells a sweeper we are alive */
	(void)flock(fd, LOCK_EX);
	if (fchmod(fd, 0600) < 0) {
		r = -errno;
		tnd_error_set(err, "cannot chmod %s: %s", tmp, strerror(errno));
		goto out_unlink;
	}
	r = files_db_init(tmp, err);
	if (r < 0)
		goto out_unlink;
	/* link(), unlike rename(), never replaces: if another worker created
	 * the file meanwhile, its file (and any data in it) stays. */
	if (link(tmp, path) == 0) {
		created = true;
	} else if (errno != EEXIST) {
		r = -errno;
		tnd_error_set(err, "cannot link %s into place: %s", path, strerror(errno));
	}
out_unlink:
	(void)unlink(tmp);
	close(fd);
	if (r == 0) {
		files_sweep_temporaries(dir, strrchr(path, '/') ? strrchr(path, '/') + 1 : path);
		files_sync_dir(dir);
		*ret_created = created;
	}
out:
	free(tmp);
	free(dir);
	return r;
}

int embedded_file_chmod(const char *path, mode_t mode, bool *ret_changed, struct tnd_error *err)
{
	struct stat st;

	/* The directory is 0700 and ours, so nobody can swap the file between
	 * this lstat and the chmod. */
	if (lstat(path, &st) < 0) {
		tnd_error_set(err, "cannot stat %s: %s", path, strerror(errno));
		return -errno;
	}
	if (!S_ISREG(st.st_mode)) {
		tnd_error_set(err, "%s is not a regular file", path);
		return -EPERM;
	}
	if (st.st_uid != geteuid()) {
		tnd_error_set(err, "%s is owned by uid %u, not by the daemon's user", path, (unsigned)st.st_uid);
		return -EPERM;
	}
	if ((st.st_mode & 07777) == mode) {
		*ret_changed = false;
		return 0;
	}
	if (chmod(path, mode) < 0) {
		tnd_error_set(err, "cannot chmod %04o %s: %s", (unsigned)mode, path, strerror(errno));
		return -errno;
	}
	*ret_changed = true;
	return 0;
}

static int files_unlink(const char *path, unsigned *removed, struct tnd_error *err)
{
	if (unlink(path) == 0) {
		(*removed)++;
		return 0;
	}
	if (errno == ENOENT)
		return 0;
	tnd_error_set(err, "cannot remove %s: %s", path, strerror(errno));
	return -errno;
}

/* Temporary files a crashed embedded_db_file_create() left behind. */
static int files_remove_temporaries(const char *dir, const char *base, unsigned *removed, struct tnd_error *err)
{
	size_t base_len = strlen(base);
	struct dirent *entry;
	DIR *d = opendir(dir);
	int r = 0;

	if (d == NULL)
		return errno == ENOENT ? 0 : -errno;
	while (r == 0 && (entry = readdir(d)) != NULL) {
		char *path;

		if (strncmp(entry->d_name, base, base_len) != 0 || strncmp(entry->d_name + base_len, ".tmp-", 5) != 0)
			continue;
		path = embedded_printf_dup("%s/%s", dir, entry->d_name);
		if (path == NULL) {
			r = -ENOMEM;
			break;
		}
		r = files_unlink(path, removed, err);
		free(path);
	}
	closedir(d);
	return r;
}

int embedded_db_file_remove(const char *path, unsigned *ret_removed, struct tnd_error *err)
{
	static const char *const suffixes[] = { "", "-journal", "-wal", "-shm" };
	char *dir = files_parent(path);
	const char *base = strrchr(path, '/');
	unsigned removed = 0;
	int r = 0;

	if (dir == NULL)
		return -ENOMEM;
	base = base != NULL ? base + 1 : path;
	for (size_t i = 0; r == 0 && i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		char *p = embedded_printf_dup("%s%s", path, suffixes[i]);

		if (p == NULL) {
			r = -ENOMEM;
			break;
		}
		r = files_unlink(p, &removed, err);
		free(p);
	}
	if (r == 0)
		r = files_remove_temporaries(dir, base, &removed, err);
	if (removed > 0)
		files_sync_dir(dir);
	free(dir);
	if (r == 0 && ret_removed != NULL)
		*ret_removed = removed;
	return r;
}
