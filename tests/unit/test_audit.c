/*
 * test_audit.c — the audit trail's cryptography without a daemon: the
 * canonical form, hash and signatures against known answers computed
 * independently (Python's json.dumps and the openssl CLI, with the RFC 8032
 * test key), key files (an unsafe mode is refused, generated keys load),
 * and the verifier on chains built here: intact, then edited, deleted,
 * inserted, reordered, truncated, re-signed with another key (under our
 * key id and under its own), with a forged or missing head, and across a
 * key rotation.
 */
#include "autoconfig.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "audit_key.h"
#include "audit_record.h"
#include "audit_signpool.h"
#include "audit_verify.h"
#include "testutil.h"
#include "util.h"

/* RFC 8032 §7.1 test 1: secret 9d61b1...7f60, public d75a98...511a */
static const char kat_pem[] = "-----BEGIN PRIVATE KEY-----\n"
			      "MC4CAQAwBQYDK2VwBCIEIJ1hsZ3v/VpguoRK9JLsLMREScVpezJpGXA7rAMcrn9g\n"
			      "-----END PRIVATE KEY-----\n";
static const char kat_key_id[] = "21fe31dfa154a261";
static const char kat_canonical[] =
	"{\"action\":\"tenant.apply\",\"actor\":\"alice \\\"A\\\"\\\\\",\"correlationId\":null,"
	"\"keyId\":\"21fe31dfa154a261\",\"newState\":\"active\",\"outcome\":\"succeeded\","
	"\"prevHash\":\"0000000000000000000000000000000000000000000000000000000000000000\","
	"\"previousState\":null,\"reason\":\"line1\\nline2\\t\\u0001\xc3\xa9\",\"requestId\":\"req-1\",\"seq\":1,"
	"\"target\":\"/v1/tenants/acme\",\"tenantId\":\"acme\",\"time\":\"2023-11-14T22:13:20.123Z\",\"v\":\"1\"}";
static const char kat_hash[] = "95fd10601ef8045084a0994e0a8eca68be9032b3fb1d9f7290e248800b86424a";
static const char kat_signature[] =
	"DrRTOIosVVbN4qToFSoGga+5Gsp4YGG3COCcNy9thYgM9sD7apw0r2RzzDJfeGOeAx2neL1/b+zfkRP7vDdHBQ==";
static const char kat_head_signature[] =
	"liyDObNqOLRsATVWtMh7SOwGVPhq5pyKYaTSWtNf0xY7XF0YxUpUJuIauwKq2h6Ru/jpdeqBb6w3d4mB+RbuDA==";

static char *test_dir;
static struct audit_signer *signer;
static struct audit_signer *other_signer;
static struct audit_keyring *ring;

static int setup(void **state)
{
	struct tnd_error err = { "" };
	char *path, *other;

	(void)state;
	test_dir = testutil_mkdtemp("audit");
	path = testutil_write_file(test_dir, "kat.pem", kat_pem, 0600);
	assert_int_equal(audit_signer_load(path, &signer, &err), 0);
	other = tnd_xasprintf("%s/other.pem", test_dir);
	assert_int_equal(audit_key_generate(other, &err), 0);
	assert_int_equal(audit_signer_load(other, &other_signer, &err), 0);
	ring = audit_keyring_new();
	audit_keyring_add_signer(ring, signer);
	free(path);
	free(other);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	audit_keyring_free(ring);
	audit_signer_free(signer);
	audit_signer_free(other_signer);
	testutil_rmrf(test_dir);
	free(test_dir);
	return 0;
}

static struct tnd_audit_record kat_record(void)
{
	struct tnd_audit_record rec = {
		.size = sizeof(rec),
		.time_ms = INT64_C(1700000000123),
		.tenant_id = "acme",
		.actor = "alice \"A\"\\",
		.action = "tenant.apply",
		.target = "/v1/tenants/acme",
		.new_state = "active",
		.outcome = "succeeded",
		.reason = "line1\nline2\t\x01\xc3\xa9",
		.request_id = "req-1",
	};
	return rec;
}

/* --- known answers ---------------------------------------------------------------------- */

static void test_canonical_known_answer(void **state)
{
	struct tnd_audit_record rec = kat_record();
	char *canonical = audit_canonical(&rec, 1, kat_key_id, AUDIT_ZERO_HASH);

	(void)state;
	assert_string_equal(canonical, kat_canonical);
	free(canonical);
}

