/*
 * tenancyctl.c — the operator CLI's entry point: the command line (global
 * and per-command options, help), endpoint and token resolution, and
 * dispatch to the commands in cli_commands.c, cli_cmd_apply.c,
 * cli_cmd_workflows.c, cli_cmd_tokens.c and cli_cmd_webhooks.c.
 *
 * Exit codes: 0 success, 1 failure (HTTP error, no connection, invalid
 * input, a --wait that failed or timed out), 2 usage (unknown command or
 * option, missing argument).
 */
#include "autoconfig.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_commands.h"
#include "cli_config.h"
#include "cli_http.h"
#include "cli_wait.h"
#include "util.h"

#define EXIT_USAGE 2
#define CTL_MAX_LABELS 8
#define CTL_MAX_FILES 64

enum ctl_command {
	CMD_NONE,
	CMD_APPLY,
	CMD_GET,
	CMD_LIST,
	CMD_HISTORY,
	CMD_SUSPEND,
	CMD_RESUME,
	CMD_ARCHIVE,
	CMD_DELETE,
	CMD_PLANS,
	CMD_REGIONS,
	CMD_WORKFLOWS,
	CMD_WORKFLOW,
	CMD_RETRY,
	CMD_CREDENTIALS,
	CMD_AUDIT,
	CMD_TOKENS,
	CMD_BREAKGLASS,
	CMD_EVENTS,
	CMD_QUOTAS,
	CMD_WEBHOOKS,
	CMD_DELIVERIES,
};

/* Options that only some commands take. */
enum {
	OPT_FILE = 1u << 0,
	OPT_FILTER = 1u << 1,   /* --isolation --region --plan --label */
	OPT_PAGE = 1u << 2,     /* --state --limit --all */
	OPT_WRITE = 1u << 3,    /* --if-match --idempotency-key */
	OPT_TENANT = 1u << 4,   /* --tenant */
	OPT_WAIT = 1u << 5,     /* --wait[=SECONDS] */
	OPT_AUDIT = 1u << 6,    /* --actor --action --outcome --after --until --from */
	OPT_ACCESS = 1u << 7,   /* --name --role --ttl --reason */
	OPT_EVENTS = 1u << 8,   /* --type --follow */
	OPT_AFTER = 1u << 9,    /* --after: a time (audit) or a sequence (events) */
	OPT_HISTORY = 1u << 10, /* --history */
	OPT_DELIVERY = 1u << 11, /* --subscription */
};

/* What a command's ID argument names. */
enum ctl_id_kind {
	ID_NONE,
	ID_TENANT,
	ID_WORKFLOW,
	ID_SUBCOMMAND,  /* a subcommand, then maybe an ID (ctl_subcommands) */
};

