/* The codec alone against a real server, over a plain blocking socket: ask
 * the name server for a route, send one SEND_MESSAGE_V2 to the broker, and
 * let the official Java client read the message back. */
#include "codec/cmd.h"
#include "codec/json.h"
#include "codec/route.h"
#include "it.h"
#include "test.h"
#include "util/time.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

static it_env_t env;

static int dial(const char *addr) {
  char host[64];
  const char *colon = strrchr(addr, ':');
  snprintf(host, sizeof(host), "%.*s", (int)(colon - addr), addr);
  struct sockaddr_in sa = {.sin_family = AF_INET,
                           .sin_port = htons((uint16_t)atoi(colon + 1))};
  inet_pton(AF_INET, host, &sa.sin_addr);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

/* Writes @p c, reads exactly one frame back into @p in, decodes it. */
static rmq_err_t call(int fd, rmqi_cmd_t *c, rmqi_buf_t *in, rmqi_cmd_t *out) {
  rmqi_buf_t b;
  rmqi_buf_init(&b);
  rmqi_cmd_encode(&b, c, RMQI_SER_JSON);
  ssize_t w = write(fd, b.data, b.len);
  rmqi_buf_free(&b);
  if (w < 0)
    return RMQ_ERR_IO;
  size_t fl = 0;
  rmqi_buf_reset(in);
  while (rmqi_frame_check(in->data, in->len, RMQI_DEFAULT_MAX_FRAME, &fl,
                          NULL) == RMQ_ERR_TRUNCATED) {
    rmqi_buf_reserve(in, 65536);
    ssize_t r = read(fd, in->data + in->len, in->cap - in->len);
    if (r <= 0)
      return RMQ_ERR_CONN_LOST;
    in->len += (size_t)r;
  }
  return rmqi_cmd_decode(out, in->data, fl, NULL);
}

TEST(route_and_send_with_the_codec_only) {
  char topic[128];
  it_unique(topic, sizeof(topic), "it_raw");
  char args[200];
  snprintf(args, sizeof(args), "%s --queues 2", topic);
  REQUIRE(it_harness(&env, "topic", args, NULL) == 0);

  int ns = dial(env.namesrv);
  REQUIRE(ns >= 0);
  rmqi_cmd_t req, resp;
  rmqi_buf_t in;
  rmqi_buf_init(&in);
  rmqi_cmd_init(&req, 105);
  req.opaque = 1;
  rmqi_cmd_ext_ref(&req, "topic", topic, strlen(topic));
  REQUIRE(call(ns, &req, &in, &resp) == RMQ_OK);
  CHECK_INT(resp.code, 0);
  CHECK_INT(resp.opaque, 1);
  CHECK(rmqi_cmd_is_response(&resp));
  rmqi_route_t route;
  rmqi_errbuf_t e;
  REQUIRE(rmqi_route_decode(&route, (const char *)resp.body, resp.body_len,
                            &e) == RMQ_OK);
  CHECK_UINT(route.n_queues, 1);
  CHECK_INT(route.queues[0].write_nums, 2);
  const char *addr = rmqi_route_addr(&route, "broker-a", 0);
  REQUIRE(addr != NULL);
  CHECK_STR(addr, env.broker_a);
  rmqi_cmd_free(&resp);
  rmqi_cmd_free(&req);
  close(ns);

  int br = dial(addr);
  REQUIRE(br >= 0);
  static const char props[] = "TAGS\x01RawTag\x02KEYS\x01raw-key\x02"
                              "city\x01\xe5\x8c\x97\xe4\xba\xac\x02WAIT\x01"
                              "true\x02UNIQ_KEY\x01"
                              "7F000001000000000000000000000001\x02";
  static const char body[] = "raw body \x01\x02\xff";
  rmqi_cmd_init(&req, 310);
  req.opaque = 2;
  rmqi_cmd_ext_ref(&req, "a", "RawGroup", 8);
  rmqi_cmd_ext_ref(&req, "b", topic, strlen(topic));
  rmqi_cmd_ext_ref(&req, "c", "TBW102", 6);
  rmqi_cmd_ext_ref(&req, "d", "4", 1);
  rmqi_cmd_ext_ref(&req, "e", "1", 1);
  rmqi_cmd_ext_ref(&req, "f", "0", 1);
  rmqi_cmd_ext_int(&req, "g", rmqi_wall_ms());
  rmqi_cmd_ext_ref(&req, "h", "0", 1);
  rmqi_cmd_ext_ref(&req, "i", props, sizeof(props) - 1);
  rmqi_cmd_ext_ref(&req, "j", "0", 1);
  rmqi_cmd_ext_ref(&req, "k", "false", 5);
  rmqi_cmd_ext_ref(&req, "m", "false", 5);
  rmqi_cmd_ext_ref(&req, "n", "broker-a", 8);
  req.body = (const uint8_t *)body;
  req.body_len = sizeof(body) - 1;
  REQUIRE(call(br, &req, &in, &resp) == RMQ_OK);
  CHECK_INT(resp.code, 0);
  CHECK_INT(resp.opaque, 2);
  int64_t qid = -1, qoff = -1;
  CHECK_ERR(rmqi_cmd_ext_get_int(&resp, "queueId", &qid), RMQ_OK);
  CHECK_ERR(rmqi_cmd_ext_get_int(&resp, "queueOffset", &qoff), RMQ_OK);
  CHECK_INT(qid, 1);
  CHECK_INT(qoff, 0);
  const rmqi_str_t *oid = rmqi_cmd_ext_get(&resp, "msgId");
  REQUIRE(oid != NULL);
  CHECK_UINT(oid->n, 32);
  char offset_id[40];
  snprintf(offset_id, sizeof(offset_id), "%s", oid->p);
  rmqi_cmd_free(&resp);
  rmqi_cmd_free(&req);
  close(br);
  rmqi_route_free(&route);
  rmqi_buf_free(&in);

  char *out = NULL, group[96];
  it_unique(group, sizeof(group), "it_raw_g");
  snprintf(args, sizeof(args),
           "consume --mode pull --group %s --topic %s --count 1 "
           "--quiet-ms 2000 --timeout-ms 60000 --from first",
           group, topic);
  CHECK_INT(it_peer(&env, args, NULL, &out), 0);
  /* consumed until quiet: exactly one message line, then the summary */
  int lines = 0;
  for (const char *q = out; q && *q; q++)
    lines += *q == '\n';
  CHECK_INT(lines, 2);
  CHECK(out && strstr(out, "\"reason\":\"quiet\"") != NULL);
  rmqi_json_t d;
  REQUIRE(out && rmqi_json_parse(&d, out, strcspn(out, "\n"), NULL) == RMQ_OK);
  CHECK(rmqi_json_get(d.root, "summary") == NULL);
  CHECK_STR(rmqi_json_str(d.root, "bodyHex"), "72617720626f6479200102ff");
  CHECK_STR(rmqi_json_str(d.root, "tags"), "RawTag");
  CHECK_STR(rmqi_json_str(d.root, "keys"), "raw-key");
  CHECK_STR(rmqi_json_str(rmqi_json_get(d.root, "userProps"), "city"),
            "\xe5\x8c\x97\xe4\xba\xac");
  CHECK_STR(rmqi_json_str(d.root, "msgId"), "7F000001000000000000000000000001");
  CHECK_STR(rmqi_json_str(d.root, "offsetMsgId"), offset_id);
  int64_t q = -1;
  CHECK(rmqi_json_int(d.root, "queueId", &q) && q == 1);
  rmqi_json_free(&d);
  free(out);
}

int main(void) {
  it_setup(&env);
  static const rmqt_case cases[] = {TCASE(route_and_send_with_the_codec_only)};
  return RUN_TESTS(cases);
}
