/*
 * region_usage.h — how many tenants each region holds, for region capacity.
 *
 * A region's `capacity` in tenancyd.conf caps the tenants placed there
 * whose desired state is not deleted.  The counts live in memory: loaded
 * from the registry at start, then kept by the tenant service, which
 * reserves a slot before committing a create (so that of many concurrent
 * creates for the last slot exactly one commits) and gives it back when a
 * tenant is deleted.  One daemon owns a registry (state lock), so the
 * counts cannot drift behind another writer's back.
 */
#ifndef TENANCYD_REGION_USAGE_H
#define TENANCYD_REGION_USAGE_H

#include <stdbool.h>
#include <stdint.h>

#include "conf.h"
#include "util.h"

struct registry;

/** Count the registry's tenants by region (desired state not deleted),
 *  replacing the counts held.  Reservations are kept. */
int region_usage_load(struct registry *reg, struct tnd_error *err);
/** Forget every count and reservation (tests, daemon stop). */
void region_usage_reset(void);

/** Tenants placed in @region plus reservations in flight. */
int64_t region_usage_count(const char *region);
/** Whether @region has a free slot now (always when its capacity is 0). */
bool region_usage_has_room(const struct tnd_region_conf *region);
/** Take a slot in @region, or false when it is full.  Settle it after the
 *  commit with region_usage_settle(). */
bool region_usage_reserve(const struct tnd_region_conf *region);
/** A reservation's commit succeeded (@committed: the tenant now counts) or
 *  failed (the slot is free again). */
void region_usage_settle(const char *region, bool committed);
/** Adjust @region's count by hand: +1 for a tenant placed without a
 *  reservation, -1 for a tenant deleted. */
void region_usage_add(const char *region, int64_t delta);

#endif /* TENANCYD_REGION_USAGE_H */