static const struct ctl_command_def {
	const char *name;
	enum ctl_command command;
	unsigned options;
	enum ctl_id_kind id;
	const char *synopsis;
	const char *help;
} ctl_commands[] = {
	{ "apply", CMD_APPLY, OPT_FILE | OPT_WRITE | OPT_WAIT, ID_NONE, "apply -f FILE|- [-f FILE]... [--wait[=SECONDS]]",
	  "Apply every manifest in each FILE (a YAML stream of documents, or one JSON\n"
	  "document; - reads stdin).  Each document is sent as written to PUT\n"
	  "/v1/tenants/<metadata.id>.  Nothing is sent if a file cannot be read or\n"
	  "parsed; a document that fails does not stop the others.  Prints\n"
	  "  tenant/<id> created|configured|unchanged (version N)\n"
	  "With --idempotency-key KEY and several documents, document N uses KEY#N.\n"
	  "  --wait[=SECONDS]  then wait until every applied tenant is settled (its\n"
	  "                    phase is the desired state at that version; default\n"
	  "                    60 s): prints tenant/<id> <state> (version N); a\n"
	  "                    failed reconcile or the timeout exits 1\n" },
	{ "get", CMD_GET, 0, ID_TENANT, "get ID",
	  "Show one tenant: id, display name, phase, desired state, version and\n"
	  "observed version, plan, isolation, region, residency, labels, creation and\n"
	  "update times, and its conditions (type, reason, message, workflow).\n" },
	{ "list", CMD_LIST, OPT_FILTER | OPT_PAGE, ID_NONE,
	  "list [--state S] [--isolation I] [--region R] [--plan P] [--label K=V]... [--limit N] [--all]",
	  "List tenants, ordered by id: ID PHASE PLAN ISOLATION REGION VERSION AGE.\n"
	  "  --state S        draft, active, suspended, archived or deleted\n"
	  "  --isolation I    shared, dedicated or hybrid\n"
	  "  --region R       placed in region R\n"
	  "  --plan P         on plan P\n"
	  "  --label K=V      with label K=V (repeatable, all must match, at most 8)\n"
	  "  --limit N        page size, 1 to 1000 (server default 100)\n"
	  "  --all            follow the cursor through every page\n" },
	{ "history", CMD_HISTORY, 0, ID_TENANT, "history ID",
	  "Show every version of a tenant (VERSION TIME ACTOR REQUEST-ID), then its\n"
	  "phase transitions (SEQ FROM TO VERSION TIME ACTOR REASON).\n" },
	{ "quotas", CMD_QUOTAS, OPT_HISTORY, ID_TENANT, "quotas ID [--history]",
	  "Show a tenant's effective quotas (plan defaults, overlaid by its manifest\n"
	  "and active overrides) beside its plan's defaults, maxima and override\n"
	  "ceilings, and the plan's compute budget if it has one.\n"
	  "  --history        also every recorded change of the effective quotas:\n"
	  "                   SEQ VERSION TIME SOURCE ACTOR CU GB EPM OPS\n" },
	{ "suspend", CMD_SUSPEND, OPT_WRITE | OPT_WAIT, ID_TENANT, "suspend ID [--wait[=SECONDS]]",
	  "Suspend an Active tenant.  --wait: then wait until it is Suspended.\n" },
	{ "resume", CMD_RESUME, OPT_WRITE | OPT_WAIT, ID_TENANT, "resume ID [--wait[=SECONDS]]",
	  "Resume a Suspended tenant.  --wait: then wait until it is Active.\n" },
	{ "archive", CMD_ARCHIVE, OPT_WRITE | OPT_WAIT, ID_TENANT, "archive ID [--wait[=SECONDS]]",
	  "Archive an Active or Suspended tenant.  --wait: then wait until it is Archived.\n" },
	{ "delete", CMD_DELETE, OPT_WRITE | OPT_WAIT, ID_TENANT, "delete ID [--wait[=SECONDS]]",
	  "Delete a Draft or Archived tenant.  The id stays taken for ever.\n"
	  "--wait: then wait until its data-plane resources are gone and it is Deleted.\n" },
	{ "plans", CMD_PLANS, 0, ID_NONE, "plans",
	  "List the plans: CODE ISOLATION DEFAULT RESIDENCY QUOTAS(cu/gb/epm/ops)\n"
	  "(compute units, storage GB, events per minute, concurrent operations).\n" },
	{ "regions", CMD_REGIONS, 0, ID_NONE, "regions", "List the regions: NAME RESIDENCY ENABLED STANDBY CAPACITY.\n" },
	{ "workflows", CMD_WORKFLOWS, OPT_PAGE | OPT_TENANT, ID_NONE,
	  "workflows [--tenant ID] [--state S] [--limit N] [--all]",
	  "List reconcile workflows, oldest first:\n"
	  "ID TENANT KIND VERSION STATE STEP ATTEMPTS AGE (STEP: steps done/steps, and\n"
	  "the op of the step a Pending, Running or Failed workflow is at).\n"
	  "  --tenant ID      of tenant ID only\n"
	  "  --state S        pending, running, succeeded, failed or superseded\n"
	  "  --limit N        page size, 1 to 1000 (server default 100)\n"
	  "  --all            follow the cursor through every page\n" },
	{ "workflow", CMD_WORKFLOW, 0, ID_WORKFLOW, "workflow WORKFLOW-ID",
	  "Show one workflow: kind, target version and state, state, its steps (op,\n"
	  "status, attempts, start, duration, worker, error), its error, the drift it\n"
	  "repairs, and the step running now.\n" },
	{ "retry", CMD_RETRY, OPT_WAIT, ID_WORKFLOW, "retry WORKFLOW-ID [--wait[=SECONDS]]",
	  "Run a Failed workflow again, with fresh attempts (operator or admin).\n"
	  "--wait: then wait until its tenant is settled.\n" },
	{ "credentials", CMD_CREDENTIALS, 0, ID_TENANT, "credentials ID",
	  "Print the tenant's data-plane login (username and password; admin only).\n"
	  "The password is a secret: a warning saying so goes to standard error.\n" },
	{ "audit", CMD_AUDIT, OPT_AUDIT | OPT_AFTER | OPT_TENANT | OPT_PAGE, ID_SUBCOMMAND,
	  "audit verify [--from SEQ | --export FILE --key PEM [--anchor SEQ:HASH]] | list|export [--tenant T] [--actor A] [--action X] [--outcome O] "
	  "[--after TIME] [--until TIME] [--limit N] [--all] | public-key",
	  "The signed, hash-chained audit trail (auditor or admin; docs/audit.md).\n"
	  "  verify           check every record's hash, chain link and signature and the\n"
	  "                   signed chain head; prints OK or the first bad seq (exit 1)\n"
	  "    --from SEQ     start at record SEQ (its prevHash is taken on trust)\n"
	  "    --export FILE --key PEM [--key PEM]... [--anchor SEQ:HASH]\n"
	  "                   offline, no server: check a JSON Lines export (- for stdin)\n"
	  "                   with these public keys; --anchor: a seq and hash kept from an\n"
	  "                   earlier verify or export that the export must still contain\n"
	  "  list             SEQ TIME TENANT ACTION OUTCOME ACTOR STATES, oldest first\n"
	  "  export           every matching record as JSON Lines on stdout (all pages)\n"
	  "    --tenant T --actor A --action X --outcome O   exact filters\n"
	  "    --after TIME --until TIME   RFC 3339 UTC times (or epoch ms): after <= time < until\n"
	  "    --limit N      page size, 1 to 1000; --all: follow the cursor (list)\n"
	  "  public-key       print the signing key (PEM); -o json adds the keys accepted\n"
	  "                   for verification\n" },
	{ "tokens", CMD_TOKENS, OPT_ACCESS | OPT_TENANT | OPT_PAGE, ID_SUBCOMMAND,
	  "tokens create --name NAME --role ROLE [--tenant ID] [--ttl SECONDS] | tokens list [--all] | "
	  "tokens revoke TOKEN-ID",
	  "Manage API tokens kept in the registry (admin; list: auditor too).\n"
	  "  create   make a token; ROLE is admin, operator, auditor, viewer or tenant\n"
	  "           (tenant needs --tenant ID).  --ttl: it expires after SECONDS.\n"
	  "           The secret is printed to stdout ONCE; details go to stderr.\n"
	  "  list     ID NAME ROLE TENANT STATE EXPIRES AGE (--all: revoked and\n"
	  "           expired ones too).  Tokens of the tokens file are not listed.\n"
	  "  revoke   the token stops working at once\n" },
	{ "breakglass", CMD_BREAKGLASS, OPT_ACCESS | OPT_PAGE, ID_SUBCOMMAND,
	  "breakglass request --reason TEXT [--ttl SECONDS] | breakglass list [--state S] | "
	  "breakglass approve|deny GRANT-ID",
	  "Time-limited admin rights that a second admin must approve.\n"
	  "  request  (operator or admin) ask for admin for --ttl SECONDS (default 3600,\n"
	  "           at most 86400) with a reason; the request is pending\n"
	  "  list     ID REQUESTER STATE TTL EXPIRES DECIDED-BY REASON; --state\n"
	  "           pending, approved, expired or denied\n"
	  "  approve  (a different admin) your token acts as admin until it expires\n"
	  "  deny     (admin) refuse a pending request\n" },
	{ "events", CMD_EVENTS, OPT_EVENTS | OPT_AFTER | OPT_TENANT, ID_NONE,
	  "events [--after SEQ] [--tenant ID] [--type T] [--follow]",
	  "Replay the event stream (CloudEvents) in sequence order:\n"
	  "SEQUENCE TIME TYPE TENANT STATE VERSION; with -o json, JSON Lines (one\n"
	  "CloudEvent per line, as the server sent it).\n"
	  "  --after SEQ      only events after sequence SEQ (default 0: all)\n"
	  "  --tenant ID      of tenant ID only\n"
	  "  --type T         of type T only (created or tenancy.tenant.created)\n"
	  "  --follow         then keep printing new events as they commit (long\n"
	  "                   poll; stop with Ctrl-C)\n" },
	{ "webhooks", CMD_WEBHOOKS, OPT_EVENTS | OPT_TENANT, ID_SUBCOMMAND,
	  "webhooks create URL [--type T[,T]...] [--tenant ID] | webhooks list | webhooks delete WEBHOOK-ID",
	  "Webhook subscriptions (docs/webhooks.md; create and delete: admin, list:\n"
	  "auditor and up).\n"
	  "  create   subscribe URL (http:// or https://) to the events; --type: only\n"
	  "           these types (created or tenancy.tenant.created, comma-separated);\n"
	  "           --tenant: only this tenant's events.  The signing secret\n"
	  "           (whsec_...) is printed to stdout ONCE; details go to stderr.\n"
	  "  list     ID STATE URL TYPES TENANT AGE (never the secret)\n"
	  "  delete   no more deliveries; its delivery history stays\n" },
	{ "deliveries", CMD_DELIVERIES, OPT_PAGE | OPT_DELIVERY | OPT_AFTER | OPT_AUDIT, ID_SUBCOMMAND,
	  "deliveries list [--state S] [--subscription ID] [--limit N] [--all] | deliveries requeue DELIVERY-ID | "
	  "deliveries requeue-all [--subscription ID] [--after TIME] [--until TIME]",
	  "Webhook deliveries and the dead-letter list (list: auditor and up;\n"
	  "requeue: operator and up).\n"
	  "  list         ID STATUS ATTEMPTS LAST EVENT-TYPE NEXT ERROR, by event sequence\n"
	  "    --state S  pending, delivered, failed or dead\n"
	  "  requeue      send a dead delivery again, with fresh attempts\n"
	  "  requeue-all  every dead delivery (of --subscription ID; created in\n"
	  "               [--after TIME, --until TIME), RFC 3339 UTC or epoch ms)\n" },
};

