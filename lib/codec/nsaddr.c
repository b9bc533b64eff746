#include "nsaddr.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' ||
         c == '\v' || c == '\0';
}

/* Case-insensitive search of a header line @p name: value containing
 * @p token. */
static bool header_has(const char *p, size_t n, const char *name,
                       const char *token) {
  size_t k = strlen(name), t = strlen(token);
  if (n <= k || strncasecmp(p, name, k) != 0 || p[k] != ':')
    return false;
  for (size_t i = k + 1; i + t <= n; i++)
    if (strncasecmp(p + i, token, t) == 0)
      return true;
  return false;
}

rmq_err_t rmqi_nsaddr_parse(const char *resp, size_t len, const char **list,
                            size_t *list_len, rmqi_errbuf_t *e) {
  rmqi_errbuf_clear(e);
  if (len > RMQI_NSADDR_MAX)
    return rmqi_err(e, RMQ_ERR_LIMIT, RMQI_NSADDR_MAX,
                    "address server response longer than %d bytes",
                    RMQI_NSADDR_MAX);
  /* status line: HTTP/1.x SP 3DIGIT [SP reason] CRLF */
  if (len < 12 || memcmp(resp, "HTTP/1.", 7) != 0 || resp[7] < '0' ||
      resp[7] > '9' || resp[8] != ' ')
    return rmqi_err(e, RMQ_ERR_BAD_RESPONSE, 0,
                    "address server answer is not an HTTP/1.x response");
  int status = 0;
  for (int i = 9; i < 12; i++) {
    if (resp[i] < '0' || resp[i] > '9')
      return rmqi_err(e, RMQ_ERR_BAD_RESPONSE, (size_t)i,
                      "address server answer has a malformed status code");
    status = status * 10 + (resp[i] - '0');
  }
  if (len > 12 && resp[12] != ' ' && resp[12] != '\r' && resp[12] != '\n')
    return rmqi_err(e, RMQ_ERR_BAD_RESPONSE, 12,
                    "address server answer has a malformed status code");
  if (status != 200)
    return rmqi_err(e, RMQ_ERR_BAD_RESPONSE, 9,
                    "address server answered HTTP status %d", status);
  /* headers, each ending in LF (CRLF tolerated), until an empty line */
  size_t pos = 12;
  const char *nl = memchr(resp + pos, '\n', len - pos);
  if (nl == NULL)
    return rmqi_err(e, RMQ_ERR_TRUNCATED, len,
                    "address server answer ends in the status line");
  pos = (size_t)(nl - resp) + 1;
  for (;;) {
    nl = memchr(resp + pos, '\n', len - pos);
    if (nl == NULL)
      return rmqi_err(e, RMQ_ERR_TRUNCATED, len,
                      "address server answer ends in its headers");
    size_t end = (size_t)(nl - resp), line = end - pos;
    if (line > 0 && resp[end - 1] == '\r')
      line--;
    if (line == 0) {
      pos = end + 1;
      break;
    }
    if (header_has(resp + pos, line, "Transfer-Encoding", "chunked"))
      return rmqi_err(e, RMQ_ERR_BAD_RESPONSE, pos,
                      "address server answer is chunked (not HTTP/1.0)");
    pos = end + 1;
  }
  /* the body: trimmed, up to the first CR or LF */
  const char *b = resp + pos, *z = resp + len;
  while (b < z && is_space(*b))
    b++;
  while (z > b && is_space(z[-1]))
    z--;
  const char *cut = b;
  while (cut < z && *cut != '\r' && *cut != '\n')
    cut++;
  while (cut > b && is_space(cut[-1])) /* Java keeps these; a list entry
                                        * cannot end in a space */
    cut--;
  *list = b;
  *list_len = (size_t)(cut - b);
  return RMQ_OK;
}

size_t rmqi_nsaddr_request(const char *host, const char *path, char *out,
                           size_t n) {
  int k = snprintf(out, n,
                   "GET %s HTTP/1.0\r\nHost: %s\r\nAccept: text/plain\r\n"
                   "Connection: close\r\n\r\n",
                   path, host);
  return k > 0 && (size_t)k < n ? (size_t)k : 0;
}
