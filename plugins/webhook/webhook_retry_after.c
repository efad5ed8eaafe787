/*
 * webhook_retry_after.c — Retry-After and HTTP-date parsing (see
 * webhook_retry_after.h).  Parsed by hand: strptime() depends on the
 * locale and timegm() is not standard C.
 */
#include "autoconfig.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "webhook_retry_after.h"

static const char *const date_months[12] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
};
static const char *const date_days_short[7] = { "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun" };
static const char *const date_days_long[7] = {
	"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday",
};

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm). */
static int64_t date_days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* Exactly @n digits at *p; advances. */
static bool date_digits(const char **p, int n, int *ret)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		char c = (*p)[i];
		if (c < '0' || c > '9')
			return false;
		v = v * 10 + (c - '0');
	}
	*p += n;
	*ret = v;
	return true;
}

static bool date_literal(const char **p, const char *lit)
{
	size_t n = strlen(lit);

	if (strncmp(*p, lit, n) != 0)
		return false;
	*p += n;
	return true;
}

static bool date_word(const char **p, const char *const *words, int count, int *ret)
{
	for (int i = 0; i < count; i++)
		if (date_literal(p, words[i])) {
			*ret = i;
			return true;
		}
	return false;
}

/* "HH:MM:SS" */
static bool date_time_of_day(const char **p, int *h, int *m, int *s)
{
	return date_digits(p, 2, h) && date_literal(p, ":") && date_digits(p, 2, m) && date_literal(p, ":") &&
	       date_digits(p, 2, s) && *h <= 23 && *m <= 59 && *s <= 60;
}

static int date_days_in_month(int year, int month)
{
	static const int days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

	return month == 1 && leap ? 29 : days[month];
}

int webhook_http_date_parse(const char *value, int64_t *ret_seconds)
{
	const char *p = value;
	int wday, day = 0, month = 0, year = 0, h = 0, m = 0, s = 0;
	bool ok;

	if (date_word(&p, date_days_long, 7, &wday) && date_literal(&p, ", ")) {
		/* RFC 850: Sunday, 06-Nov-94 08:49:37 GMT (two-digit year: RFC 9110 says
		 * a year more than 50 years ahead is in the past; 70..99 is 19xx here) */
		ok = date_digits(&p, 2, &day) && date_literal(&p, "-") && date_word(&p, date_months, 12, &month) &&
		     date_literal(&p, "-") && date_digits(&p, 2, &year) && date_literal(&p, " ") &&
		     date_time_of_day(&p, &h, &m, &s) && date_literal(&p, " GMT") && *p == '\0';
		year += year >= 70 ? 1900 : 2000;
	} else if (p = value, date_word(&p, date_days_short, 7, &wday) && date_literal(&p, ", ")) {
		/* IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT */
		ok = date_digits(&p, 2, &day) && date_literal(&p, " ") && date_word(&p, date_months, 12, &month) &&
		     date_literal(&p, " ") && date_digits(&p, 4, &year) && date_literal(&p, " ") &&
		     date_time_of_day(&p, &h, &m, &s) && date_literal(&p, " GMT") && *p == '\0';
	} else if (p = value, date_word(&p, date_days_short, 7, &wday) && date_literal(&p, " ")) {
		/* asctime: Sun Nov  6 08:49:37 1994 */
		ok = date_word(&p, date_months, 12, &month) && date_literal(&p, " ");
		if (ok && *p == ' ') {
			p++;
			ok = date_digits(&p, 1, &day);
		} else if (ok) {
			ok = date_digits(&p, 2, &day);
		}
		ok = ok && date_literal(&p, " ") && date_time_of_day(&p, &h, &m, &s) && date_literal(&p, " ") &&
		     date_digits(&p, 4, &year) && *p == '\0';
	} else {
		return -EINVAL;
	}
	if (!ok || day < 1 || day > date_days_in_month(year, month))
		return -EINVAL;
	/* the weekday is not checked: a wrong one is the sender's typo, not a different date */
	*ret_seconds = date_days_from_civil(year, month + 1, day) * 86400 + h * 3600 + m * 60 + s;
	return 0;
}

int webhook_retry_after_parse(const char *value, int64_t now_ms, int64_t *ret_ms)
{
	char text[64];
	size_t len;
	int64_t ms;

	if (value == NULL)
		return -EINVAL;
	value += strspn(value, " \t");
	len = strlen(value);
	while (len > 0 && (value[len - 1] == ' ' || value[len - 1] == '\t' || value[len - 1] == '\r' ||
			   value[len - 1] == '\n'))
		len--;
	if (len == 0 || len >= sizeof(text))
		return -EINVAL;
	memcpy(text, value, len);
	text[len] = '\0';

	if (strspn(text, "0123456789") == len) {
		int64_t seconds = 0;

		for (size_t i = 0; i < len && seconds <= WEBHOOK_RETRY_AFTER_MAX_MS / 1000; i++)
			seconds = seconds * 10 + (text[i] - '0');
		ms = seconds * 1000;
	} else {
		int64_t when;

		if (webhook_http_date_parse(text, &when) < 0)
			return -EINVAL;
		ms = when * 1000 - now_ms;
	}
	if (ms < 0)
		ms = 0;
	if (ms > WEBHOOK_RETRY_AFTER_MAX_MS)
		ms = WEBHOOK_RETRY_AFTER_MAX_MS;
	*ret_ms = ms;
	return 0;
}
