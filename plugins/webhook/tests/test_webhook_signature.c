/*
 * test_webhook_signature.c — Standard Webhooks v1 signatures: the
 * specification's test vector, verification of several candidate
 * signatures, and the secrets webhook_key_from_secret() refuses.
 */
#include "autoconfig.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "webhook_signature.h"

/* From the Standard Webhooks specification's reference libraries. */
#define VECTOR_SECRET "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
#define VECTOR_ID "msg_p5jXN8AQM9LWM0D4loKWxJek"
#define VECTOR_TIMESTAMP 1614265330
#define VECTOR_BODY "{\"test\": 2432232314}"
#define VECTOR_SIGNATURE "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

static void vector_key(struct webhook_key *key)
{
	const char *why = NULL;

	assert_int_equal(webhook_key_from_secret(VECTOR_SECRET, key, &why), 0);
	assert_int_equal(key->len, 24);
}

static void test_vector(void **state)
{
	struct webhook_key key;
	char sig[WEBHOOK_SIGNATURE_MAX];

	vector_key(&key);
	assert_int_equal(webhook_sign(&key, VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY, strlen(VECTOR_BODY), sig), 0);
	assert_string_equal(sig, VECTOR_SIGNATURE);
	webhook_key_clear(&key);
	assert_int_equal(key.len, 0);
}

static void test_verify(void **state)
{
	struct webhook_key key;
	const char *body = VECTOR_BODY;
	size_t len = strlen(body);

	vector_key(&key);
	assert_true(webhook_verify(&key, VECTOR_ID, VECTOR_TIMESTAMP, body, len, VECTOR_SIGNATURE));
	/* key rotation: the receiver gets several, one of which matches */
	assert_true(webhook_verify(&key, VECTOR_ID, VECTOR_TIMESTAMP, body, len,
				   "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= " VECTOR_SIGNATURE));
	assert_true(webhook_verify(&key, VECTOR_ID, VECTOR_TIMESTAMP, body, len,
				   VECTOR_SIGNATURE "  v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc="));
	/* any change to id, timestamp or body, or another scheme, fails */
	assert_false(webhook_verify(&key, "msg_other", VECTOR_TIMESTAMP, body, len, VECTOR_SIGNATURE));
	assert_false(webhook_verify(&key, VECTOR_ID, VECTOR_TIMESTAMP + 1, body, len, VECTOR_SIGNATURE));
	assert_false(webhook_verify(&key, VECTOR_ID, VECTOR_TIMESTAMP, body, len - 1, VECTOR_SIGNATURE));
	assert_false(webhook_verify(&key, VECTOR_ID, VECTOR_TIMESTAMP, body, len,
				    "v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="));
	assert_false(webhook_verify(&key, VECTOR_ID, VECTOR_TIMESTAMP, body, len, VECTOR_SIGNATURE "x"));
	assert_false(webhook_verify(&key, VECTOR_ID, VECTOR_TIMESTAMP, body, len, ""));
	assert_false(webhook_verify(&key, VECTOR_ID, VECTOR_TIMESTAMP, body, len, NULL));
	webhook_key_clear(&key);
}

static void test_bad_secrets(void **state)
{
	static const char *const bad[] = {
		"MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",        /* no prefix */
		"whsec_",                                  /* empty key */
		"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS",   /* not a multiple of 4 */
		"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS!",  /* not base64 */
		"whsec_MfKQ9r8GKYqr TwjUPD8ILPZIo2LaLaSw", /* a blank inside */
		"whsec_MfKQ=r8GKYqrTwjUPD8ILPZIo2LaLaSw",  /* padding inside */
		"whsec_c2hvcnQ=",                          /* 5 bytes: too short */
		"whsec_YWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFh", /* 69 bytes: too long */
	};
	struct webhook_key key = { .len = 7 };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *why = NULL;

		assert_int_equal(webhook_key_from_secret(bad[i], &key, &why), -EINVAL);
		assert_non_null(why);
		/* the reason never quotes the secret */
		assert_null(strstr(why, "MfKQ"));
		assert_int_equal(key.len, 7); /* untouched on failure */
	}
	{
		const char *why = NULL;
		assert_int_equal(webhook_key_from_secret(NULL, &key, &why), -EINVAL);
	}
}

static void test_padded_key(void **state)
{
	/* 25 bytes: base64 with "==" padding decodes to exactly 25 */
	struct webhook_key key;
	const char *why = NULL;

	assert_int_equal(webhook_key_from_secret("whsec_MDEyMzQ1Njc4OWFiY2RlZmdoaWprbG1ubw==", &key, &why), 0);
	assert_int_equal(key.len, 25);
	assert_memory_equal(key.bytes, "0123456789abcdefghijklmno", 25);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vector),
		cmocka_unit_test(test_verify),
		cmocka_unit_test(test_bad_secrets),
		cmocka_unit_test(test_padded_key),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
