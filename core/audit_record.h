/*
 * audit_record.h — the canonical form of an audit record, its hash, the
 * chain head message, and the record's JSON representation (API, export).
 * docs/audit.md specifies all of them for third-party verifiers; change
 * nothing here without a new form version there.
 */
#ifndef TND_AUDIT_RECORD_H
#define TND_AUDIT_RECORD_H

#include <stdint.h>

#include <jansson.h>

#include <tenancyd/storage.h>

/** prevHash of the first record. */
#define AUDIT_ZERO_HASH "0000000000000000000000000000000000000000000000000000000000000000"

/**
 * The canonical form of @rec as record number @seq, signed by @key_id,
 * after @prev_hash: RFC 8785 JSON of the fixed field list (docs/audit.md).
 * The record's own seq, key_id, prev_hash, hash and signature fields are
 * not read.  Caller frees.
 */
char *audit_canonical(const struct tnd_audit_record *rec, int64_t seq, const char *key_id, const char *prev_hash);
/** SHA-256 of @text: raw bytes and lower-case hex. */
void audit_hash(const char *text, unsigned char ret_raw[32], char ret_hex[65]);
/** The message the chain head signature covers.  Caller frees. */
char *audit_head_message(int64_t seq, const char *hash);
/** Decode 64 hex digits; -EINVAL if @hex is anything else. */
int audit_hash_decode(const char *hex, unsigned char ret_raw[32]);

/** A stored record as the API and `tenancyctl audit export` show it (new reference). */
json_t *audit_record_json(const struct tnd_audit_record *rec);
/** The reverse, for offline verification of an export: strings borrowed
 *  from @item.  -EINVAL if a member is missing or of the wrong type, or
 *  `time` is not the exact form audit_record_json() writes. */
int audit_record_from_json(const json_t *item, struct tnd_audit_record *ret);

#endif /* TND_AUDIT_RECORD_H */
