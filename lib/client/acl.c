#include "acl.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

/* Java sorts the keys with String.compareTo (UTF-16 code units). Header
 * field names are ASCII, where that order is plain byte order. */
static int cmp_ext(const void *a, const void *b) {
  const rmqi_ext_t *x = *(const rmqi_ext_t *const *)a;
  const rmqi_ext_t *y = *(const rmqi_ext_t *const *)b;
  size_t n = RMQI_MIN(x->key.n, y->key.n);
  int c = memcmp(x->key.p, y->key.p, n);
  if (c)
    return c;
  return (x->key.n > y->key.n) - (x->key.n < y->key.n);
}

rmq_err_t rmqi_acl_signature(const rmqi_cmd_t *c, const char *secret_key,
                             char out[29]) {
  const rmqi_ext_t **sorted = malloc((c->n_ext ? c->n_ext : 1) * sizeof(*sorted));
  if (sorted == NULL)
    return RMQ_ERR_NOMEM;
  size_t n = 0;
  for (uint32_t i = 0; i < c->n_ext; i++) {
    const rmqi_ext_t *e = &c->ext[i];
    if (e->key.p == NULL || e->val.p == NULL ||
        strcmp(e->key.p, "Signature") == 0)
      continue;
    /* A duplicated key travels once (the last value wins on decode). */
    size_t j;
    for (j = 0; j < n; j++)
      if (sorted[j]->key.n == e->key.n &&
          memcmp(sorted[j]->key.p, e->key.p, e->key.n) == 0)
        break;
    if (j < n)
      sorted[j] = e;
    else
      sorted[n++] = e;
  }
  qsort(sorted, n, sizeof(*sorted), cmp_ext);

  /* EVP_DigestSign with an HMAC key: streams the values and the body without
   * copying them, and is not deprecated in OpenSSL 3 (HMAC_CTX is). */
  rmq_err_t rc = RMQ_ERR_NOMEM;
  unsigned char mac[EVP_MAX_MD_SIZE];
  size_t mac_len = sizeof(mac);
  EVP_PKEY *key = EVP_PKEY_new_raw_private_key(
      EVP_PKEY_HMAC, NULL, (const unsigned char *)secret_key,
      strlen(secret_key));
  EVP_MD_CTX *md = EVP_MD_CTX_new();
  if (key && md && EVP_DigestSignInit(md, NULL, EVP_sha1(), NULL, key) == 1) {
    int ok = 1;
    for (size_t i = 0; i < n && ok; i++)
      ok = EVP_DigestSignUpdate(md, sorted[i]->val.p, sorted[i]->val.n);
    if (ok && c->body_len)
      ok = EVP_DigestSignUpdate(md, c->body, c->body_len);
    if (ok && EVP_DigestSignFinal(md, mac, &mac_len) == 1 && mac_len == 20) {
      EVP_EncodeBlock((unsigned char *)out, mac, 20); /* 28 chars + NUL */
      rc = RMQ_OK;
    }
  }
  EVP_MD_CTX_free(md);
  EVP_PKEY_free(key);
  free(sorted);
  return rc;
}

rmq_err_t rmqi_acl_sign(rmqi_cmd_t *c, const rmqi_acl_t *acl) {
  rmq_err_t rc = rmqi_cmd_ext_ref(c, "AccessKey", acl->access_key,
                                  strlen(acl->access_key));
  if (rc == RMQ_OK && acl->security_token && *acl->security_token)
    rc = rmqi_cmd_ext_ref(c, "SecurityToken", acl->security_token,
                          strlen(acl->security_token));
  if (rc != RMQ_OK)
    return rc;
  char sig[29];
  rc = rmqi_acl_signature(c, acl->secret_key, sig);
  if (rc != RMQ_OK)
    return rc;
  return rmqi_cmd_ext_copy(c, "Signature", sig, 28);
}
