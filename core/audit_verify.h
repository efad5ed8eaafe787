/*
 * audit_verify.h — checking the audit trail: every record's hash over its
 * canonical form, its link to the previous record, its signature by a known
 * key, seq continuity, and the signed chain head (docs/audit.md says
 * exactly what this does and does not detect).
 */
#ifndef TND_AUDIT_VERIFY_H
#define TND_AUDIT_VERIFY_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include <tenancyd/storage.h>

struct registry;
struct audit_keyring;

/** The state of a running verification, fed one record at a time. */
struct audit_verifier {
	const struct audit_keyring *ring;
	int64_t from;            /* first seq checked */
	int64_t expect_seq;      /* the seq the next record must have */
	char prev_hash[65];      /* "" until the first record when from > 1 */
	int64_t checked;
	int64_t first_bad;       /* 0 while all is well */
	char reason[256];
	int64_t anchor_seq;      /* offline: a record known from elsewhere (0: none) ... */
	char anchor_hash[65];    /* ... and its hash */
	bool anchor_seen;
};

void audit_verifier_init(struct audit_verifier *v, const struct audit_keyring *ring, int64_t from);
/** Check the next record; false once something is wrong (first_bad set). */
bool audit_verifier_feed(struct audit_verifier *v, const struct tnd_audit_record *rec);
/** Check the chain head after the last record (@head NULL: none stored). */
bool audit_verifier_finish(struct audit_verifier *v, const struct tnd_audit_head *head);
/**
 * Offline (an export has no head): the records fed so far must reach
 * v->anchor_seq, if set, with v->anchor_hash — a seq and hash kept from an
 * earlier verify or export, which is what shows a trail cut back behind it.
 */
bool audit_verifier_finish_offline(struct audit_verifier *v);

/**
 * Verify the trail in @reg from seq @from (1 or less: from the start).
 * 0 and a report {ok, from, checked, firstBadSeq, reason, head{seq, hash}},
 * or a negative errno when the registry could not be read.
 */
int audit_verify_registry(struct registry *reg, const struct audit_keyring *ring, int64_t from, json_t **ret_report,
			  struct tnd_error *err);

#endif /* TND_AUDIT_VERIFY_H */