static void test_hash_and_signatures_known_answer(void **state)
{
	struct tnd_audit_record rec = kat_record();
	char *canonical = audit_canonical(&rec, 1, kat_key_id, AUDIT_ZERO_HASH), *head;
	char hex[65], sig[AUDIT_SIG_B64_LEN + 1];
	unsigned char raw[32], decoded[32];
	struct tnd_error err = { "" };

	(void)state;
	assert_string_equal(audit_signer_key_id(signer), kat_key_id);
	audit_hash(canonical, raw, hex);
	assert_string_equal(hex, kat_hash);
	assert_int_equal(audit_hash_decode(hex, decoded), 0);
	assert_memory_equal(raw, decoded, 32);
	assert_int_equal(audit_sign(signer, raw, sizeof(raw), sig, &err), 0);
	assert_string_equal(sig, kat_signature);
	assert_int_equal(audit_keyring_verify(ring, kat_key_id, raw, sizeof(raw), sig), 0);
	head = audit_head_message(1, hex);
	assert_int_equal(audit_sign(signer, head, strlen(head), sig, &err), 0);
	assert_string_equal(sig, kat_head_signature);
	/* the signature of one message is not that of another */
	raw[0] ^= 1;
	assert_int_equal(audit_keyring_verify(ring, kat_key_id, raw, sizeof(raw), kat_signature), -EBADMSG);
	assert_int_equal(audit_keyring_verify(ring, "0123456789abcdef", raw, sizeof(raw), kat_signature), -ENOKEY);
	assert_int_equal(audit_keyring_verify(ring, kat_key_id, raw, sizeof(raw), "short"), -EBADMSG);
	free(head);
	free(canonical);
}

static void test_public_key_export(void **state)
{
	struct audit_keyring *other = audit_keyring_new();
	const char *pem = audit_signer_public_pem(signer);
	struct tnd_error err = { "" };

	(void)state;
	assert_non_null(strstr(pem, "-----BEGIN PUBLIC KEY-----"));
	assert_int_equal(audit_keyring_add_pem(other, pem, strlen(pem), &err), 0);
	assert_string_equal(audit_keyring_id(other, 0, NULL), kat_key_id);
	/* the PEM of a private key is not a public key */
	assert_int_not_equal(audit_keyring_add_pem(other, kat_pem, strlen(kat_pem), &err), 0);
	audit_keyring_free(other);
}

static void test_key_files(void **state)
{
	struct audit_signer *s = NULL;
	struct tnd_error err = { "" };
	char *open_key = testutil_write_file(test_dir, "open.pem", kat_pem, 0644);
	char *junk = testutil_write_file(test_dir, "junk.pem", "not a key\n", 0600);
	char *fresh = tnd_xasprintf("%s/fresh.pem", test_dir);

	(void)state;
	assert_true(audit_signer_load(open_key, &s, &err) < 0);
	assert_null(s);
	assert_int_equal(audit_signer_load(junk, &s, &err), -EINVAL);
	assert_int_equal(audit_key_generate(fresh, &err), 0);
	assert_int_equal(audit_key_generate(fresh, &err), -EEXIST);
	assert_int_equal(audit_signer_load(fresh, &s, &err), 0);
	assert_int_equal(strlen(audit_signer_key_id(s)), AUDIT_KEY_ID_LEN);
	audit_signer_free(s);
	free(open_key);
	free(junk);
	free(fresh);
}

/* --- chains ----------------------------------------------------------------------------- */

#define CHAIN_N 6

struct chain_entry {
	struct tnd_audit_record rec;
	char actor[32];
	char key_id[AUDIT_KEY_ID_LEN + 1];
	char prev_hash[65];
	char hash[65];
	char signature[AUDIT_SIG_B64_LEN + 1];
};

struct chain {
	struct chain_entry e[CHAIN_N + 1]; /* one spare for insertions */
	char head_hash[65];
	char head_key_id[AUDIT_KEY_ID_LEN + 1];
	char head_signature[AUDIT_SIG_B64_LEN + 1];
	struct tnd_audit_head head;
};

/* (Re)seal entry @i as record @seq after @prev with @by. */
static void chain_seal(struct chain_entry *entry, int64_t seq, const char *prev, const struct audit_signer *by)
{
	struct tnd_error err = { "" };
	unsigned char raw[32];
	char *canonical;

	entry->rec.seq = seq;
	snprintf(entry->prev_hash, sizeof(entry->prev_hash), "%s", prev);
	canonical = audit_canonical(&entry->rec, seq, entry->key_id, entry->prev_hash);
	audit_hash(canonical, raw, entry->hash);
	free(canonical);
	assert_int_equal(audit_sign(by, raw, sizeof(raw), entry->signature, &err), 0);
}

