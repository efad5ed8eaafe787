/*
 * controller.h — the level-triggered controller: every
 * reconcile.resync_interval seconds (or when kicked) it makes sure every
 * unsettled tenant has a workflow, and asks the data plane (observe) whether
 * settled tenants drifted, starting a repair workflow when they did.
 * Mutations start their own workflows; the controller catches everything
 * else: drift, crashes between layers, tenants from before the data plane
 * was configured.
 */
#ifndef TND_CONTROLLER_H
#define TND_CONTROLLER_H

#include <stdint.h>

#include <tenancyd/plugin.h>

struct controller;
struct orchestrator;
struct registry;

int controller_start(struct registry *reg, struct orchestrator *orch, struct controller **ret,
		     struct tnd_error *err);
/** Resync now rather than at the next interval. */
void controller_kick(struct controller *ctl);
/** Resyncs completed so far (tests). */
uint64_t controller_resyncs(struct controller *ctl);
void controller_stop(struct controller *ctl);

#endif /* TND_CONTROLLER_H */
