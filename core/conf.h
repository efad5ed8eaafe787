/*
 * conf.h — tenancyd.conf (libconfig): loading, checking and the snapshot in
 * force.
 *
 * conf_load() reads and validates a whole file into an immutable snapshot:
 * types, ranges, unknown keys (rejected), references between sections
 * (plans → residency zones, regions → standby regions) and referenced files
 * (tokens file present and safely owned).  Errors name "file:line: cause".
 *
 * The running daemon keeps one snapshot "current"; SIGHUP builds a new one
 * and swaps it in only if it loaded cleanly.  Readers take a reference
 * (conf_current_get1) for the duration of a request, so a swap never pulls
 * a snapshot out from under them.
 */
#ifndef TND_CONF_H
#define TND_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include <tenancyd/plugin.h>

struct tnd_tokens;

/** Isolation modes as bits, so a plan can allow several. */
enum tnd_isolation {
	TND_ISOLATION_SHARED = 1u << 0,
	TND_ISOLATION_DEDICATED = 1u << 1,
	TND_ISOLATION_HYBRID = 1u << 2,
};
/** "shared" | "dedicated" | "hybrid" → bit, or 0 if unknown. */
unsigned isolation_parse(const char *name);
/** bit → "shared" | "dedicated" | "hybrid", or NULL. */
const char *isolation_name(unsigned bit);

struct tnd_quotas {
	int64_t compute_units;
	int64_t storage_gb;
	int64_t events_per_minute;
	int64_t concurrent_operations;
};

/** Requests per window, per tenant (read: GET/HEAD; write: the other
 *  methods) or per API token; 0: unlimited. */
struct tnd_rate_limits {
	uint32_t window_s;           /* 1..86400 */
	uint32_t read;
	uint32_t write;
	uint32_t token;              /* api section only */
};

struct tnd_plan_conf {
	char *code;                  /* [a-z][a-z0-9_-]{0,31} */
	char *description;           /* may be NULL */
	unsigned isolation_modes;    /* allowed enum tnd_isolation bits, at least one */
	unsigned default_isolation;  /* one bit, within isolation_modes */
	char *default_residency;     /* a residency zone some region belongs to */
	struct tnd_quotas quotas;    /* what a tenant of this plan gets by default */
	struct tnd_quotas max_quotas;/* the most a manifest override may ask for */
	struct tnd_quotas ceiling_quotas; /* the most an administrative override may grant (>= max_quotas) */
	int64_t max_total_compute_units;  /* shared budget of all non-deleted tenants of the plan; 0: none */
	struct tnd_rate_limits rate_limits; /* api.rate_limits, overridden by the plan's `rate_limits` */
};

struct tnd_region_conf {
	char *name;          /* e.g. "eu-west-1" */
	char *residency;     /* residency zone, e.g. "eu" */
	bool enabled;
	char *standby;       /* another region's name, or NULL */
	int64_t capacity;    /* most tenants placed here; 0 = unlimited */
	json_t *data_plane;  /* the region's `data_plane` group as a JSON object ({} if absent) */
	/* the isolation plugin serving each mode here (`isolation` group: shared =
	 * "...", dedicated = "...", hybrid = "..."), names from plugins.isolation;
	 * NULL: the region does not offer that mode */
	char *shared_plugin;
	char *dedicated_plugin;
	char *hybrid_plugin;
};

/** One plugin instance named in the `plugins` section. */
struct tnd_plugin_conf {
	char *name;          /* the plugin's name; also its file's base name */
	char *file;          /* explicit path to the .so, or NULL: <plugins.dir>/<name>.so */
	json_t *settings;    /* the `settings` group as a JSON object ({} if absent) */
	int line;            /* where it was configured, for messages */
};

struct tnd_conf {
	char *path;          /* the file this snapshot came from (absolute) */

	struct {
		char *state_dir;     /* absolute */
		char *pid_file;      /* NULL: none */
		char *log_file;      /* NULL or "-": stderr */
		int log_level;       /* TND_LOG_* */
		char *user;          /* drop privileges to this user, NULL: stay */
		int workers;         /* worker processes (reconcile issue) */
		char *instance;      /* events' source tenancyd://<instance>; default the host name */
	} daemon;

	struct {
		char *listen;            /* "host:port" as written */
		char *host;              /* numeric address to bind */
		uint16_t port;           /* 0: any free port (tests) */
		char *tokens_file;       /* absolute */
		size_t max_body_bytes;
		unsigned max_depth;
		unsigned max_connections;
		unsigned connection_timeout_s;
		unsigned drain_timeout_s;
		int64_t idempotency_ttl_s;
		/* `rate_limits` group: defaults for tenants whose plan sets none, and
		 * for unknown tenants; the table's size (read at start only) */
		struct tnd_rate_limits rate_limits;
		size_t rate_limit_max_buckets;
		unsigned rate_limit_shards;
		uint32_t rate_limit_plan_ttl_s;
	} api;