/* The subcommands of tokens, breakglass and audit, and whether they take an ID. */
static const struct {
	enum ctl_command command;
	const char *name;
	bool takes_id;
} ctl_subcommands[] = {
	{ CMD_TOKENS, "create", false },     { CMD_TOKENS, "list", false },
	{ CMD_TOKENS, "revoke", true },      { CMD_BREAKGLASS, "request", false },
	{ CMD_BREAKGLASS, "list", false },   { CMD_BREAKGLASS, "approve", true },
	{ CMD_BREAKGLASS, "deny", true },     { CMD_AUDIT, "verify", false },
	{ CMD_AUDIT, "list", false },        { CMD_AUDIT, "export", false },
	{ CMD_AUDIT, "public-key", false },
	{ CMD_WEBHOOKS, "create", true },    { CMD_WEBHOOKS, "list", false },
	{ CMD_WEBHOOKS, "delete", true },    { CMD_DELIVERIES, "list", false },
	{ CMD_DELIVERIES, "requeue", true }, { CMD_DELIVERIES, "requeue-all", false },
};

static const char ctl_global_help[] =
	"Global options:\n"
	"  --url URL               API endpoint (env TENANCYD_URL, config url, default " CLI_DEFAULT_URL ")\n"
	"  --token TOKEN           bearer token (env TENANCYD_TOKEN)\n"
	"  --token-file FILE       read the token from FILE, mode 0600 (env TENANCYD_TOKEN_FILE,\n"
	"                          config token-file)\n"
	"  -o, --output FORMAT     table (default) or json: the server's JSON, pretty-printed\n"
	"      --request-id ID     send X-Request-Id ID (1-128 of A-Z a-z 0-9 . _ : -)\n"
	"      --if-match VERSION  with apply/suspend/resume/archive/delete: only if the tenant\n"
	"                          is at VERSION (or * for any existing tenant)\n"
	"      --idempotency-key KEY  with apply/suspend/resume/archive/delete\n"
	"      --timeout SECONDS   per request (default 30)\n"
	"      --wait[=SECONDS]    with apply/suspend/resume/archive/delete/retry: wait until\n"
	"                          the tenant is settled (default 60 s)\n"
	"  -v, --verbose           show each HTTP exchange on stderr (never the token)\n"
	"  -h, --help              show help (after a command: that command's help)\n"
	"      --version           print the version\n"
	"\n"
	"Config file: $TENANCYCTL_CONFIG or ~/.config/tenancyctl/config, lines\n"
	"'url = URL' and 'token-file = PATH'.  Exit codes: 0 ok, 1 error, 2 usage.\n";

