/*
 * ACL request signing (client-behaviour.md §15), identical for 4.9 ACL 1.0
 * and 5.x ACL 2.0: after every other ext field is in place, add AccessKey
 * (and SecurityToken), sort all ext fields but Signature by key, concatenate
 * their values, append the body, HMAC-SHA1 with the secret key, Base64.
 */
#ifndef RMQI_CLIENT_ACL_H
#define RMQI_CLIENT_ACL_H

#include "../codec/cmd.h"

typedef struct rmqi_acl {
  const char *access_key;
  const char *secret_key;
  const char *security_token; /* NULL or "" when unused */
} rmqi_acl_t;

/* Adds AccessKey, SecurityToken and Signature to @p c (which must hold every
 * other ext field and its body already). */
rmq_err_t rmqi_acl_sign(rmqi_cmd_t *c, const rmqi_acl_t *acl);

/* The signature alone, Base64 text into @p out (at least 29 bytes). Exposed
 * for the tests. */
rmq_err_t rmqi_acl_signature(const rmqi_cmd_t *c, const char *secret_key,
                             char out[29]);

#endif