	struct {
		char *dir;                   /* where <name>.so files live */
		bool allow_unsafe_permissions; /* development only */
		struct tnd_plugin_conf storage;
		struct tnd_plugin_conf *isolation;
		size_t n_isolation;
		struct tnd_plugin_conf *policy;  /* NULL: none configured (everything is allowed) */
		int64_t policy_timeout_ms;       /* an answer later than this fails closed; default 500 */
		struct tnd_plugin_conf *notifiers;
		size_t n_notifiers;
	} plugins;

	/* `reconcile` section: the controller and orchestrator */
	struct {
		int64_t resync_interval_s;      /* full resync (drift detection) period, default 60 */
		int64_t retry_base_ms;          /* backoff base, default 500 */
		int64_t retry_cap_ms;           /* backoff cap, default 60000 */
		int max_attempts;               /* attempts per step before Failed, default 8 */
		int64_t step_timeout_s;         /* task lease: re-dispatch after this, default 120 */
		int64_t archive_retention_days; /* data of Archived tenants kept this long, default 30 */
		char *credentials_key_file;     /* 32-byte AES key (base64 or hex), mode 0600; absolute */
	} reconcile;

	/* `workers` section: how worker processes reach the core */
	struct {
		char *endpoint;                 /* default "ipc://<state_dir>/workers.sock" */
		char *command;                  /* tenancyd-worker to spawn; NULL: the built-in default */
		int64_t heartbeat_interval_ms;  /* default 1000 */
		int64_t heartbeat_timeout_ms;   /* peer considered gone after this, default 5000 */
		char *curve_secret_key_file;    /* tcp:// endpoints: the core's CURVE secret key (Z85, 0600) */
		char *authorized_keys_file;     /* tcp:// endpoints: worker public keys allowed (Z85 per line) */
	} workers;

	/* `audit` section (conf_audit.c) */
	struct {
		bool disabled;                  /* audit.enabled = false: no trail at all */
		char *signing_key_file;         /* Ed25519 PEM, mode 0600; absolute; default <state_dir>/audit.key */
		bool signing_key_generate;      /* the default path: created at start when missing */
		char **verify_keys;             /* earlier public keys (PEM), absolute */
		size_t n_verify_keys;
	} audit;

	/* `webhooks` section (conf_webhooks.c): the dispatcher */
	struct {
		int64_t retry_base_ms;          /* first backoff ceiling, default 1000 */
		int64_t retry_cap_ms;           /* largest backoff ceiling, default 3600000 */
		int64_t max_attempts;           /* then dead, default 10 */
		int workers;                    /* attempts in flight, default 4 */
		int per_subscription;           /* of which for one subscription, default 2 */
		int64_t poll_interval_ms;       /* due retries looked for this often, default 200 */
	} webhooks;

	struct tnd_region_conf *regions;
	size_t n_regions;
	struct tnd_plan_conf *plans;
	size_t n_plans;

	struct tnd_tokens *tokens;   /* loaded from api.tokens_file */
};

/**
 * Load and validate @path.  On success *@ret_conf holds a new snapshot with
 * one reference.  On failure @err reads "<file>:<line>: <cause>" (line
 * omitted when the problem has no line, e.g. a missing file).
 * Relative paths inside the file are resolved against the file's directory.
 */
int conf_load(const char *path, struct tnd_conf **ret_conf, struct tnd_error *err);
struct tnd_conf *conf_ref(struct tnd_conf *conf);
/** Drop a reference; the last one frees the snapshot.  Accepts NULL. */
void conf_unref(struct tnd_conf *conf);

const struct tnd_plan_conf *conf_plan(const struct tnd_conf *conf, const char *code);
const struct tnd_region_conf *conf_region(const struct tnd_conf *conf, const char *name);
/** True if some region belongs to residency zone @zone. */
bool conf_residency_known(const struct tnd_conf *conf, const char *zone);
/** The isolation plugin serving @mode (an enum tnd_isolation bit) in @region, or NULL. */
const char *conf_region_isolation_plugin(const struct tnd_region_conf *region, unsigned mode);
/** True when the reconcile engine runs: at least one isolation plugin is configured. */
bool conf_reconcile_enabled(const struct tnd_conf *conf);

/** The snapshot in force, with a new reference (caller conf_unref()s). */
struct tnd_conf *conf_current_get1(void);
/** Make @conf current (takes over the caller's reference); drops the old one. */
void conf_current_replace(struct tnd_conf *conf);

#endif /* TND_CONF_H */
