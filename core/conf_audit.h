/*
 * conf_audit.h — the `audit` section of tenancyd.conf: the Ed25519 signing
 * key of the audit trail and the public keys of earlier (rotated) signing
 * keys that verification still accepts.  See tenancyd.conf(5).
 */
#ifndef TND_CONF_AUDIT_H
#define TND_CONF_AUDIT_H

#include <libconfig.h>

#include "conf.h"
#include "conf_reader.h"

int conf_audit_parse(struct conf_reader *reader, config_setting_t *root, struct tnd_conf *conf);
void conf_audit_free(struct tnd_conf *conf);

#endif /* TND_CONF_AUDIT_H */
