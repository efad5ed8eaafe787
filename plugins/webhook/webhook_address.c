/*
 * webhook_address.c — the SSRF guard (see webhook_address.h): address
 * classes by prefix, the allowances from the plugin's settings, and the
 * resolution whose result the HTTP client is pinned to.
 */
#include "autoconfig.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "webhook_address.h"

static const char *const address_class_names[] = {
	[WEBHOOK_ADDR_PUBLIC] = "public",
	[WEBHOOK_ADDR_LOOPBACK] = "loopback",
	[WEBHOOK_ADDR_PRIVATE] = "private",
	[WEBHOOK_ADDR_SHARED] = "shared (carrier-grade NAT)",
	[WEBHOOK_ADDR_LINK_LOCAL] = "link-local",
	[WEBHOOK_ADDR_UNSPECIFIED] = "unspecified",
	[WEBHOOK_ADDR_MULTICAST] = "multicast",
	[WEBHOOK_ADDR_RESERVED] = "reserved",
};

const char *webhook_addr_class_name(enum webhook_addr_class cls)
{
	if ((size_t)cls >= sizeof(address_class_names) / sizeof(address_class_names[0]))
		return "unknown";
	return address_class_names[cls];
}

/* Does @addr (bits) start with the first @bits bits of @prefix? */
static bool address_in(const uint8_t *addr, const uint8_t *prefix, unsigned bits)
{
	unsigned whole = bits / 8, rest = bits % 8;

	if (memcmp(addr, prefix, whole) != 0)
		return false;
	if (rest == 0)
		return true;
	return ((addr[whole] ^ prefix[whole]) & (uint8_t)(0xff << (8 - rest))) == 0;
}

enum webhook_addr_class webhook_addr_classify_v4(const uint8_t a[4])
{
	static const struct {
		uint8_t prefix[4];
		unsigned bits;
		enum webhook_addr_class cls;
	} ranges[] = {
		{ { 0, 0, 0, 0 }, 8, WEBHOOK_ADDR_UNSPECIFIED }, /* "this network"; Linux connects 0.x to itself */
		{ { 10, 0, 0, 0 }, 8, WEBHOOK_ADDR_PRIVATE },
		{ { 100, 64, 0, 0 }, 10, WEBHOOK_ADDR_SHARED },
		{ { 127, 0, 0, 0 }, 8, WEBHOOK_ADDR_LOOPBACK },
		{ { 169, 254, 0, 0 }, 16, WEBHOOK_ADDR_LINK_LOCAL },
		{ { 172, 16, 0, 0 }, 12, WEBHOOK_ADDR_PRIVATE },
		{ { 192, 0, 0, 0 }, 24, WEBHOOK_ADDR_RESERVED }, /* IETF protocol assignments */
		{ { 192, 168, 0, 0 }, 16, WEBHOOK_ADDR_PRIVATE },
		{ { 198, 18, 0, 0 }, 15, WEBHOOK_ADDR_RESERVED }, /* benchmarking */
		{ { 224, 0, 0, 0 }, 4, WEBHOOK_ADDR_MULTICAST },
		{ { 240, 0, 0, 0 }, 4, WEBHOOK_ADDR_RESERVED }, /* future use and 255.255.255.255 */
	};

	for (size_t i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++)
		if (address_in(a, ranges[i].prefix, ranges[i].bits))
			return ranges[i].cls;
	return WEBHOOK_ADDR_PUBLIC;
}

enum webhook_addr_class webhook_addr_classify_v6(const uint8_t a[16])
{
	static const uint8_t zero[16] = { 0 };
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	static const uint8_t nat64[12] = { 0x00, 0x64, 0xff, 0x9b };
	static const uint8_t discard[8] = { 0x01, 0x00 };
	static const struct {
		uint8_t first;
		uint8_t second_mask, second;
		enum webhook_addr_class cls;
	} ranges[] = {
		{ 0xfc, 0x00, 0x00, WEBHOOK_ADDR_PRIVATE },    /* fc00::/7 unique local (with fd below) */
		{ 0xfd, 0x00, 0x00, WEBHOOK_ADDR_PRIVATE },
		{ 0xfe, 0xc0, 0x80, WEBHOOK_ADDR_LINK_LOCAL }, /* fe80::/10 */
		{ 0xfe, 0xc0, 0xc0, WEBHOOK_ADDR_PRIVATE },    /* fec0::/10, deprecated site-local */
		{ 0xff, 0x00, 0x00, WEBHOOK_ADDR_MULTICAST },  /* ff00::/8 */
	};

	if (memcmp(a, zero, 16) == 0)
		return WEBHOOK_ADDR_UNSPECIFIED;
	if (memcmp(a, zero, 15) == 0 && a[15] == 1)
		return WEBHOOK_ADDR_LOOPBACK;
	/* ::ffff:a.b.c.d, ::a.b.c.d (deprecated "compatible") and 64:ff9b::a.b.c.d
	 * all reach an IPv4 address: judge that address. */
	if (memcmp(a, mapped, 12) == 0 || memcmp(a, zero, 12) == 0 || memcmp(a, nat64, 12) == 0)
		return webhook_addr_classify_v4(a + 12);
	if (memcmp(a, discard, 8) == 0)
		return WEBHOOK_ADDR_RESERVED; /* 100::/64, discard-only */
	for (size_t i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++)
		if (a[0] == ranges[i].first && (a[1] & ranges[i].second_mask) == ranges[i].second)
			return ranges[i].cls;
	return WEBHOOK_ADDR_PUBLIC;
}

