/*
 * quota_usage.h — the compute units each plan's tenants hold, for a plan's
 * shared budget `max_total_compute_units` (tenancyd.conf(5)).
 *
 * A tenant holds the compute units of its plan and manifest (plan default
 * overlaid by spec.quotas.computeUnits) while its desired state is not
 * deleted.  Administrative overrides are not charged to the budget: they
 * are deliberate, time-limited exceptions bounded by ceiling_quotas.
 *
 * Like region capacity (region_usage.h), the sums live in memory: counted
 * from the registry at start (and again after a SIGHUP changed the
 * catalogue), then kept by the tenant service, which reserves units before
 * committing a create or a raise (so that of many concurrent requests for
 * the last units exactly one commits) and settles them after the commit.
 */
#ifndef TENANCYD_QUOTA_USAGE_H
#define TENANCYD_QUOTA_USAGE_H

#include <stdbool.h>
#include <stdint.h>

#include "conf.h"
#include "util.h"

struct registry;

/** Count the registry's tenants' compute units per plan of @conf, replacing
 *  the sums held (reservations are kept) and remembering @conf. */
int quota_usage_load(struct registry *reg, const struct tnd_conf *conf, struct tnd_error *err);
/** Whether the sums were counted under @conf (false after a reload). */
bool quota_usage_loaded_for(const struct tnd_conf *conf);
/** Forget every sum and reservation (tests, daemon stop). */
void quota_usage_reset(void);

/** Units held by tenants of @plan plus reservations in flight. */
int64_t quota_usage_used(const char *plan);
/**
 * Reserve @units of @plan's budget, or false when they do not fit (then
 * *@ret_used tells how many are held).  Always true for a plan without a
 * budget.  Settle with quota_usage_settle().
 */
bool quota_usage_reserve(const struct tnd_plan_conf *plan, int64_t units, int64_t *ret_used);
/** A reservation's commit succeeded (@committed: the units are now held) or failed. */
void quota_usage_settle(const char *plan, int64_t units, bool committed);
/** Adjust @plan's sum by hand (a tenant deleted, lowered, or moved away). */
void quota_usage_add(const char *plan, int64_t delta);

#endif /* TENANCYD_QUOTA_USAGE_H */