static void chain_set_head(struct chain *c, int64_t seq, const char *hash, const struct audit_signer *by)
{
	struct tnd_error err = { "" };
	char *message = audit_head_message(seq, hash);

	snprintf(c->head_hash, sizeof(c->head_hash), "%s", hash);
	snprintf(c->head_key_id, sizeof(c->head_key_id), "%s", audit_signer_key_id(by));
	assert_int_equal(audit_sign(by, message, strlen(message), c->head_signature, &err), 0);
	free(message);
	c->head = (struct tnd_audit_head){ .size = sizeof(c->head), .seq = seq, .hash = c->head_hash,
					   .key_id = c->head_key_id, .signature = c->head_signature };
}

static void chain_build(struct chain *c)
{
	memset(c, 0, sizeof(*c));
	for (int i = 0; i < CHAIN_N; i++) {
		struct chain_entry *entry = &c->e[i];
		snprintf(entry->actor, sizeof(entry->actor), "actor-%d", i + 1);
		snprintf(entry->key_id, sizeof(entry->key_id), "%s", audit_signer_key_id(signer));
		entry->rec = (struct tnd_audit_record){
			.size = sizeof(entry->rec),
			.time_ms = INT64_C(1700000000000) + i,
			.tenant_id = "acme",
			.actor = entry->actor,
			.action = "tenant.apply",
			.target = "/v1/tenants/acme",
			.new_state = "active",
			.outcome = "succeeded",
			.request_id = "req",
			.key_id = entry->key_id,
			.prev_hash = entry->prev_hash,
			.hash = entry->hash,
			.signature = entry->signature,
		};
		chain_seal(entry, i + 1, i == 0 ? AUDIT_ZERO_HASH : c->e[i - 1].hash, signer);
	}
	chain_set_head(c, CHAIN_N, c->e[CHAIN_N - 1].hash, signer);
}

/* Feed the entries named by @order (1-based indexes into c->e, 0 ends) and
 * the head; the first bad seq, 0 if all is well. */
static int64_t chain_verify(const struct chain *c, const int *order, const struct tnd_audit_head *head,
			    const struct audit_keyring *with)
{
	struct audit_verifier v;

	audit_verifier_init(&v, with ? with : ring, 1);
	for (const int *i = order; *i; i++)
		if (!audit_verifier_feed(&v, &c->e[*i - 1].rec))
			break;
	audit_verifier_finish(&v, head);
	return v.first_bad;
}

static const int all_in_order[] = { 1, 2, 3, 4, 5, 6, 0 };

static void test_chain_intact(void **state)
{
	struct chain c;
	struct audit_verifier v;

	(void)state;
	chain_build(&c);
	assert_int_equal(chain_verify(&c, all_in_order, &c.head, NULL), 0);
	/* from a later seq: the first record's prevHash is taken on trust */
	audit_verifier_init(&v, ring, 4);
	for (int i = 3; i < CHAIN_N; i++)
		assert_true(audit_verifier_feed(&v, &c.e[i].rec));
	assert_true(audit_verifier_finish(&v, &c.head));
	assert_int_equal(v.checked, 3);
	/* from beyond the end: only the head is checked */
	audit_verifier_init(&v, ring, CHAIN_N + 5);
	assert_true(audit_verifier_finish(&v, &c.head));
	/* from within the end, nothing found: the records from there are gone */
	audit_verifier_init(&v, ring, CHAIN_N);
	assert_false(audit_verifier_finish(&v, &c.head));
	assert_int_equal(v.first_bad, CHAIN_N);
	/* an empty trail without a head is fine */
	audit_verifier_init(&v, ring, 1);
	assert_true(audit_verifier_finish(&v, NULL));
}

static void test_chain_edit(void **state)
{
	struct chain c;

	(void)state;
	chain_build(&c);
	c.e[2].rec.outcome = "failed";
	assert_int_equal(chain_verify(&c, all_in_order, &c.head, NULL), 3);
	chain_build(&c);
	c.e[4].rec.time_ms++;
	assert_int_equal(chain_verify(&c, all_in_order, &c.head, NULL), 5);
	chain_build(&c);
	c.e[1].prev_hash[0] = c.e[1].prev_hash[0] == '0' ? '1' : '0';
	assert_int_equal(chain_verify(&c, all_in_order, &c.head, NULL), 2);
}

static void test_chain_delete(void **state)
{
	static const int without_3[] = { 1, 2, 4, 5, 6, 0 };
	struct chain c;

	(void)state;
	chain_build(&c);
	assert_int_equal(chain_verify(&c, without_3, &c.head, NULL), 3);
}