static void ctl_usage(FILE *out)
{
	fputs("Usage: tenancyctl [global options] <command> [args]\n\nCommands:\n", out);
	for (size_t i = 0; i < TND_ARRAY_SIZE(ctl_commands); i++)
		fprintf(out, "  %s\n", ctl_commands[i].synopsis);
	fputc('\n', out);
	fputs(ctl_global_help, out);
}

static void ctl_command_usage(const struct ctl_command_def *def, FILE *out)
{
	fprintf(out, "Usage: tenancyctl [global options] %s\n\n%s\n%s", def->synopsis, def->help, ctl_global_help);
}

static int ctl_usage_error(const char *fmt, ...) TND_PRINTF(1, 2);
static int ctl_usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("tenancyctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry 'tenancyctl --help'.\n", stderr);
	return EXIT_USAGE;
}

/* --- the command line ------------------------------------------------------------------- */

struct ctl_args {
	const char *url, *token, *token_file, *request_id, *if_match_version, *idempotency_key, *tenant;
	const char *name, *role, *reason;
	long ttl_s;
	const char *event_type;
	const char *subscription;
	long long after;
	bool follow;
	bool after_is_seq;
	enum cli_output_format output;
	long timeout_s, wait_s;
	bool verbose, help, version;
	unsigned given;  /* OPT_* of the options seen */
	const char *files[CTL_MAX_FILES];
	size_t n_files;
	struct cli_list_options list;
	struct cli_audit_options audit;
	const char *labels[CTL_MAX_LABELS];
	const char *positional[8];
	size_t n_positional;
};

static bool ctl_parse_number(const char *text, long min, long max, long *ret)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(text, &end, 10);
	if (*text == '\0' || *end != '\0' || errno || v < min || v > max)
		return false;
	*ret = v;
	return true;
}

static bool ctl_request_id_valid(const char *id)
{
	size_t len = strlen(id);

	if (len == 0 || len > 128)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((id[i] >= 'A' && id[i] <= 'Z') || (id[i] >= 'a' && id[i] <= 'z') || (id[i] >= '0' && id[i] <= '9') ||
		      id[i] == '.' || id[i] == '_' || id[i] == ':' || id[i] == '-'))
			return false;
	return true;
}

static bool ctl_printable(const char *s, size_t max)
{
	size_t len = strlen(s);

	if (len == 0 || len > max)
		return false;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return false;
	return true;
}

