/*
 * quota_inflight.h — mutating requests in flight per tenant, for the
 * concurrentOperations quota.
 *
 * The orchestrator already runs at most one workflow step per tenant at a
 * time, which is at least as strict as any plan (concurrent_operations is
 * 1 or more), so the quota is enforced where several operations on one
 * tenant can actually overlap: the API's mutating requests (applies,
 * lifecycle actions).  A request enters before it reads the tenant and
 * leaves when it has its answer; one more than the tenant's quota is
 * refused with 409 at once, never queued.  Requests carrying the same
 * Idempotency-Key are one operation (they get one answer), so a retry of a
 * request still in flight is never refused.
 */
#ifndef TND_QUOTA_INFLIGHT_H
#define TND_QUOTA_INFLIGHT_H

#include <stdbool.h>
#include <stdint.h>

/** Enter one operation on @tenant_id if fewer than @limit are in flight
 *  (@limit <= 0: unlimited) or if one with Idempotency-Key @key (may be
 *  NULL) is; *@ret_in_flight is the count seen. */
bool quota_inflight_enter(const char *tenant_id, const char *key, int64_t limit, int64_t *ret_in_flight);
/** Leave an operation entered with quota_inflight_enter() (same @key). */
void quota_inflight_leave(const char *tenant_id, const char *key);
/** Operations in flight on @tenant_id now. */
int64_t quota_inflight_count(const char *tenant_id);

#endif /* TND_QUOTA_INFLIGHT_H */
