/*
 * orchestrator_internal.h — what orchestrator.c (scheduling, dispatch) and
 * orchestrator_checkpoint.c (turning results into checkpoints) share.
 */
#ifndef TND_ORCHESTRATOR_INTERNAL_H
#define TND_ORCHESTRATOR_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "orchestrator.h"

#define ORCH_COMMITTERS 8

/* One task handed to the pool: a workflow step, or an observe for the controller.
 * It stays on the in-flight list until its result is committed (and is on
 * the results queue meanwhile); until then its tenant gets no other task. */
struct orch_job {
	struct orch_job *next;          /* in the in-flight list until its checkpoint is committed */
	struct orch_job *queue_next;    /* in the results queue */
	char task_id[96];
	char workflow_id[40];    /* "" for observe tasks */
	char tenant_id[48];
	char op[16];
	int64_t step;
	int64_t since_ms;
	orchestrator_observed_fn *observed;
	void *observed_userdata;
	/* filled when the result arrives */
	int rc;
	json_t *result;
	char *error;
	char worker[64];
	double duration_ms;
};

struct orchestrator {
	struct registry *reg;
	struct worker_pool *pool;
	pthread_mutex_t lock;
	pthread_cond_t scheduler_cond;
	pthread_cond_t results_cond;
	bool wake;
	bool wake_full;                   /* rescan from the first active workflow */
	bool stopping;
	bool committers_stop;
	struct orch_job *inflight;        /* handed out, no result yet */
	unsigned n_inflight;
	unsigned max_inflight;
	struct orch_job *results_head, *results_tail;
	char scan_cursor[40];             /* where an incremental scan resumes */
	uint64_t checkpoint_gen;          /* bumped as each checkpoint lets its tenant go */
	pthread_t scheduler;
	pthread_t committers[ORCH_COMMITTERS];
	uint64_t task_seq;
	struct orchestrator_stats stats;
};

void orch_job_free(struct orch_job *job);
/** Wake the scheduler for a scan from the first active workflow (a
 *  multi-step workflow advanced: its next step is behind the cursor). */
void orch_wake_full(struct orchestrator *orch);
/** Commit a step's result: checkpoint, tenant status, phase when done.
 *  Returns true when the workflow has a next step to run now. */
bool orch_checkpoint(struct orchestrator *orch, struct orch_job *job);

#endif /* TND_ORCHESTRATOR_INTERNAL_H */
