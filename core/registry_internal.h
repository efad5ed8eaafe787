/*
 * registry_internal.h — what registry.c lends to the files that add write
 * kinds and read ops of later storage ABI minors (registry_tokens.c), so
 * each such concern can live in its own file.  Not for other callers.
 */
#ifndef TND_REGISTRY_INTERNAL_H
#define TND_REGISTRY_INTERNAL_H

#include "registry.h"

/** A copy of @s (NULL stays NULL) that lives until the txn is cleared. */
const char *registry_txn_copy(struct registry_txn *txn, const char *s);
/** Append a write of @kind; @record (malloc'ed) is freed with the txn. */
void registry_txn_push(struct registry_txn *txn, uint32_t kind, void *record);
/** The driver's ops table and context. */
const struct tnd_storage_ops *registry_storage_ops(const struct registry *reg, void **ret_ctx);

#endif /* TND_REGISTRY_INTERNAL_H */