enum webhook_addr_class webhook_addr_classify(const struct sockaddr *sa)
{
	if (sa != NULL && sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		return webhook_addr_classify_v4((const uint8_t *)&in->sin_addr.s_addr);
	}
	if (sa != NULL && sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		return webhook_addr_classify_v6(in6->sin6_addr.s6_addr);
	}
	return WEBHOOK_ADDR_RESERVED;
}

bool webhook_addr_allowed(const struct webhook_allow *allow, enum webhook_addr_class cls)
{
	switch (cls) {
	case WEBHOOK_ADDR_PUBLIC: return true;
	case WEBHOOK_ADDR_LOOPBACK: return allow->loopback;
	case WEBHOOK_ADDR_PRIVATE:
	case WEBHOOK_ADDR_SHARED: return allow->private_;
	case WEBHOOK_ADDR_LINK_LOCAL: return allow->link_local;
	default: return false;
	}
}

const char *webhook_addr_allow_setting(enum webhook_addr_class cls)
{
	switch (cls) {
	case WEBHOOK_ADDR_LOOPBACK: return "allow_loopback";
	case WEBHOOK_ADDR_PRIVATE:
	case WEBHOOK_ADDR_SHARED: return "allow_private";
	case WEBHOOK_ADDR_LINK_LOCAL: return "allow_link_local";
	default: return NULL;
	}
}

/* Append one numeric address to the comma-separated list. */
static int address_append(const struct sockaddr *sa, char *list, size_t cap, size_t *len)
{
	char text[INET6_ADDRSTRLEN], token[INET6_ADDRSTRLEN + 2];
	const void *raw = sa->sa_family == AF_INET ? (const void *)&((const struct sockaddr_in *)sa)->sin_addr
						   : (const void *)&((const struct sockaddr_in6 *)sa)->sin6_addr;
	size_t token_len;
	int n;

	if (inet_ntop(sa->sa_family, raw, text, sizeof(text)) == NULL)
		return -EINVAL;
	snprintf(token, sizeof(token), sa->sa_family == AF_INET6 ? "[%s]" : "%s", text);
	token_len = strlen(token);
	/* getaddrinfo may repeat an address: keep each once */
	for (const char *p = list; *p != '\0'; p += strcspn(p, ","), p += *p == ',') {
		if (strcspn(p, ",") == token_len && strncmp(p, token, token_len) == 0)
			return 0;
	}
	n = snprintf(list + *len, cap - *len, "%s%s", *len ? "," : "", token);
	if (n < 0 || (size_t)n >= cap - *len)
		return -ENOBUFS;
	*len += (size_t)n;
	return 0;
}

int webhook_resolve(const char *host, unsigned port, const struct webhook_allow *allow, char *ret_addresses,
		    size_t cap, char *why, size_t why_cap)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
	struct addrinfo *res = NULL;
	char service[8];
	size_t len = 0;
	int r = 0, gai;

	if (cap == 0)
		return -ENOBUFS;
	snprintf(service, sizeof(service), "%u", port);
	gai = getaddrinfo(host, service, &hints, &res);
	if (gai != 0) {
		snprintf(why, why_cap, "cannot resolve %s: %s", host, gai_strerror(gai));
		return -EHOSTUNREACH;
	}
	ret_addresses[0] = '\0';
	for (const struct addrinfo *ai = res; ai != NULL && r == 0; ai = ai->ai_next) {
		enum webhook_addr_class cls;

		if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
			continue;
		cls = webhook_addr_classify(ai->ai_addr);
		if (!webhook_addr_allowed(allow, cls)) {
			char text[INET6_ADDRSTRLEN] = "?";
			const char *setting = webhook_addr_allow_setting(cls);
			const void *raw = ai->ai_family == AF_INET
						  ? (const void *)&((const struct sockaddr_in *)ai->ai_addr)->sin_addr
						  : (const void *)&((const struct sockaddr_in6 *)ai->ai_addr)->sin6_addr;

			inet_ntop(ai->ai_family, raw, text, sizeof(text));
			snprintf(why, why_cap, "refused: %s resolves to %s, a %s address%s%s%s", host, text,
				 webhook_addr_class_name(cls), setting ? " (the setting " : "",
				 setting ? setting : "", setting ? " allows it)" : " (never allowed)");
			r = -EPERM;
			break;
		}
		r = address_append(ai->ai_addr, ret_addresses, cap, &len);
	}
	freeaddrinfo(res);
	if (r == 0 && len == 0) {
		snprintf(why, why_cap, "cannot resolve %s: no IPv4 or IPv6 address", host);
		r = -EHOSTUNREACH;
	}
	if (r == -ENOBUFS)
		snprintf(why, why_cap, "%s resolves to too many addresses", host);
	return r;
}
