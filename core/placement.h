/*
 * placement.h — choosing where a tenant lives: a region (within its
 * residency zone, enabled, among allowedRegions, preferring
 * preferredRegion) and an isolation mode (allowed by its plan).
 */
#ifndef TND_PLACEMENT_H
#define TND_PLACEMENT_H

#include <jansson.h>

struct tnd_conf;

/**
 * Resolve placement for a valid, normalized manifest.  0 and
 * *@ret_placement = {"region", "isolation", "residency", "standbyRegion"?},
 * or -EINVAL with each failed rule appended to @errors as {path, reason}.
 */
int placement_resolve(const struct tnd_conf *conf, const json_t *manifest, json_t **ret_placement,
		      json_t *errors);

#endif /* TND_PLACEMENT_H */
