/*
 * webhook_address.h — which addresses a webhook may reach (SSRF guard):
 * classifying IPv4 and IPv6 addresses (IPv4 embedded in IPv6 classified as
 * the IPv4 address), the operator's allowances, and resolving a target
 * host into the list of addresses the connection is pinned to.
 */
#ifndef TND_WEBHOOK_ADDRESS_H
#define TND_WEBHOOK_ADDRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

enum webhook_addr_class {
	WEBHOOK_ADDR_PUBLIC = 0,
	WEBHOOK_ADDR_LOOPBACK,    /* 127/8, ::1 */
	WEBHOOK_ADDR_PRIVATE,     /* 10/8, 172.16/12, 192.168/16, fc00::/7, fec0::/10 */
	WEBHOOK_ADDR_SHARED,      /* 100.64/10, carrier-grade NAT (RFC 6598) */
	WEBHOOK_ADDR_LINK_LOCAL,  /* 169.254/16, fe80::/10 */
	WEBHOOK_ADDR_UNSPECIFIED, /* 0/8, :: */
	WEBHOOK_ADDR_MULTICAST,   /* 224/4, ff00::/8 */
	WEBHOOK_ADDR_RESERVED,    /* 192.0.0/24, 198.18/15, 240/4 and broadcast, 100::/64 */
};

/** What the operator allows besides public addresses (plugin settings). */
struct webhook_allow {
	bool loopback;   /* allow_loopback */
	bool private_;   /* allow_private: RFC 1918, ULA, site-local and 100.64/10 */
	bool link_local; /* allow_link_local */
};

/** "public", "loopback", "private", ... */
const char *webhook_addr_class_name(enum webhook_addr_class cls);
/** Classify an IPv4 address given in network byte order (4 bytes). */
enum webhook_addr_class webhook_addr_classify_v4(const uint8_t addr[4]);
/** Classify an IPv6 address; IPv4-mapped, IPv4-compatible and NAT64
 *  (64:ff9b::/96) addresses are classified as their IPv4 address. */
enum webhook_addr_class webhook_addr_classify_v6(const uint8_t addr[16]);
/** Classify an AF_INET or AF_INET6 socket address; anything else is RESERVED. */
enum webhook_addr_class webhook_addr_classify(const struct sockaddr *sa);
/** May a webhook connect to an address of this class?  Unspecified,
 *  multicast and reserved addresses are never allowed. */
bool webhook_addr_allowed(const struct webhook_allow *allow, enum webhook_addr_class cls);
/** The setting that would allow @cls, or NULL if none can. */
const char *webhook_addr_allow_setting(enum webhook_addr_class cls);

/**
 * Resolve @host (a name or an IP literal without brackets) for TCP to
 * @port and check every address it resolves to.  On success @ret_addresses
 * receives them comma-separated, IPv6 in brackets ("192.0.2.7,[2001:db8::7]"),
 * the form CURLOPT_RESOLVE takes.  Refusing the whole target when any one
 * address is forbidden keeps a name that mixes public and internal
 * addresses from ever reaching the internal one.
 * @return 0; -EPERM when an address is forbidden; -EHOSTUNREACH when the
 *         name does not resolve; -ENOBUFS when @cap is too small.  @why
 *         says which and why (no secrets: only the host and addresses).
 */
int webhook_resolve(const char *host, unsigned port, const struct webhook_allow *allow, char *ret_addresses,
		    size_t cap, char *why, size_t why_cap);

#endif /* TND_WEBHOOK_ADDRESS_H */
