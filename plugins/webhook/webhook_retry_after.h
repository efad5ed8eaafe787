/*
 * webhook_retry_after.h — reading a receiver's Retry-After header
 * (RFC 9110 §10.2.3): delta-seconds or an HTTP-date in any of the three
 * formats a recipient must accept (IMF-fixdate, RFC 850, asctime).
 */
#ifndef TND_WEBHOOK_RETRY_AFTER_H
#define TND_WEBHOOK_RETRY_AFTER_H

#include <stdint.h>

/* Longer waits are cut to this (one day): a receiver cannot park a delivery forever. */
#define WEBHOOK_RETRY_AFTER_MAX_MS (86400 * INT64_C(1000))

/**
 * The wait a Retry-After @value asks for, in milliseconds from @now_ms
 * (Unix epoch, ms): 0 for a date in the past, at most
 * WEBHOOK_RETRY_AFTER_MAX_MS.  Surrounding blanks are ignored.
 * @return 0, or -EINVAL when @value is neither form (@ret_ms untouched).
 */
int webhook_retry_after_parse(const char *value, int64_t now_ms, int64_t *ret_ms);

/** An HTTP-date as seconds since the Unix epoch.  0 or -EINVAL. */
int webhook_http_date_parse(const char *value, int64_t *ret_seconds);

#endif /* TND_WEBHOOK_RETRY_AFTER_H */