static void test_chain_insert(void **state)
{
	static const int with_forged_3[] = { 1, 2, 7, 3, 4, 5, 6, 0 };
	struct chain c;

	(void)state;
	chain_build(&c);
	/* a copy of record 2 presented as record 3, followed by the rest */
	c.e[CHAIN_N] = c.e[1];
	c.e[CHAIN_N].rec.seq = 3;
	assert_int_equal(chain_verify(&c, with_forged_3, &c.head, NULL), 3);
	/* renumbering the rest does not help: each seq is under its hash */
	for (int i = 2; i < CHAIN_N; i++)
		c.e[i].rec.seq++;
	assert_int_equal(chain_verify(&c, with_forged_3, &c.head, NULL), 3);
}

static void test_chain_reorder(void **state)
{
	static const int swapped[] = { 1, 2, 4, 3, 5, 6, 0 };
	struct chain c;
	int64_t seq;

	(void)state;
	chain_build(&c);
	assert_int_equal(chain_verify(&c, swapped, &c.head, NULL), 3);
	/* the seq numbers swapped too: the content no longer matches the hash */
	seq = c.e[2].rec.seq;
	c.e[2].rec.seq = c.e[3].rec.seq;
	c.e[3].rec.seq = seq;
	assert_int_equal(chain_verify(&c, swapped, &c.head, NULL), 3);
}

static void test_chain_truncate(void **state)
{
	static const int first_4[] = { 1, 2, 3, 4, 0 };
	struct chain c;

	(void)state;
	chain_build(&c);
	/* the head still says 6 */
	assert_int_equal(chain_verify(&c, first_4, &c.head, NULL), 5);
	/* no head at all */
	assert_int_equal(chain_verify(&c, first_4, NULL, NULL), 4);
	/* a head moved back to record 4, signed by someone else */
	chain_set_head(&c, 4, c.e[3].hash, other_signer);
	assert_int_equal(chain_verify(&c, first_4, &c.head, NULL), 4);
	/* a head moved back with our key id but another key's signature */
	snprintf(c.head_key_id, sizeof(c.head_key_id), "%s", kat_key_id);
	assert_int_equal(chain_verify(&c, first_4, &c.head, NULL), 4);
	/* records beyond the head */
	chain_build(&c);
	chain_set_head(&c, 4, c.e[3].hash, signer);
	assert_int_equal(chain_verify(&c, all_in_order, &c.head, NULL), 5);
}

static void test_chain_resigned(void **state)
{
	struct chain c;

	(void)state;
	/* edited, re-hashed and re-signed with another key under our key id */
	chain_build(&c);
	c.e[2].rec.actor = "mallory";
	chain_seal(&c.e[2], 3, c.e[1].hash, other_signer);
	assert_int_equal(chain_verify(&c, all_in_order, &c.head, NULL), 3);
	/* ... and the whole rest of the chain, and the head, re-signed too */
	for (int i = 3; i < CHAIN_N; i++)
		chain_seal(&c.e[i], i + 1, c.e[i - 1].hash, other_signer);
	chain_set_head(&c, CHAIN_N, c.e[CHAIN_N - 1].hash, other_signer);
	assert_int_equal(chain_verify(&c, all_in_order, &c.head, NULL), 3);
	/* under the other key's own id: unknown to the keyring */
	chain_build(&c);
	snprintf(c.e[2].key_id, sizeof(c.e[2].key_id), "%s", audit_signer_key_id(other_signer));
	chain_seal(&c.e[2], 3, c.e[1].hash, other_signer);
	assert_int_equal(chain_verify(&c, all_in_order, &c.head, NULL), 3);
}

static void test_chain_rotation(void **state)
{
	struct audit_keyring *both = audit_keyring_new();
	struct chain c;

	(void)state;
	chain_build(&c);
	/* records 4.. signed by the new key, which now signs the head */
	for (int i = 3; i < CHAIN_N; i++) {
		snprintf(c.e[i].key_id, sizeof(c.e[i].key_id), "%s", audit_signer_key_id(other_signer));
		chain_seal(&c.e[i], i + 1, c.e[i - 1].hash, other_signer);
	}
	chain_set_head(&c, CHAIN_N, c.e[CHAIN_N - 1].hash, other_signer);
	/* only the old key: record 4 is by an unknown key */
	assert_int_equal(chain_verify(&c, all_in_order, &c.head, NULL), 4);
	audit_keyring_add_signer(both, other_signer);
	audit_keyring_add_signer(both, signer);
	audit_keyring_add_signer(both, signer); /* a duplicate is dropped */
	assert_int_equal(audit_keyring_size(both), 2);
	assert_int_equal(chain_verify(&c, all_in_order, &c.head, both), 0);
	audit_keyring_free(both);
}