/* Parse @argv into @args; 0, or EXIT_USAGE after printing why. */
static int ctl_parse(int argc, char **argv, struct ctl_args *args)
{
	enum {
		O_URL = 256, O_TOKEN, O_TOKEN_FILE, O_REQUEST_ID, O_IF_MATCH, O_IDEMPOTENCY_KEY, O_TIMEOUT,
		O_VERSION, O_STATE, O_ISOLATION, O_REGION, O_PLAN, O_LABEL, O_LIMIT, O_ALL, O_TENANT, O_WAIT,
		O_ACTOR, O_ACTION, O_OUTCOME, O_AFTER, O_UNTIL, O_FROM, O_EXPORT, O_KEY, O_ANCHOR,
		O_NAME, O_ROLE, O_TTL, O_REASON,
		O_TYPE, O_FOLLOW, O_SUBSCRIPTION,
		O_HISTORY,
	};
	static const struct option options[] = {
		{ "url", required_argument, NULL, O_URL },
		{ "token", required_argument, NULL, O_TOKEN },
		{ "token-file", required_argument, NULL, O_TOKEN_FILE },
		{ "output", required_argument, NULL, 'o' },
		{ "request-id", required_argument, NULL, O_REQUEST_ID },
		{ "if-match", required_argument, NULL, O_IF_MATCH },
		{ "idempotency-key", required_argument, NULL, O_IDEMPOTENCY_KEY },
		{ "timeout", required_argument, NULL, O_TIMEOUT },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, O_VERSION },
		{ "filename", required_argument, NULL, 'f' },
		{ "state", required_argument, NULL, O_STATE },
		{ "isolation", required_argument, NULL, O_ISOLATION },
		{ "region", required_argument, NULL, O_REGION },
		{ "plan", required_argument, NULL, O_PLAN },
		{ "label", required_argument, NULL, O_LABEL },
		{ "limit", required_argument, NULL, O_LIMIT },
		{ "all", no_argument, NULL, O_ALL },
		{ "tenant", required_argument, NULL, O_TENANT },
		{ "wait", optional_argument, NULL, O_WAIT },
		{ "actor", required_argument, NULL, O_ACTOR },
		{ "action", required_argument, NULL, O_ACTION },
		{ "outcome", required_argument, NULL, O_OUTCOME },
		{ "after", required_argument, NULL, O_AFTER },
		{ "until", required_argument, NULL, O_UNTIL },
		{ "from", required_argument, NULL, O_FROM },
		{ "export", required_argument, NULL, O_EXPORT },
		{ "key", required_argument, NULL, O_KEY },
		{ "anchor", required_argument, NULL, O_ANCHOR },
		{ "name", required_argument, NULL, O_NAME },
		{ "role", required_argument, NULL, O_ROLE },
		{ "ttl", required_argument, NULL, O_TTL },
		{ "reason", required_argument, NULL, O_REASON },
		{ "type", required_argument, NULL, O_TYPE },
		{ "follow", no_argument, NULL, O_FOLLOW },
		{ "history", no_argument, NULL, O_HISTORY },
		{ "subscription", required_argument, NULL, O_SUBSCRIPTION },
		{ NULL, 0, NULL, 0 },
	};
	long number;
	int c;

	args->timeout_s = 30;
	args->list.labels = args->labels;
	/* options may come before or after the command, as with kubectl */
	while ((c = getopt_long(argc, argv, "o:vhf:", options, NULL)) != -1) {
		switch (c) {
		case O_URL: args->url = optarg; break;
		case O_TOKEN: args->token = optarg; break;
		case O_TOKEN_FILE: args->token_file = optarg; break;
		case 'v': args->verbose = true; break;
		case 'h': args->help = true; break;
		case O_VERSION: args->version = true; break;
		case 'o':
			if (strcmp(optarg, "json") == 0)
				args->output = CLI_OUTPUT_JSON;
			else if (strcmp(optarg, "table") == 0)
				args->output = CLI_OUTPUT_TABLE;
			else
				return ctl_usage_error("-o takes json or table, not '%s'", optarg);
			break;
		case O_REQUEST_ID:
			if (!ctl_request_id_valid(optarg))
				return ctl_usage_error("--request-id takes 1 to 128 of A-Z a-z 0-9 . _ : -");
			args->request_id = optarg;
			break;
		case O_IF_MATCH:
			if (strcmp(optarg, "*") != 0 && !ctl_parse_number(optarg, 1, LONG_MAX, &number))
				return ctl_usage_error("--if-match takes a tenant version (a positive integer) or *");
			args->if_match_version = optarg;
			args->given |= OPT_WRITE;
			break;
		case O_IDEMPOTENCY_KEY:
			if (!ctl_printable(optarg, 255))
				return ctl_usage_error("--idempotency-key takes 1 to 255 printable characters");
			args->idempotency_key = optarg;
			args->given |= OPT_WRITE;
			break;
		case O_TIMEOUT:
			if (!ctl_parse_number(optarg, 1, 86400, &args->timeout_s))
				return ctl_usage_error("--timeout takes a number of seconds from 1 to 86400");
			break;
		case 'f':
			if (args->n_files == CTL_MAX_FILES)
				return ctl_usage_error("at most %d -f options", CTL_MAX_FILES);
			args->files[args->n_files++] = optarg;
			args->given |= OPT_FILE;
			break;
		case O_STATE: args->list.state = optarg; args->given |= OPT_PAGE; break;
		case O_ISOLATION: args->list.isolation = optarg; args->given |= OPT_FILTER; break;
		case O_REGION: args->list.region = optarg; args->given |= OPT_FILTER; break;
		case O_PLAN: args->list.plan = optarg; args->given |= OPT_FILTER; break;
		case O_TENANT: args->tenant = optarg; args->given |= OPT_TENANT; break;
		case O_NAME: args->name = optarg; args->given |= OPT_ACCESS; break;
		case O_ROLE: args->role = optarg; args->given |= OPT_ACCESS; break;
		case O_REASON:
			if (!ctl_printable(optarg, 500))
				return ctl_usage_error("--reason takes 1 to 500 printable characters");
			args->reason = optarg;
			args->given |= OPT_ACCESS;
			break;
		case O_TTL:
			if (!ctl_parse_number(optarg, 1, 316224000, &args->ttl_s))
				return ctl_usage_error("--ttl takes a number of seconds from 1 to 316224000");
			args->given |= OPT_ACCESS;
			break;
		case O_WAIT:
			/* optional_argument: only --wait=SECONDS, never --wait SECONDS */
			args->wait_s = CLI_WAIT_DEFAULT_S;
			if (optarg && !ctl_parse_number(optarg, 1, CLI_WAIT_MAX_S, &args->wait_s))
				return ctl_usage_error("--wait takes a number of seconds from 1 to %d (--wait=SECONDS)",
						       CLI_WAIT_MAX_S);
			args->given |= OPT_WAIT;
			break;
		case O_LABEL:
			if (strchr(optarg, '=') == NULL || optarg[0] == '=')
				return ctl_usage_error("--label takes KEY=VALUE, not '%s'", optarg);
			if (args->list.n_labels == CTL_MAX_LABELS)
				return ctl_usage_error("at most %d --label filters", CTL_MAX_LABELS);
			args->labels[args->list.n_labels++] = optarg;
			args->given |= OPT_FILTER;
			break;
		case O_LIMIT:
			if (!ctl_parse_number(optarg, 1, 1000, &number))
				return ctl_usage_error("--limit takes a number from 1 to 1000");
			args->list.limit = (unsigned)number;
			args->given |= OPT_PAGE;
			break;
		case O_ALL: args->list.all = true; args->given |= OPT_PAGE; break;
		case O_ACTOR: args->audit.actor = optarg; args->given |= OPT_AUDIT; break;
		case O_ACTION: args->audit.action = optarg; args->given |= OPT_AUDIT; break;
		case O_OUTCOME: args->audit.outcome = optarg; args->given |= OPT_AUDIT; break;
		case O_AFTER:
			/* audit takes a time, events a sequence: checked per command */
			args->audit.after = optarg;
			args->after_is_seq = ctl_parse_number(optarg, 0, LONG_MAX, &number);
			args->after = args->after_is_seq ? number : 0;
			args->given |= OPT_AFTER;
			break;
		case O_UNTIL: args->audit.until = optarg; args->given |= OPT_AUDIT; break;
		case O_FROM:
			if (!ctl_parse_number(optarg, 1, LONG_MAX, &number))
				return ctl_usage_error("--from takes a record seq (a positive integer)");
			args->audit.from = optarg;
			args->given |= OPT_AUDIT;
			break;
		case O_EXPORT: args->audit.export_file = optarg; args->given |= OPT_AUDIT; break;
		case O_KEY:
			if (args->audit.n_keys == TND_ARRAY_SIZE(args->audit.keys))
				return ctl_usage_error("at most %zu --key options", TND_ARRAY_SIZE(args->audit.keys));
			args->audit.keys[args->audit.n_keys++] = optarg;
			args->given |= OPT_AUDIT;
			break;
		case O_ANCHOR:
			if (strchr(optarg, ':') == NULL || strlen(strchr(optarg, ':') + 1) != 64)
				return ctl_usage_error("--anchor takes SEQ:HASH (a record seq and its 64 hex digit hash)");
			args->audit.anchor = optarg;
			args->given |= OPT_AUDIT;
			break;
		case O_TYPE:
			if (!ctl_printable(optarg, 64))
				return ctl_usage_error("--type takes an event type, e.g. created");
			args->event_type = optarg;
			args->given |= OPT_EVENTS;
			break;
		case O_FOLLOW: args->follow = true; args->given |= OPT_EVENTS; break;
		case O_HISTORY: args->given |= OPT_HISTORY; break;
		case O_SUBSCRIPTION:
			if (!ctl_printable(optarg, 128))
				return ctl_usage_error("--subscription takes a webhook subscription id");
			args->subscription = optarg;
			args->given |= OPT_DELIVERY;
			break;
		default:
			/* getopt has said what was wrong */
			fputs("Try 'tenancyctl --help'.\n", stderr);
			return EXIT_USAGE;
		}
	}
	for (int i = optind; i < argc; i++) {
		if (args->n_positional == TND_ARRAY_SIZE(args->positional))
			return ctl_usage_error("too many arguments");
		args->positional[args->n_positional++] = argv[i];
	}
	if (args->token && args->token_file)
		return ctl_usage_error("use either --token or --token-file, not both");
	return 0;
}

