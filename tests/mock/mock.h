/*
 * A scriptable mock broker / name server for what a real broker will not do
 * on demand: slow or missing answers, error codes, disconnects mid-frame,
 * garbage, oversized length prefixes, broker-initiated requests.
 * It listens on 127.0.0.1 (ephemeral port) and runs on its own thread.
 * Rules are matched by request code, first match wins; requests that match
 * no rule are answered SUCCESS, echoing the request's ext fields and body.
 */
#ifndef RMQ_TEST_MOCK_H
#define RMQ_TEST_MOCK_H

#include "codec/cmd.h"

typedef enum {
  MOCK_REPLY,          /* answer with resp_code/remark/ext/body after delay */
  MOCK_DROP,           /* never answer */
  MOCK_CLOSE,          /* close the connection at once */
  MOCK_CLOSE_MIDFRAME, /* write half of a response frame, then close */
  MOCK_GARBAGE,        /* write bytes that are no frame */
  MOCK_OVERSIZE,       /* write a length prefix of 2 GiB */
} mock_action_t;

typedef struct mock_rule {
  int32_t code;
  mock_action_t action;
  int32_t resp_code;
  const char *remark;
  int delay_ms;
  const char *ext[16][2]; /* {key, value} pairs, NULL-terminated */
  const uint8_t *body;
  size_t body_len;
  int times; /* apply this many times, then fall through; 0 = always */
} mock_rule_t;

typedef struct mock mock_t;

mock_t *mock_start(void);
void mock_stop(mock_t *m);
int mock_port(const mock_t *m);
/* Opens one more listening port (127.0.0.1) served like the first, so
 * that one mock can stand for many brokers; returns it, or -1. */
int mock_listen_more(mock_t *m);
/* "127.0.0.1:<port>" */
const char *mock_addr(const mock_t *m);
void mock_add_rule(mock_t *m, const mock_rule_t *rule);
void mock_clear_rules(mock_t *m);
/* While paused the mock reads nothing from its connections (their
 * socket buffers fill, and the client's writes stop short); it reads on
 * when resumed. */
void mock_pause_reads(mock_t *m, bool paused);
/* Requests received with @p code (-1: all). */
int mock_count(mock_t *m, int32_t code);
/* Of those, the one-way ones (no answer expected), and the others. */
int mock_count_oneway(mock_t *m, int32_t code);
int mock_count_twoway(mock_t *m, int32_t code);
/* Waits up to @p timeout_ms for @p n requests with @p code; returns the
 * count then. */
int mock_wait_count(mock_t *m, int32_t code, int n, int timeout_ms);
/* Sends a request (broker-initiated) on every open connection; the
 * response code the client sent back is reported by mock_last_reply. */
void mock_push(mock_t *m, int32_t code, bool oneway);
/* Answers GET_ROUTEINFO_BY_TOPIC (any topic) with one broker @p broker of
 * @p queues read/write queues, its master at @p master and, unless NULL,
 * a slave (broker id 1) at @p slave. */
void mock_serve_route(mock_t *m, const char *broker, const char *master,
                      const char *slave, int queues);
/* A one-way broker-initiated request with one ext field (e.g.
 * NOTIFY_CONSUMER_IDS_CHANGED with its consumerGroup). */
void mock_push_ext(mock_t *m, int32_t code, const char *key, const char *value);
/* A broker-initiated request with ext fields (@p ext: {key, value}
 * pairs ended by {NULL, NULL}) and a body, on every open connection. */
void mock_push_req(mock_t *m, int32_t code, bool oneway,
                   const char *const ext[][2], const uint8_t *body,
                   size_t body_len);
int mock_last_reply(mock_t *m, int32_t *code, char *remark, size_t n);
/* Copies the ext value of the last request with @p code. */
bool mock_last_ext(mock_t *m, int32_t code, const char *key, char *out,
                   size_t n);
/* Copies the body of the last request with @p code (NUL-terminated, cut
 * to @p n - 1 bytes); returns its length. */
size_t mock_last_body(mock_t *m, int32_t code, char *out, size_t n);

#endif
