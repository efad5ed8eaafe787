/*
 * audit_record.c — canonical form, hashing and JSON of audit records (see
 * audit_record.h and docs/audit.md).
 *
 * The canonical form is written by hand rather than by jansson so that it
 * is exactly RFC 8785 (JCS) for this field list, independent of a JSON
 * library's escaping choices: keys in byte order, no whitespace, strings
 * as UTF-8 with only '"', '\\' and control characters escaped (\b \t \n \f
 * \r short, the rest \u00xx in lower-case hex), null for absent values,
 * seq as a decimal integer.
 */
#include "autoconfig.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/sha.h>

#include "audit_record.h"
#include "host.h"
#include "util.h"

static void canon_string(struct tnd_buf *out, const char *s)
{
	static const char hex[] = "0123456789abcdef";

	if (s == NULL) {
		tnd_buf_add(out, "null", 4);
		return;
	}
	tnd_buf_add(out, "\"", 1);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		char esc[7];
		switch (*p) {
		case '"': tnd_buf_add(out, "\\\"", 2); break;
		case '\\': tnd_buf_add(out, "\\\\", 2); break;
		case '\b': tnd_buf_add(out, "\\b", 2); break;
		case '\t': tnd_buf_add(out, "\\t", 2); break;
		case '\n': tnd_buf_add(out, "\\n", 2); break;
		case '\f': tnd_buf_add(out, "\\f", 2); break;
		case '\r': tnd_buf_add(out, "\\r", 2); break;
		default:
			if (*p < 0x20) {
				memcpy(esc, "\\u00", 4);
				esc[4] = hex[*p >> 4];
				esc[5] = hex[*p & 0xf];
				tnd_buf_add(out, esc, 6);
			} else {
				tnd_buf_add(out, (const char *)p, 1);
			}
		}
	}
	tnd_buf_add(out, "\"", 1);
}

static void canon_member(struct tnd_buf *out, const char *key, const char *value, bool first)
{
	if (!first)
		tnd_buf_add(out, ",", 1);
	canon_string(out, key);
	tnd_buf_add(out, ":", 1);
	canon_string(out, value);
}

char *audit_canonical(const struct tnd_audit_record *rec, int64_t seq, const char *key_id, const char *prev_hash)
{
	struct tnd_buf out;
	char when[32];

	tnd_format_time(rec->time_ms, when);
	tnd_buf_init(&out);
	/* the members in byte order of their names: RFC 8785 §3.2.3 */
	tnd_buf_add(&out, "{", 1);
	canon_member(&out, "action", rec->action, true);
	canon_member(&out, "actor", rec->actor, false);
	canon_member(&out, "correlationId", rec->correlation_id, false);
	canon_member(&out, "keyId", key_id, false);
	canon_member(&out, "newState", rec->new_state, false);
	canon_member(&out, "outcome", rec->outcome, false);
	canon_member(&out, "prevHash", prev_hash, false);
	canon_member(&out, "previousState", rec->previous_state, false);
	canon_member(&out, "reason", rec->reason, false);
	canon_member(&out, "requestId", rec->request_id, false);
	tnd_buf_addf(&out, ",\"seq\":%lld", (long long)seq);
	canon_member(&out, "target", rec->target, false);
	canon_member(&out, "tenantId", rec->tenant_id, false);
	canon_member(&out, "time", when, false);
	canon_member(&out, "v", "1", false);
	tnd_buf_add(&out, "}", 1);
	return out.data;
}

void audit_hash(const char *text, unsigned char ret_raw[32], char ret_hex[65])
{
	static const char hex[] = "0123456789abcdef";

	SHA256((const unsigned char *)text, strlen(text), ret_raw);
	for (int i = 0; i < 32; i++) {
		ret_hex[2 * i] = hex[ret_raw[i] >> 4];
		ret_hex[2 * i + 1] = hex[ret_raw[i] & 0xf];
	}
	ret_hex[64] = '\0';
}

char *audit_head_message(int64_t seq, const char *hash)
{
	return tnd_xasprintf("tenancyd-audit-head-v1:%lld:%s", (long long)seq, hash ? hash : "");
}