static const struct ctl_command_def *ctl_find_command(const char *name)
{
	for (size_t i = 0; i < TND_ARRAY_SIZE(ctl_commands); i++)
		if (strcmp(ctl_commands[i].name, name) == 0)
			return &ctl_commands[i];
	return NULL;
}

/* tokens, breakglass and audit: a known subcommand, its ID if it takes one,
 * and the options it needs; 0 or EXIT_USAGE. */
static int ctl_check_subcommand(const struct ctl_command_def *def, const struct ctl_args *args)
{
	const char *sub = args->n_positional > 1 ? args->positional[1] : NULL;
	bool takes_id = false, known = false;

	for (size_t i = 0; sub && i < TND_ARRAY_SIZE(ctl_subcommands); i++)
		if (ctl_subcommands[i].command == def->command && strcmp(ctl_subcommands[i].name, sub) == 0) {
			known = true;
			takes_id = ctl_subcommands[i].takes_id;
		}
	if (!known)
		return ctl_usage_error("usage: tenancyctl %s", def->synopsis);
	if (takes_id && args->n_positional < 3)
		return ctl_usage_error("%s %s needs an ID", def->name, sub);
	if (args->n_positional > (takes_id ? 3u : 2u))
		return ctl_usage_error("%s %s: unexpected argument '%s'", def->name, sub,
				       args->positional[takes_id ? 3 : 2]);
	if (def->command == CMD_TOKENS && strcmp(sub, "create") == 0 && (args->name == NULL || args->role == NULL))
		return ctl_usage_error("tokens create needs --name NAME and --role ROLE");
	if (def->command == CMD_BREAKGLASS && strcmp(sub, "request") == 0 && args->reason == NULL)
		return ctl_usage_error("breakglass request needs --reason TEXT");
	return 0;
}

