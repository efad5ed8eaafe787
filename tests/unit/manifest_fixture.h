/*
 * manifest_fixture.h — what the manifest and placement tests share: a
 * hand-built config catalogue (so they need neither conf.c nor a file on
 * disk) and a lookup in {path, reason} error arrays.
 *
 * Regions, in config order:
 *   eu-west-1 (eu), eu-central-1 (eu), eu-north-1 (eu), us-east-1 (us), us-west-2 (us)
 * all enabled.  Plans:
 *   free        shared only;             default shared;    residency eu; max 2/10/100/1
 *   business    shared, dedicated;       default shared;    residency eu; max 16/100/1000/4
 *   enterprise  shared, dedicated, hybrid; default dedicated; residency us; max 64/1000/10000/16
 * (max quotas: computeUnits/storageGb/eventsPerMinute/concurrentOperations)
 */
#ifndef TND_MANIFEST_FIXTURE_H
#define TND_MANIFEST_FIXTURE_H

#include <stdbool.h>

#include <jansson.h>

#include "conf.h"

struct tnd_conf *fixture_conf_new(void);
void fixture_conf_free(struct tnd_conf *conf);
/** The region named @name, writable so a test can disable it. */
struct tnd_region_conf *fixture_conf_region(struct tnd_conf *conf, const char *name);

/** True if @errors holds an entry whose path is exactly @path and whose
 *  reason contains @reason_part; otherwise prints all of them to stderr. */
bool fixture_has_error(const json_t *errors, const char *path, const char *reason_part);

#endif /* TND_MANIFEST_FIXTURE_H */