static void test_record_json_round_trip(void **state)
{
	struct chain c;
	struct tnd_audit_record back;
	struct audit_verifier v;
	json_t *item;

	(void)state;
	chain_build(&c);
	audit_verifier_init(&v, ring, 1);
	v.anchor_seq = CHAIN_N;
	snprintf(v.anchor_hash, sizeof(v.anchor_hash), "%s", c.e[CHAIN_N - 1].hash);
	for (int i = 0; i < CHAIN_N; i++) {
		item = audit_record_json(&c.e[i].rec);
		assert_int_equal(audit_record_from_json(item, &back), 0);
		assert_true(audit_verifier_feed(&v, &back));
		json_decref(item);
	}
	assert_true(audit_verifier_finish_offline(&v));
	/* an export cut before the anchor */
	audit_verifier_init(&v, ring, 1);
	v.anchor_seq = CHAIN_N;
	snprintf(v.anchor_hash, sizeof(v.anchor_hash), "%s", c.e[CHAIN_N - 1].hash);
	for (int i = 0; i < CHAIN_N - 2; i++)
		assert_true(audit_verifier_feed(&v, &c.e[i].rec));
	assert_false(audit_verifier_finish_offline(&v));
	assert_int_equal(v.first_bad, CHAIN_N - 1);
	/* an anchor whose hash differs */
	audit_verifier_init(&v, ring, 1);
	v.anchor_seq = 2;
	snprintf(v.anchor_hash, sizeof(v.anchor_hash), "%s", c.e[0].hash);
	assert_true(audit_verifier_feed(&v, &c.e[0].rec));
	assert_false(audit_verifier_feed(&v, &c.e[1].rec));
	assert_int_equal(v.first_bad, 2);
	/* a time not in the exact form is refused */
	item = audit_record_json(&c.e[0].rec);
	json_object_set_new(item, "time", json_string("2023-11-14T22:13:20Z"));
	assert_int_equal(audit_record_from_json(item, &back), -EINVAL);
	json_decref(item);
}

/* The pool's signatures are the ones signing one by one gives (Ed25519 is
 * deterministic), whatever thread made them; a bad hash fails the batch. */
static void test_signpool(void **state)
{
	enum { N = 200 };
	static char hashes[N][65], pooled[N][89];
	const char *ptrs[N];
	struct tnd_error err = { "" };

	(void)state;
	for (size_t threads = 0; threads <= 3; threads += 3) {
		struct audit_signpool *pool = audit_signpool_new(signer, threads);

		for (int i = 0; i < N; i++) {
			unsigned char raw[32];
			char *text = tnd_xasprintf("record %d", i);
			audit_hash(text, raw, hashes[i]);
			free(text);
			ptrs[i] = hashes[i];
			memset(pooled[i], 0, sizeof(pooled[i]));
		}
		for (int round = 0; round < 5; round++)
			assert_int_equal(audit_signpool_sign(pool, N, ptrs, pooled, &err), 0);
		for (int i = 0; i < N; i++) {
			unsigned char raw[32];
			char one[AUDIT_SIG_B64_LEN + 1];
			assert_int_equal(audit_hash_decode(hashes[i], raw), 0);
			assert_int_equal(audit_sign(signer, raw, sizeof(raw), one, &err), 0);
			assert_string_equal(pooled[i], one);
		}
		assert_int_equal(audit_signpool_sign(pool, 0, ptrs, pooled, &err), 0);
		ptrs[N / 2] = "not a hash";
		assert_int_equal(audit_signpool_sign(pool, N, ptrs, pooled, &err), -EINVAL);
		audit_signpool_free(pool);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_canonical_known_answer),
		cmocka_unit_test(test_hash_and_signatures_known_answer),
		cmocka_unit_test(test_public_key_export),
		cmocka_unit_test(test_key_files),
		cmocka_unit_test(test_chain_intact),
		cmocka_unit_test(test_chain_edit),
		cmocka_unit_test(test_chain_delete),
		cmocka_unit_test(test_chain_insert),
		cmocka_unit_test(test_chain_reorder),
		cmocka_unit_test(test_chain_truncate),
		cmocka_unit_test(test_chain_resigned),
		cmocka_unit_test(test_chain_rotation),
		cmocka_unit_test(test_record_json_round_trip),
		cmocka_unit_test(test_signpool),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