/* Options given that @def does not take; 0 or EXIT_USAGE. */
static int ctl_check_options(const struct ctl_command_def *def, const struct ctl_args *args)
{
	unsigned extra = args->given & ~def->options;

	if (extra & OPT_FILE)
		return ctl_usage_error("-f goes with apply, not %s", def->name);
	if (extra & OPT_FILTER)
		return ctl_usage_error("--isolation, --region, --plan and --label go with list, not %s", def->name);
	if (extra & OPT_PAGE)
		return ctl_usage_error("--state, --limit and --all go with list and workflows, not %s", def->name);
	if (extra & OPT_TENANT)
		return ctl_usage_error("--tenant goes with workflows, tokens, audit and events, not %s", def->name);
	if (extra & OPT_ACCESS)
		return ctl_usage_error("--name, --role, --ttl and --reason go with tokens and breakglass, not %s",
				       def->name);
	if (extra & OPT_EVENTS)
		return ctl_usage_error("--type and --follow go with events, not %s", def->name);
	if (extra & OPT_AFTER)
		return ctl_usage_error("--after goes with audit, events and deliveries, not %s", def->name);
	if (extra & OPT_DELIVERY)
		return ctl_usage_error("--subscription goes with deliveries, not %s", def->name);
	if (def->command == CMD_EVENTS && (args->given & OPT_AFTER) && !args->after_is_seq)
		return ctl_usage_error("--after takes a sequence number (0 or more)");
	if (extra & OPT_WRITE)
		return ctl_usage_error("--if-match and --idempotency-key go with apply, suspend, resume, "
				       "archive and delete, not %s", def->name);
	if (extra & OPT_AUDIT)
		return ctl_usage_error("--actor, --action, --outcome, --until, --from, --export, --key and --anchor go with audit, not %s",
				       def->name);
	if (extra & OPT_WAIT)
		return ctl_usage_error("--wait goes with apply, suspend, resume, archive, delete and retry, not %s",
				       def->name);
	if (def->id == ID_SUBCOMMAND)
		return ctl_check_subcommand(def, args);
	if (def->command == CMD_APPLY && args->n_files == 0)
		return ctl_usage_error("apply needs -f FILE (or -f - for stdin)");
	if (def->id == ID_SUBCOMMAND && args->n_positional < 2)
		return ctl_usage_error("%s needs a subcommand: verify, list, export or public-key", def->name);
	if (def->id != ID_NONE && args->n_positional < 2)
		return ctl_usage_error("%s needs a %s ID", def->name, def->id == ID_WORKFLOW ? "workflow" : "tenant");
	if (args->n_positional > (def->id != ID_NONE ? 2u : 1u)) {
		const char *extra_arg = args->positional[def->id != ID_NONE ? 2 : 1];
		long seconds;
		/* "--wait 30": getopt cannot give an optional argument after a space */
		if ((args->given & OPT_WAIT) && ctl_parse_number(extra_arg, 1, CLI_WAIT_MAX_S, &seconds))
			return ctl_usage_error("%s: unexpected argument '%s' (for a wait of %ld s, write --wait=%ld)",
					       def->name, extra_arg, seconds, seconds);
		return ctl_usage_error("%s: unexpected argument '%s'", def->name, extra_arg);
	}
	return 0;
}

/* --- running -------------------------------------------------------------------------------- */

static int ctl_resolve(const struct ctl_args *args, struct cli_endpoint *endpoint)
{
	const char *explicit_config = getenv("TENANCYCTL_CONFIG");
	char *default_config = NULL;
	struct cli_sources src = {
		.flag_url = args->url,
		.flag_token = args->token,
		.flag_token_file = args->token_file,
		.env_url = getenv("TENANCYD_URL"),
		.env_token = getenv("TENANCYD_TOKEN"),
		.env_token_file = getenv("TENANCYD_TOKEN_FILE"),
		.home = getenv("HOME"),
	};
	struct tnd_error err = { "" };
	int r;

	if (explicit_config && explicit_config[0]) {
		src.config_path = explicit_config;
		src.config_path_explicit = true;
	} else {
		default_config = cli_config_default_path(src.home);
		src.config_path = default_config;
	}
	r = cli_endpoint_resolve(&src, endpoint, &err);
	if (r < 0)
		fprintf(stderr, "tenancyctl: %s\n", err.message);
	free(default_config);
	return r;
}

/* tokens and breakglass, checked by ctl_check_subcommand() */
static int ctl_run_access(const struct ctl_command_def *def, const struct ctl_args *args, struct cli_ctx *ctx)
{
	const char *sub = args->positional[1], *id = args->n_positional > 2 ? args->positional[2] : NULL;
	struct cli_token_options token = { args->name, args->role, args->tenant, args->ttl_s };

	if (def->command == CMD_TOKENS) {
		if (strcmp(sub, "create") == 0)
			return cli_cmd_token_create(ctx, &token);
		if (strcmp(sub, "list") == 0)
			return cli_cmd_token_list(ctx, args->list.all);
		return cli_cmd_token_revoke(ctx, id);
	}
	if (strcmp(sub, "request") == 0)
		return cli_cmd_breakglass_request(ctx, args->reason, args->ttl_s);
	if (strcmp(sub, "list") == 0)
		return cli_cmd_breakglass_list(ctx, args->list.state);
	return cli_cmd_breakglass_decide(ctx, id, strcmp(sub, "approve") == 0);
}

/* webhooks and deliveries, checked by ctl_check_subcommand() */
static int ctl_run_webhooks(const struct ctl_command_def *def, const struct ctl_args *args, struct cli_ctx *ctx)
{
	const char *sub = args->positional[1], *id = args->n_positional > 2 ? args->positional[2] : NULL;
	struct cli_delivery_options deliveries = { args->list.state, args->subscription, args->audit.after,
						   args->audit.until, args->list.limit, args->list.all };

	if (def->command == CMD_WEBHOOKS) {
		if (strcmp(sub, "create") == 0)
			return cli_cmd_webhook_create(ctx, id, args->event_type, args->tenant);
		if (strcmp(sub, "list") == 0)
			return cli_cmd_webhook_list(ctx);
		return cli_cmd_webhook_delete(ctx, id);
	}
	if (strcmp(sub, "list") == 0)
		return cli_cmd_delivery_list(ctx, &deliveries);
	if (strcmp(sub, "requeue") == 0)
		return cli_cmd_delivery_requeue(ctx, id);
	return cli_cmd_delivery_requeue_all(ctx, &deliveries);
}

