/*
 * cli_render.h — how tenancyctl shows the API's documents to a person: a
 * tenant (fields, status conditions, desired and observed state), the
 * workflow table and one workflow in detail (its steps with attempts,
 * timings, workers and errors).  Pure functions of the JSON the server sent
 * and the current time, so the unit tests render them into memory; text
 * from the server is sanitized (cli_output.h).
 */
#ifndef TND_CLI_RENDER_H
#define TND_CLI_RENDER_H

#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "cli_output.h"

/* Large enough for any cli_json_text() integer. */
#define CLI_TEXT_BUF 32
/* Large enough for any cli_format_duration() result. */
#define CLI_DURATION_MAX 32

/**
 * The member at RFC 6901 @pointer of @doc as text: a string as is, an
 * integer in decimal (written into @buf), a boolean as yes/no; "" when
 * absent, null or of another type.
 */
const char *cli_json_text(const json_t *doc, const char *pointer, char buf[CLI_TEXT_BUF]);
/** cli_json_text() of @pointer, or of @fallback when that is "" (status
 *  (what is) before spec (what is wanted)). */
const char *cli_json_text_either(const json_t *doc, const char *pointer, const char *fallback,
				 char buf[CLI_TEXT_BUF]);

/** A step's duration: "850us", "37.2ms", "1.52s", "2m05s"; "" if negative. */
void cli_format_duration(double ms, char out[CLI_DURATION_MAX]);

/**
 * A tenant as `tenancyctl get` shows it: aligned fields (id, display name,
 * phase, desired state, version, observed version, plan, isolation, region
 * with standby, residency, labels, creation and update with their ages),
 * then its status conditions, one a line:
 *
 *     Conditions:
 *       Reconciling (activate): activate to version 1 (active) [workflow wf-...]
 */
void cli_print_tenant(FILE *out, const json_t *tenant, int64_t now_ms);

/** Headers of the workflow table: ID TENANT KIND VERSION STATE STEP ATTEMPTS AGE. */
struct cli_table *cli_workflow_table_new(void);
/**
 * Add workflow @wf as a row: STEP is "<steps done>/<steps>" and, while the
 * workflow is Pending, Running or Failed, ":<op>" of the step it is at;
 * ATTEMPTS counts the attempts of that step; AGE is since createdAt.
 */
void cli_workflow_table_add(struct cli_table *table, const json_t *wf, int64_t now_ms);

/**
 * One workflow as `tenancyctl workflow ID` shows it: aligned fields (id,
 * tenant, kind, target version and state, state, progress, attempts, next
 * attempt, plugin, region, request id, retried by, creation and update),
 * the error, then a table of its steps (STEP OP STATUS ATTEMPTS STARTED
 * DURATION WORKER ERROR), the drift it repairs, and what is in flight now
 * (the server's "running" overlay), each only when present.
 */
void cli_print_workflow(FILE *out, const json_t *wf, int64_t now_ms);

#endif /* TND_CLI_RENDER_H */
