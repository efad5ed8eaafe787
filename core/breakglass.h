/*
 * breakglass.h — break-glass grants: a time-limited admin role that an
 * operator (or admin) requests with a reason and a second, different admin
 * approves.  DESIGN.md §5.
 *
 * Grants live in the registry (registry_tokens.h); this module keeps the
 * approved ones in memory, keyed by the requesting token's subject (see
 * struct tnd_principal), so raising a request's role is a lookup, not a
 * registry read.  Nothing sweeps: an approval ends when the clock passes
 * its expiry, and a pending request lapses when the clock passes its
 * lifetime counted from the request.
 */
#ifndef TND_BREAKGLASS_H
#define TND_BREAKGLASS_H

#include <stdbool.h>
#include <stdint.h>

#include <tenancyd/storage.h>

#include "tokens.h"

#define BREAKGLASS_TTL_DEFAULT_S 3600
#define BREAKGLASS_TTL_MAX_S (24 * 3600)

struct breakglass;

struct breakglass *breakglass_new(void);
void breakglass_free(struct breakglass *bg);

/** Remember an approved grant (copied).  Others, and expired ones at
 *  @now_ms, are ignored. */
void breakglass_add(struct breakglass *bg, const struct tnd_grant_record *rec, int64_t now_ms);

/**
 * If @p's token holds a grant in force at @now_ms, raise p->role to admin
 * and name the grant in p->grant.  Only a token whose own role is operator
 * or admin can be raised (a tokens file edited since the request may have
 * lowered it).  True when raised.
 */
bool breakglass_elevate(struct breakglass *bg, struct tnd_principal *p, int64_t now_ms);

/** What a grant is at @now_ms: "pending", "approved", "expired" or "denied". */
const char *breakglass_state(const struct tnd_grant_record *rec, int64_t now_ms);

#endif /* TND_BREAKGLASS_H */