static int audit_hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int audit_hash_decode(const char *hex, unsigned char ret_raw[32])
{
	if (hex == NULL || strlen(hex) != 64)
		return -EINVAL;
	for (int i = 0; i < 32; i++) {
		int hi = audit_hex_value(hex[2 * i]), lo = audit_hex_value(hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -EINVAL;
		ret_raw[i] = (unsigned char)(hi << 4 | lo);
	}
	return 0;
}

static json_t *json_string_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

static int from_json_string(const json_t *item, const char *key, const char **ret)
{
	const json_t *v = json_object_get(item, key);

	if (json_is_null(v)) {
		*ret = NULL;
		return 0;
	}
	if (!json_is_string(v))
		return -EINVAL;
	*ret = json_string_value(v);
	return 0;
}

int audit_record_from_json(const json_t *item, struct tnd_audit_record *ret)
{
	struct tnd_audit_record rec = { .size = sizeof(rec) };
	const char *when = json_string_value(json_object_get(item, "time"));
	const json_t *seq = json_object_get(item, "seq");
	struct tm tm = { 0 };
	char check[32];
	const char *p;

	if (!json_is_integer(seq) || when == NULL || (p = strptime(when, "%Y-%m-%dT%H:%M:%S", &tm)) == NULL ||
	    strlen(p) != 5 || p[0] != '.' || p[4] != 'Z')
		return -EINVAL;
	rec.seq = json_integer_value(seq);
	rec.time_ms = (int64_t)timegm(&tm) * 1000 + atoi(p + 1);
	tnd_format_time(rec.time_ms, check);
	if (strcmp(check, when) != 0)
		return -EINVAL;
	if (from_json_string(item, "tenantId", &rec.tenant_id) < 0 || from_json_string(item, "actor", &rec.actor) < 0 ||
	    from_json_string(item, "action", &rec.action) < 0 || from_json_string(item, "target", &rec.target) < 0 ||
	    from_json_string(item, "previousState", &rec.previous_state) < 0 ||
	    from_json_string(item, "newState", &rec.new_state) < 0 ||
	    from_json_string(item, "outcome", &rec.outcome) < 0 || from_json_string(item, "reason", &rec.reason) < 0 ||
	    from_json_string(item, "requestId", &rec.request_id) < 0 ||
	    from_json_string(item, "correlationId", &rec.correlation_id) < 0 ||
	    from_json_string(item, "keyId", &rec.key_id) < 0 || from_json_string(item, "prevHash", &rec.prev_hash) < 0 ||
	    from_json_string(item, "hash", &rec.hash) < 0 || from_json_string(item, "signature", &rec.signature) < 0)
		return -EINVAL;
	*ret = rec;
	return 0;
}

json_t *audit_record_json(const struct tnd_audit_record *rec)
{
	json_t *item = json_object();
	char when[32];

	tnd_format_time(rec->time_ms, when);
	json_object_set_new(item, "seq", json_integer(rec->seq));
	json_object_set_new(item, "time", json_string(when));
	json_object_set_new(item, "tenantId", json_string_or_null(rec->tenant_id));
	json_object_set_new(item, "actor", json_string_or_null(rec->actor));
	json_object_set_new(item, "action", json_string_or_null(rec->action));
	json_object_set_new(item, "target", json_string_or_null(rec->target));
	json_object_set_new(item, "previousState", json_string_or_null(rec->previous_state));
	json_object_set_new(item, "newState", json_string_or_null(rec->new_state));
	json_object_set_new(item, "outcome", json_string_or_null(rec->outcome));
	json_object_set_new(item, "reason", json_string_or_null(rec->reason));
	json_object_set_new(item, "requestId", json_string_or_null(rec->request_id));
	json_object_set_new(item, "correlationId", json_string_or_null(rec->correlation_id));
	json_object_set_new(item, "keyId", json_string_or_null(rec->key_id));
	json_object_set_new(item, "prevHash", json_string_or_null(rec->prev_hash));
	json_object_set_new(item, "hash", json_string_or_null(rec->hash));
	json_object_set_new(item, "signature", json_string_or_null(rec->signature));
	return item;
}