static int ctl_run(const struct ctl_command_def *def, const struct ctl_args *args, struct cli_ctx *ctx)
{
	const char *id = def->id == ID_TENANT || def->id == ID_WORKFLOW ? args->positional[1] : NULL;
	struct cli_workflow_list_options workflows = { args->tenant, args->list.state, args->list.limit, args->list.all };
	/* each --follow request waits on the server, well within --timeout */
	struct cli_event_options events = { args->after, args->tenant, args->event_type, args->follow,
					    args->timeout_s > 10 ? args->timeout_s - 5 : args->timeout_s / 2 };

	switch (def->command) {
	case CMD_APPLY: return cli_cmd_apply(ctx, args->files, args->n_files);
	case CMD_GET: return cli_cmd_get(ctx, id);
	case CMD_LIST: return cli_cmd_list(ctx, &args->list);
	case CMD_HISTORY: return cli_cmd_history(ctx, id);
	case CMD_SUSPEND: return cli_cmd_lifecycle(ctx, CLI_SUSPEND, id);
	case CMD_RESUME: return cli_cmd_lifecycle(ctx, CLI_RESUME, id);
	case CMD_ARCHIVE: return cli_cmd_lifecycle(ctx, CLI_ARCHIVE, id);
	case CMD_DELETE: return cli_cmd_lifecycle(ctx, CLI_DELETE, id);
	case CMD_PLANS: return cli_cmd_plans(ctx);
	case CMD_REGIONS: return cli_cmd_regions(ctx);
	case CMD_WORKFLOWS: return cli_cmd_workflows(ctx, &workflows);
	case CMD_WORKFLOW: return cli_cmd_workflow(ctx, id);
	case CMD_RETRY: return cli_cmd_retry(ctx, id);
	case CMD_CREDENTIALS: return cli_cmd_credentials(ctx, id);
	case CMD_AUDIT: {
		struct cli_audit_options audit = args->audit;
		audit.tenant = args->tenant;
		audit.limit = args->list.limit;
		audit.all = args->list.all;
		return cli_cmd_audit(ctx, args->positional[1], &audit);
	}
	case CMD_TOKENS:
	case CMD_BREAKGLASS: return ctl_run_access(def, args, ctx);
	case CMD_EVENTS: return cli_cmd_events(ctx, &events);
	case CMD_QUOTAS: return cli_cmd_quotas(ctx, id, (args->given & OPT_HISTORY) != 0);
	case CMD_WEBHOOKS:
	case CMD_DELIVERIES: return ctl_run_webhooks(def, args, ctx);
	case CMD_NONE: break;
	}
	return -EINVAL;
}

int main(int argc, char **argv)
{
	struct ctl_args args = { 0 };
	const struct ctl_command_def *def;
	struct cli_endpoint endpoint = { NULL, NULL, NULL, NULL };
	struct cli_http_options http_opts = { 0 };
	struct cli_ctx ctx = { 0 };
	char *if_match = NULL;
	int r;

	r = ctl_parse(argc, argv, &args);
	if (r != 0)
		return r;
	if (args.version) {
		printf("tenancyctl %s\n", PACKAGE_VERSION);
		return 0;
	}
	def = args.n_positional ? ctl_find_command(args.positional[0]) : NULL;
	if (args.help) {
		if (def)
			ctl_command_usage(def, stdout);
		else
			ctl_usage(stdout);
		return 0;
	}
	if (args.n_positional == 0) {
		ctl_usage(stderr);
		return EXIT_USAGE;
	}
	if (def == NULL)
		return ctl_usage_error("unknown command '%s'", args.positional[0]);
	r = ctl_check_options(def, &args);
	if (r != 0)
		return r;

	/* offline verification of an export talks to no server */
	if (def->command == CMD_AUDIT && args.audit.export_file) {
		if (strcmp(args.positional[1], "verify") != 0 || args.audit.n_keys == 0)
			return ctl_usage_error("--export goes with audit verify and needs --key PUBLIC-KEY-FILE");
		ctx.output = args.output;
		ctx.out = stdout;
		ctx.err = stderr;
		r = cli_cmd_audit(&ctx, "verify", &args.audit);
		if (fflush(stdout) != 0 || ferror(stdout))
			return EXIT_FAILURE;
		return r == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
	}
	if (ctl_resolve(&args, &endpoint) < 0)
		return EXIT_FAILURE;
	if (args.verbose) {
		fprintf(stderr, "* URL %s (from %s)\n", endpoint.url, endpoint.url_source);
		fprintf(stderr, "* token %s%s\n", endpoint.token ? "from " : "none configured",
			endpoint.token ? endpoint.token_source : "");
	}
	http_opts.base_url = endpoint.url;
	http_opts.token = endpoint.token;
	http_opts.timeout_s = args.timeout_s;
	http_opts.request_id = args.request_id;
	http_opts.verbose = args.verbose ? stderr : NULL;
	ctx.http = cli_http_new(&http_opts);
	if (ctx.http == NULL) {
		fprintf(stderr, "tenancyctl: cannot initialize libcurl\n");
		cli_endpoint_clear(&endpoint);
		return EXIT_FAILURE;
	}
	if (args.if_match_version)
		if_match = strcmp(args.if_match_version, "*") == 0 ? tnd_xstrdup("*")
								    : tnd_xasprintf("\"%s\"", args.if_match_version);
	ctx.output = args.output;
	ctx.if_match = if_match;
	ctx.idempotency_key = args.idempotency_key;
	ctx.have_token = endpoint.token != NULL;
	ctx.out = stdout;
	ctx.err = stderr;
	ctx.now_ms = tnd_now_ms();
	ctx.wait_s = args.wait_s;

	r = ctl_run(def, &args, &ctx);

	cli_http_free(ctx.http);
	cli_endpoint_clear(&endpoint);
	free(if_match);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "tenancyctl: cannot write the output: %s\n", strerror(errno));
		return EXIT_FAILURE;
	}
	return r == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
