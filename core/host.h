/*
 * host.h — the core's side of the plugin host table (tenancyd/host.h):
 * building one table per plugin, and the jansson bridge.  Inside the core a
 * struct tnd_json is simply a jansson json_t.
 */
#ifndef TND_CORE_HOST_H
#define TND_CORE_HOST_H

#include <jansson.h>

#include <tenancyd/host.h>

/** A host table for plugin @plugin_name; free with host_free(). */
struct tnd_host *host_new(const char *plugin_name, const char *state_dir);
void host_free(struct tnd_host *host);

static inline const struct tnd_json *host_json(const json_t *value)
{
	return (const struct tnd_json *)value;
}

static inline const json_t *host_json_value(const struct tnd_json *doc)
{
	return (const json_t *)doc;
}

/** Resolve an RFC 6901 JSON Pointer; borrowed result or NULL. */
json_t *json_pointer_get(const json_t *doc, const char *pointer);

/* struct tnd_buf, used by core code directly */
void tnd_buf_init(struct tnd_buf *buf);
void tnd_buf_free(struct tnd_buf *buf);
void tnd_buf_reset(struct tnd_buf *buf);
int tnd_buf_add(struct tnd_buf *buf, const char *data, size_t len);
int tnd_buf_addf(struct tnd_buf *buf, const char *fmt, ...) TND_PRINTF(2, 3);
/** Hand over the buffer's data (caller frees); the buffer is reset. */
char *tnd_buf_steal(struct tnd_buf *buf);

#endif /* TND_CORE_HOST_H */
