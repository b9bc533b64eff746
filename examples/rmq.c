/*
 * rmq — the command-line tool of librmq (the kcat of RocketMQ).
 *
 *   rmq send      send messages from arguments or stdin
 *   rmq consume   consume a topic (lite pull or push) as text or JSON lines
 *   rmq route     a topic's brokers and queues
 *   rmq offsets   a group's committed offsets, max offsets and lag
 *   rmq perf      producer and consumer benchmark
 *
 * Uses only the public API (include/rmq.h). See doc/cli.md.
 * Exit codes: 0 success, 1 runtime failure, 2 usage error.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <rmq.h>

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define EXIT_OK 0
#define EXIT_FAIL 1
#define EXIT_USAGE 2
#define DESTROY_MS 5000

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig) {
  (void)sig;
  stop_flag = 1;
}

static void install_signals(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
}

/* One line on stderr: "rmq <cmd>: <what>". */
static const char *cur_cmd = "rmq";

static void die_line(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
static void die_line(const char *fmt, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof(buf), fmt, ap);
  va_end(ap);
  for (char *p = buf; *p; p++) /* one line, whatever the library said */
    if (*p == '\n' || *p == '\r')
      *p = ' ';
  fprintf(stderr, "rmq %s: %s\n", cur_cmd, buf);
}

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ---- options shared by every command ----------------------------------- */

typedef struct common {
  rmq_conf_t *conf;
  const char *namesrv;
  const char *topic;
  const char *group;
  int verbose;
} common_t;

static void log_cb(void *opaque, rmq_log_level_t level, const char *component,
                   const char *msg) {
  (void)opaque;
  static const char *names[] = {"",     "", "",     "ERROR",
                                "WARN", "", "INFO", "DEBUG"};
  fprintf(stderr, "rmq: librmq %s %s: %s\n",
          (int)level < 8 ? names[level] : "?", component, msg);
}

static void quiet_log_cb(void *opaque, rmq_log_level_t level,
                         const char *component, const char *msg) {
  (void)opaque, (void)level, (void)component, (void)msg;
}

static int conf_set(common_t *c, const char *key, const char *value) {
  char err[256] = "";
  rmq_err_t rc = rmq_conf_set(c->conf, key, value, err, sizeof(err));
  if (rc != RMQ_OK) {
    die_line("-X %s=%s: %s", key, value, err[0] ? err : rmq_err_str(rc));
    return -1;
  }
  return 0;
}

/* -X key=value: applied at once, after the command's own defaults. */
static int conf_kv(common_t *c, const char *kv) {
  const char *eq = strchr(kv, '=');
  if (eq == NULL || eq == kv) {
    die_line("-X %s: expected key=value", kv);
    return -1;
  }
  char key[128];
  size_t n = (size_t)(eq - kv);
  if (n >= sizeof(key)) {
    die_line("-X: key too long");
    return -1;
  }
  memcpy(key, kv, n);
  key[n] = '\0';
  return conf_set(c, key, eq + 1);
}

/* Options every command takes: -b -t -g -X -v -h. Returns 1 when @p opt was
 * one of them, -1 on a bad value (usage), 0 otherwise. */
static int common_opt(common_t *c, int opt, const char *arg) {
  switch (opt) {
  case 'b':
    c->namesrv = arg;
    return conf_set(c, "namesrvAddr", arg) == 0 ? 1 : -1;
  case 't':
    c->topic = arg;
    return 1;
  case 'g':
    c->group = arg;
    return 1;
  case 'X':
    return conf_kv(c, arg) == 0 ? 1 : -1;
  case 'v':
    c->verbose = 1;
    rmq_conf_set_log_cb(c->conf, log_cb, NULL);
    return 1;
  default:
    return 0;
  }
}

#define COMMON_LONGOPTS                                                        \
  {"namesrv", required_argument, NULL, 'b'},                                   \
      {"topic", required_argument, NULL, 't'},                                 \
      {"group", required_argument, NULL, 'g'},                                 \
      {"conf", required_argument, NULL, 'X'},                                  \
      {"verbose", no_argument, NULL, 'v'}, {"help", no_argument, NULL, 'h'}

#define COMMON_HELP                                                            \
  "  -b, --namesrv ADDR     name server(s), host:port[;host:port]\n"           \
  "  -X, --conf KEY=VALUE   any configuration key (doc/configuration.md);\n"   \
  "                         repeatable, applied in order\n"                    \
  "  -v, --verbose          show the library's log lines on stderr\n"          \
  "  -h, --help             this help\n"

static int common_init(common_t *c) {
  memset(c, 0, sizeof(*c));
  c->conf = rmq_conf_new();
  if (c->conf == NULL) {
    die_line("out of memory");
    return -1;
  }
  rmq_conf_set_log_cb(c->conf, quiet_log_cb, NULL);
  return 0;
}

static int need(const char *what, const void *v) {
  if (v == NULL) {
    die_line("%s is required (see --help)", what);
    return -1;
  }
  return 0;
}

/* After getopt_long returned '?' or ':'. */
static void bad_opt(char **argv) {
  const char *o = argv[optind - 1];
  if (optopt && strchr(":?", optopt) == NULL && o[0] == '-' && o[1] != '-')
    die_line("option -%c: unknown or missing its value (see --help)", optopt);
  else
    die_line("option %s: unknown or missing its value (see --help)", o);
}

static int parse_long(const char *s, long long min, long long max,
                      long long *out) {
  char *end;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (errno || end == s || *end || v < min || v > max)
    return -1;
  *out = v;
  return 0;
}

/* ---- JSON output -------------------------------------------------------- */

static void json_str(FILE *f, const char *s, size_t len) {
  fputc('"', f);
  for (size_t i = 0; i < len; i++) {
    unsigned char ch = (unsigned char)s[i];
    const char *esc = ch == '"'    ? "\\\""
                      : ch == '\\' ? "\\\\"
                      : ch == '\n' ? "\\n"
                      : ch == '\r' ? "\\r"
                      : ch == '\t' ? "\\t"
                                   : NULL;
    if (esc)
      fputs(esc, f);
    else if (ch < 0x20 || ch == 0x7f)
      fprintf(f, "\\u%04x", ch);
    else
      fputc(ch, f);
  }
  fputc('"', f);
}

static void json_cstr(FILE *f, const char *s) {
  if (s == NULL)
    fputs("null", f);
  else
    json_str(f, s, strlen(s));
}

/* Well-formed UTF-8 (no overlongs, surrogates or NUL), so the body can be
 * written as a JSON string and read back byte for byte. */
static int is_utf8_text(const unsigned char *s, size_t len) {
  size_t i = 0;
  while (i < len) {
    unsigned char c = s[i];
    size_t n;
    uint32_t cp;
    if (c == 0)
      return 0;
    if (c < 0x80) {
      i++;
      continue;
    } else if ((c & 0xe0) == 0xc0) {
      n = 1, cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      n = 2, cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      n = 3, cp = c & 0x07;
    } else {
      return 0;
    }
    if (i + n >= len) /* truncated sequence */
      return 0;
    for (size_t k = 1; k <= n; k++) {
      if ((s[i + k] & 0xc0) != 0x80)
        return 0;
      cp = (cp << 6) | (s[i + k] & 0x3f);
    }
    if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) ||
        (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
        (cp >= 0xd800 && cp <= 0xdfff))
      return 0;
    i += n + 1;
  }
  return 1;
}

static void base64(FILE *f, const unsigned char *s, size_t len) {
  static const char t[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  fputc('"', f);
  size_t i = 0;
  for (; i + 2 < len; i += 3) {
    uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
    fputc(t[v >> 18], f), fputc(t[(v >> 12) & 63], f);
    fputc(t[(v >> 6) & 63], f), fputc(t[v & 63], f);
  }
  if (len - i == 1) {
    uint32_t v = (uint32_t)s[i] << 16;
    fputc(t[v >> 18], f), fputc(t[(v >> 12) & 63], f), fputs("==", f);
  } else if (len - i == 2) {
    uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8;
    fputc(t[v >> 18], f), fputc(t[(v >> 12) & 63], f);
    fputc(t[(v >> 6) & 63], f), fputc('=', f);
  }
  fputc('"', f);
}

static const char *send_status_name(rmq_send_status_t s) {
  switch (s) {
  case RMQ_SEND_OK:
    return "SEND_OK";
  case RMQ_SEND_FLUSH_DISK_TIMEOUT:
    return "FLUSH_DISK_TIMEOUT";
  case RMQ_SEND_FLUSH_SLAVE_TIMEOUT:
    return "FLUSH_SLAVE_TIMEOUT";
  case RMQ_SEND_SLAVE_NOT_AVAILABLE:
    return "SLAVE_NOT_AVAILABLE";
  }
  return "UNKNOWN";
}

/* ---- send --------------------------------------------------------------- */

static const char send_help[] =
    "Usage: rmq send -b NAMESRV -t TOPIC [options] [BODY...]\n"
    "Sends one message per BODY argument; without BODY, reads stdin (one\n"
    "message per line, or the whole input with --whole). Prints one line per\n"
    "message sent: msgId, broker, queue, offset (JSON with -J).\n"
    "  -t, --topic TOPIC      topic (required)\n"
    "  -k, --keys KEYS        message keys (several separated by spaces)\n"
    "  -T, --tags TAGS        message tag\n"
    "  -p, --property N=V     user property (repeatable)\n"
    "      --delay LEVEL      delay level 1..18\n"
    "      --sharding-key K   ordered send: the queue K hashes to\n"
    "      --lines            stdin: one message per line (default; empty\n"
    "                         lines are skipped)\n"
    "      --whole            stdin: the whole input is one message\n"
    "      --async            asynchronous sends (results as they complete)\n"
    "      --oneway           one-way sends (no result, nothing printed)\n"
    "      --batch            all messages in one batch request\n"
    "  -J, --json             results as JSON lines\n" COMMON_HELP;

typedef struct send_opts {
  const char *keys, *tags, *sharding_key;
  const char **props;
  size_t n_props;
  int delay, whole, async, oneway, batch, json;
} send_opts_t;

typedef struct send_state {
  pthread_mutex_t mu;
  const send_opts_t *o;
  long ok, failed;
} send_state_t;

static void print_result(const send_opts_t *o, const rmq_send_result_t *r) {
  if (o->json) {
    printf("{\"msgId\":");
    json_cstr(stdout, r->msg_id);
    printf(",\"offsetMsgId\":");
    json_cstr(stdout, r->offset_msg_id);
    printf(",\"topic\":");
    json_cstr(stdout, r->topic);
    printf(",\"broker\":");
    json_cstr(stdout, r->broker_name);
    printf(",\"queue\":%d,\"offset\":%" PRId64 ",\"status\":\"%s\"}\n",
           r->queue_id, r->queue_offset, send_status_name(r->status));
  } else {
    printf("%s %s %s:%d@%" PRId64 "\n", r->msg_id ? r->msg_id : "-",
           send_status_name(r->status), r->broker_name ? r->broker_name : "-",
           r->queue_id, r->queue_offset);
  }
}

static void report_send_error(rmq_err_t err, const rmq_send_result_t *r) {
  if (r && r->error && r->error[0])
    die_line("%s: %s", rmq_err_name(err), r->error);
  else
    die_line("%s: %s", rmq_err_name(err), rmq_err_str(err));
}

static void on_sent(rmq_producer_t *p, rmq_err_t err,
                    const rmq_send_result_t *res, rmq_msg_t *msg,
                    void *opaque) {
  (void)p, (void)msg;
  send_state_t *st = opaque;
  pthread_mutex_lock(&st->mu);
  if (err == RMQ_OK) {
    st->ok++;
    print_result(st->o, res);
  } else {
    st->failed++;
    report_send_error(err, res);
  }
  pthread_mutex_unlock(&st->mu);
}

static rmq_msg_t *build_msg(const char *topic, const send_opts_t *o,
                            const char *body, size_t len) {
  rmq_msg_t *m = rmq_msg_new(topic);
  if (m == NULL) {
    die_line("out of memory");
    return NULL;
  }
  rmq_err_t rc = rmq_msg_set_body(m, body, len);
  if (rc == RMQ_OK && o->keys)
    rc = rmq_msg_set_keys(m, o->keys);
  if (rc == RMQ_OK && o->tags)
    rc = rmq_msg_set_tags(m, o->tags);
  if (rc == RMQ_OK && o->delay)
    rc = rmq_msg_set_delay_level(m, o->delay);
  if (rc == RMQ_OK && o->sharding_key)
    rc = rmq_msg_set_sharding_key(m, o->sharding_key);
  for (size_t i = 0; rc == RMQ_OK && i < o->n_props; i++) {
    const char *kv = o->props[i];
    const char *eq = strchr(kv, '=');
    char *name = strndup(kv, (size_t)(eq - kv));
    if (name == NULL) {
      rc = RMQ_ERR_NOMEM;
      break;
    }
    rc = rmq_msg_set_property(m, name, eq + 1);
    if (rc != RMQ_OK)
      die_line("property %s: %s", name, rmq_err_str(rc));
    free(name);
    if (rc != RMQ_OK) {
      rmq_msg_destroy(m);
      return NULL;
    }
  }
  if (rc != RMQ_OK) {
    die_line("message: %s", rmq_err_str(rc));
    rmq_msg_destroy(m);
    return NULL;
  }
  return m;
}

/* Reads all of stdin; NULL on error. */
static char *read_all(FILE *f, size_t *len) {
  size_t cap = 65536, n = 0;
  char *buf = malloc(cap);
  if (buf == NULL)
    return NULL;
  for (;;) {
    if (n == cap) {
      char *nb = cap > SIZE_MAX / 2 ? NULL : realloc(buf, cap * 2);
      if (nb == NULL) {
        free(buf);
        return NULL;
      }
      buf = nb, cap *= 2;
    }
    size_t r = fread(buf + n, 1, cap - n, f);
    n += r;
    if (r == 0) {
      if (ferror(f)) {
        free(buf);
        return NULL;
      }
      break;
    }
  }
  *len = n;
  return buf;
}

typedef struct body {
  const char *p;
  size_t len;
} body_t;

static int send_one(rmq_producer_t *p, const char *topic, const send_opts_t *o,
                    send_state_t *st, const char *body, size_t len) {
  rmq_msg_t *m = build_msg(topic, o, body, len);
  if (m == NULL)
    return -1;
  rmq_send_result_t r;
  memset(&r, 0, sizeof(r));
  rmq_err_t rc;
  if (o->async) {
    rc = rmq_producer_send_async(p, m, on_sent, st);
    if (rc == RMQ_OK)
      return 0;
  } else if (o->oneway) {
    rc = rmq_producer_send_oneway(p, m);
  } else if (o->sharding_key) {
    rc = rmq_producer_send_orderly(p, m, &r);
  } else {
    rc = rmq_producer_send(p, m, &r);
  }
  rmq_msg_destroy(m);
  if (rc != RMQ_OK) {
    report_send_error(rc, &r);
    rmq_send_result_clear(&r);
    return -1;
  }
  if (!o->oneway)
    print_result(o, &r);
  rmq_send_result_clear(&r);
  return 0;
}

static int send_batch(rmq_producer_t *p, const char *topic,
                      const send_opts_t *o, const body_t *bodies, size_t n) {
  rmq_msg_t **msgs = calloc(n ? n : 1, sizeof(*msgs));
  int ret = -1;
  size_t built = 0;
  if (msgs == NULL) {
    die_line("out of memory");
    return -1;
  }
  for (; built < n; built++)
    if ((msgs[built] =
             build_msg(topic, o, bodies[built].p, bodies[built].len)) == NULL)
      goto out;
  rmq_send_result_t r;
  memset(&r, 0, sizeof(r));
  rmq_err_t rc = rmq_producer_send_batch(p, msgs, n, &r);
  if (rc != RMQ_OK) {
    report_send_error(rc, &r);
  } else {
    print_result(o, &r);
    ret = 0;
  }
  rmq_send_result_clear(&r);
out:
  for (size_t i = 0; i < built; i++)
    rmq_msg_destroy(msgs[i]);
  free(msgs);
  return ret;
}

static int cmd_send(int argc, char **argv) {
  enum { O_DELAY = 256, O_SHARD, O_LINES, O_WHOLE, O_ASYNC, O_ONEWAY, O_BATCH };
  static const struct option lo[] = {
      COMMON_LONGOPTS,
      {"keys", required_argument, NULL, 'k'},
      {"tags", required_argument, NULL, 'T'},
      {"property", required_argument, NULL, 'p'},
      {"delay", required_argument, NULL, O_DELAY},
      {"sharding-key", required_argument, NULL, O_SHARD},
      {"lines", no_argument, NULL, O_LINES},
      {"whole", no_argument, NULL, O_WHOLE},
      {"async", no_argument, NULL, O_ASYNC},
      {"oneway", no_argument, NULL, O_ONEWAY},
      {"batch", no_argument, NULL, O_BATCH},
      {"json", no_argument, NULL, 'J'},
      {NULL, 0, NULL, 0}};
  common_t c;
  send_opts_t o;
  memset(&o, 0, sizeof(o));
  if (common_init(&c) != 0)
    return EXIT_FAIL;
  int ret = EXIT_USAGE, opt;
  o.props = calloc((size_t)argc, sizeof(*o.props));
  if (o.props == NULL) {
    die_line("out of memory");
    ret = EXIT_FAIL;
    goto out;
  }
  if (conf_set(&c, "producerGroup", "rmq_cli_producer") != 0)
    goto out;
  while ((opt = getopt_long(argc, argv, "+b:t:g:X:vhk:T:p:J", lo, NULL)) !=
         -1) {
    int r = common_opt(&c, opt, optarg);
    if (r < 0)
      goto out;
    if (r > 0) {
      if (opt == 'g' && conf_set(&c, "producerGroup", optarg) != 0)
        goto out;
      continue;
    }
    long long v;
    switch (opt) {
    case 'h':
      fputs(send_help, stdout);
      ret = EXIT_OK;
      goto out;
    case 'k':
      o.keys = optarg;
      break;
    case 'T':
      o.tags = optarg;
      break;
    case 'p':
      if (strchr(optarg, '=') == NULL || optarg[0] == '=') {
        die_line("-p %s: expected name=value", optarg);
        goto out;
      }
      o.props[o.n_props++] = optarg;
      break;
    case O_DELAY:
      if (parse_long(optarg, 1, 18, &v) != 0) {
        die_line("--delay %s: expected a level 1..18", optarg);
        goto out;
      }
      o.delay = (int)v;
      break;
    case O_SHARD:
      o.sharding_key = optarg;
      break;
    case O_LINES:
      o.whole = 0;
      break;
    case O_WHOLE:
      o.whole = 1;
      break;
    case O_ASYNC:
      o.async = 1;
      break;
    case O_ONEWAY:
      o.oneway = 1;
      break;
    case O_BATCH:
      o.batch = 1;
      break;
    case 'J':
      o.json = 1;
      break;
    default:
      bad_opt(argv);
      goto out;
    }
  }
  if (need("-b NAMESRV", c.namesrv) || need("-t TOPIC", c.topic))
    goto out;
  if (o.async + o.oneway + o.batch + (o.sharding_key != NULL) > 1) {
    die_line("--async, --oneway, --batch and --sharding-key exclude each "
             "other");
    goto out;
  }

  /* the bodies: arguments, or stdin */
  ret = EXIT_FAIL;
  body_t *bodies = NULL;
  size_t n = 0;
  char *input = NULL;
  if (optind < argc) {
    bodies = calloc((size_t)(argc - optind), sizeof(*bodies));
    if (bodies == NULL) {
      die_line("out of memory");
      goto out;
    }
    for (int i = optind; i < argc; i++)
      bodies[n++] = (body_t){argv[i], strlen(argv[i])};
  } else {
    size_t len;
    input = read_all(stdin, &len);
    if (input == NULL) {
      die_line("reading stdin: %s", strerror(errno ? errno : ENOMEM));
      goto out;
    }
    size_t lines = 1;
    for (size_t i = 0; i < len; i++)
      lines += input[i] == '\n';
    bodies = calloc(lines, sizeof(*bodies));
    if (bodies == NULL) {
      free(input);
      die_line("out of memory");
      goto out;
    }
    if (o.whole) {
      if (len)
        bodies[n++] = (body_t){input, len};
    } else {
      size_t start = 0;
      for (size_t i = 0; i <= len; i++) {
        if (i == len || input[i] == '\n') {
          size_t e = i;
          if (e > start && input[e - 1] == '\r')
            e--;
          if (e > start)
            bodies[n++] = (body_t){input + start, e - start};
          start = i + 1;
        }
      }
    }
  }
  if (n == 0) {
    die_line("nothing to send");
    free(bodies);
    free(input);
    goto out;
  }

  char err[512] = "";
  rmq_producer_t *p = rmq_producer_new(NULL, c.conf, err, sizeof(err));
  if (p == NULL) {
    die_line("producer: %s", err);
    free(bodies);
    free(input);
    goto out;
  }
  send_state_t st;
  memset(&st, 0, sizeof(st));
  pthread_mutex_init(&st.mu, NULL);
  st.o = &o;
  int failed = 0;
  if (o.batch) {
    failed = send_batch(p, c.topic, &o, bodies, n) != 0;
  } else {
    for (size_t i = 0; i < n && !stop_flag; i++) {
      if (send_one(p, c.topic, &o, &st, bodies[i].p, bodies[i].len) != 0) {
        failed = 1;
        break;
      }
    }
  }
  if (o.async && rmq_producer_flush(p, 30000) != RMQ_OK) {
    die_line("some sends still in flight after 30 s");
    failed = 1;
  }
  rmq_producer_destroy(p, DESTROY_MS);
  if (st.failed)
    failed = 1;
  pthread_mutex_destroy(&st.mu);
  fflush(stdout);
  free(bodies);
  free(input);
  ret = failed || stop_flag ? EXIT_FAIL : EXIT_OK;
out:
  free(o.props);
  rmq_conf_destroy(c.conf);
  return ret;
}

/* ---- consume ------------------------------------------------------------ */

static const char consume_help[] =
    "Usage: rmq consume -b NAMESRV -t TOPIC -g GROUP [options]\n"
    "Consumes TOPIC as consumer group GROUP and prints each message, until\n"
    "COUNT messages, --idle-ms without a message, or Ctrl-C. Offsets are\n"
    "committed for GROUP as it goes.\n"
    "  -t, --topic TOPIC      topic (required)\n"
    "  -g, --group GROUP      consumer group (required)\n"
    "      --lite             lite pull consumer (default)\n"
    "      --push             push consumer\n"
    "      --from WHERE       where a group with no committed offset starts:\n"
    "                         first, last (default), a time in ms since the\n"
    "                         epoch, or ISO 8601 (2024-05-01T12:00:00[Z])\n"
    "  -e, --tags EXPR        tag filter (\"TagA || TagB\"; default *)\n"
    "      --sql EXPR         SQL92 filter over properties\n"
    "  -c, --count N          stop after N messages\n"
    "      --idle-ms N        stop after N ms without a message\n"
    "  -f, --format F         text (body, one per line; default) or json\n"
    "  -J                     same as -f json\n" COMMON_HELP;

typedef struct consume_state {
  pthread_mutex_t mu;
  int json;
  long count, got;
  int64_t last_ms;
  rmq_push_consumer_t *push;
} consume_state_t;

static void print_msg(const consume_state_t *s, const rmq_msg_t *m) {
  size_t len = 0;
  const unsigned char *body = rmq_msg_body(m, &len);
  if (!s->json) {
    fwrite(body, 1, len, stdout);
    fputc('\n', stdout);
    return;
  }
  printf("{\"topic\":");
  json_cstr(stdout, rmq_msg_topic(m));
  printf(",\"msgId\":");
  json_cstr(stdout, rmq_msg_id(m));
  printf(",\"offsetMsgId\":");
  json_cstr(stdout, rmq_msg_offset_id(m));
  printf(",\"keys\":");
  json_cstr(stdout, rmq_msg_keys(m));
  printf(",\"tags\":");
  json_cstr(stdout, rmq_msg_tags(m));
  printf(",\"properties\":{");
  size_t np = rmq_msg_property_count(m);
  for (size_t i = 0; i < np; i++) {
    const char *k, *v;
    if (rmq_msg_property_at(m, i, &k, &v) != RMQ_OK)
      break;
    if (i)
      fputc(',', stdout);
    json_cstr(stdout, k);
    fputc(':', stdout);
    json_cstr(stdout, v);
  }
  printf("},\"body\":");
  int text = is_utf8_text(body, len);
  if (text)
    json_str(stdout, (const char *)body, len);
  else
    base64(stdout, body, len);
  printf(",\"bodyEncoding\":\"%s\",\"broker\":", text ? "text" : "base64");
  json_cstr(stdout, rmq_msg_broker_name(m));
  printf(",\"queue\":%d,\"offset\":%" PRId64 ",\"reconsumeTimes\":%d"
         ",\"bornTimestamp\":%" PRId64 ",\"storeTimestamp\":%" PRId64 "}\n",
         rmq_msg_queue_id(m), rmq_msg_queue_offset(m),
         rmq_msg_reconsume_times(m), rmq_msg_born_timestamp(m),
         rmq_msg_store_timestamp(m));
}

static rmq_consume_status_t on_push(rmq_push_consumer_t *pc,
                                    rmq_msg_t *const *msgs, size_t n,
                                    rmq_consume_ctx_t *ctx, void *opaque) {
  consume_state_t *s = opaque;
  pthread_mutex_lock(&s->mu);
  size_t i = 0;
  for (; i < n && (s->count == 0 || s->got < s->count) && !stop_flag; i++) {
    print_msg(s, msgs[i]);
    s->got++;
  }
  fflush(stdout);
  s->last_ms = now_ms();
  int done = s->count && s->got >= s->count;
  pthread_mutex_unlock(&s->mu);
  if (done)
    rmq_push_consumer_suspend(pc);
  if (i < n) { /* past COUNT or stopping: redelivered later, not lost */
    ctx->ack_index = (int)i - 1;
    return i ? RMQ_CONSUME_SUCCESS : RMQ_CONSUME_RETRY_LATER;
  }
  return RMQ_CONSUME_SUCCESS;
}

/* --from: sets consumeFromWhere (and consumeTimestamp). */
static int set_from(common_t *c, const char *from) {
  if (strcmp(from, "first") == 0)
    return conf_set(c, "consumeFromWhere", "CONSUME_FROM_FIRST_OFFSET");
  if (strcmp(from, "last") == 0)
    return conf_set(c, "consumeFromWhere", "CONSUME_FROM_LAST_OFFSET");
  time_t t;
  long long ms;
  if (parse_long(from, 0, INT64_MAX / 2, &ms) == 0) {
    t = (time_t)(ms / 1000);
  } else {
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    int y, mo, d, h = 0, mi = 0, s = 0, used = 0;
    char sep;
    int k = sscanf(from, "%d-%d-%d%c%d:%d:%d%n", &y, &mo, &d, &sep, &h, &mi, &s,
                   &used);
    if (k == 3) {
      h = mi = s = 0;
      used = (int)strlen(from);
      if (sscanf(from, "%*d-%*d-%*d%n", &used) < 0 || used != (int)strlen(from))
        goto bad;
    } else if (k != 7 || (sep != 'T' && sep != ' ')) {
      goto bad;
    }
    const char *rest = from + used;
    if (*rest == '.') /* fractions of a second: dropped */
      for (rest++; *rest >= '0' && *rest <= '9'; rest++)
        ;
    tm.tm_year = y - 1900, tm.tm_mon = mo - 1, tm.tm_mday = d;
    tm.tm_hour = h, tm.tm_min = mi, tm.tm_sec = s, tm.tm_isdst = -1;
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60)
      goto bad;
    if (*rest == '\0') {
      t = mktime(&tm);
    } else {
      int oh = 0, om = 0;
      long off = 0;
      if (strcmp(rest, "Z") == 0) {
        off = 0;
      } else if ((rest[0] == '+' || rest[0] == '-') &&
                 sscanf(rest + 1, "%2d:%2d", &oh, &om) == 2 &&
                 strlen(rest) == 6) {
        off = (oh * 3600L + om * 60L) * (rest[0] == '-' ? -1 : 1);
      } else {
        goto bad;
      }
      t = timegm(&tm) - off;
    }
  }
  struct tm lt;
  char buf[32];
  if (localtime_r(&t, &lt) == NULL ||
      strftime(buf, sizeof(buf), "%Y%m%d%H%M%S", &lt) == 0)
    goto bad;
  if (conf_set(c, "consumeFromWhere", "CONSUME_FROM_TIMESTAMP") != 0)
    return -1;
  return conf_set(c, "consumeTimestamp", buf);
bad:
  die_line("--from %s: expected first, last, ms since the epoch or "
           "YYYY-MM-DD[THH:MM:SS[.fff][Z|+HH:MM]]",
           from);
  return -1;
}

/* Fails fast (exit 1) when the name server cannot be reached or the topic
 * has no route, instead of waiting for messages that cannot come. */
static int check_topic(rmq_pull_consumer_t *pc, const char *topic) {
  rmq_queue_list_t ql;
  memset(&ql, 0, sizeof(ql));
  rmq_err_t rc = rmq_pull_consumer_fetch_queues(pc, topic, &ql);
  if (rc != RMQ_OK) {
    die_line("topic %s: %s (%s)", topic, rmq_err_str(rc), rmq_err_name(rc));
    return -1;
  }
  rmq_queue_list_clear(&ql);
  return 0;
}

static int cmd_consume(int argc, char **argv) {
  enum { O_PUSH = 256, O_LITE, O_FROM, O_SQL, O_IDLE };
  static const struct option lo[] = {
      COMMON_LONGOPTS,
      {"push", no_argument, NULL, O_PUSH},
      {"lite", no_argument, NULL, O_LITE},
      {"from", required_argument, NULL, O_FROM},
      {"tags", required_argument, NULL, 'e'},
      {"sql", required_argument, NULL, O_SQL},
      {"count", required_argument, NULL, 'c'},
      {"idle-ms", required_argument, NULL, O_IDLE},
      {"format", required_argument, NULL, 'f'},
      {NULL, 0, NULL, 0}};
  common_t c;
  if (common_init(&c) != 0)
    return EXIT_FAIL;
  int ret = EXIT_USAGE, opt, push = 0;
  const char *expr = "*", *sql = NULL;
  long long idle = 0, count = 0;
  consume_state_t s;
  memset(&s, 0, sizeof(s));
  /* one consume thread, so that the push listener's output keeps the
   * queue's order; -X consumeThreadMin=N overrides */
  if (conf_set(&c, "consumeThreadMin", "1") != 0)
    goto out;
  while ((opt = getopt_long(argc, argv, "+b:t:g:X:vhe:c:f:J", lo, NULL)) !=
         -1) {
    int r = common_opt(&c, opt, optarg);
    if (r < 0)
      goto out;
    if (r > 0)
      continue;
    switch (opt) {
    case 'h':
      fputs(consume_help, stdout);
      ret = EXIT_OK;
      goto out;
    case O_PUSH:
      push = 1;
      break;
    case O_LITE:
      push = 0;
      break;
    case O_FROM:
      if (set_from(&c, optarg) != 0)
        goto out;
      break;
    case 'e':
      expr = optarg;
      break;
    case O_SQL:
      sql = optarg;
      break;
    case 'c':
      if (parse_long(optarg, 1, INT64_MAX / 2, &count) != 0) {
        die_line("-c %s: expected a count > 0", optarg);
        goto out;
      }
      break;
    case O_IDLE:
      if (parse_long(optarg, 1, INT32_MAX, &idle) != 0) {
        die_line("--idle-ms %s: expected ms > 0", optarg);
        goto out;
      }
      break;
    case 'f':
      if (strcmp(optarg, "json") == 0)
        s.json = 1;
      else if (strcmp(optarg, "text") == 0)
        s.json = 0;
      else {
        die_line("-f %s: expected text or json", optarg);
        goto out;
      }
      break;
    case 'J':
      s.json = 1;
      break;
    default:
      bad_opt(argv);
      goto out;
    }
  }
  if (need("-b NAMESRV", c.namesrv) || need("-t TOPIC", c.topic) ||
      need("-g GROUP", c.group))
    goto out;
  if (optind < argc) {
    die_line("unexpected argument %s", argv[optind]);
    goto out;
  }
  if (conf_set(&c, "consumerGroup", c.group) != 0)
    goto out;
  ret = EXIT_FAIL;
  s.count = (long)count;
  pthread_mutex_init(&s.mu, NULL);
  char err[512] = "";
  rmq_client_t *client = rmq_client_new(c.conf, err, sizeof(err));
  if (client == NULL) {
    die_line("client: %s", err);
    goto out_mu;
  }
  rmq_pull_consumer_t *lite =
      rmq_pull_consumer_new(client, c.conf, err, sizeof(err));
  if (lite == NULL) {
    die_line("consumer: %s", err);
    goto out_client;
  }
  if (check_topic(lite, c.topic) != 0)
    goto out_lite;
  rmq_err_t rc;
  s.last_ms = now_ms();
  if (push) {
    rmq_pull_consumer_destroy(lite, DESTROY_MS);
    lite = NULL;
    s.push = rmq_push_consumer_new(client, c.conf, err, sizeof(err));
    if (s.push == NULL) {
      die_line("consumer: %s", err);
      goto out_client;
    }
    rc = rmq_push_consumer_set_listener(s.push, on_push, &s);
    if (rc == RMQ_OK)
      rc = sql ? rmq_push_consumer_subscribe_sql(s.push, c.topic, sql)
               : rmq_push_consumer_subscribe(s.push, c.topic, expr);
    if (rc == RMQ_OK)
      rc = rmq_push_consumer_start(s.push);
    if (rc != RMQ_OK) {
      die_line("start: %s (%s)", rmq_err_str(rc), rmq_err_name(rc));
      rmq_push_consumer_destroy(s.push, DESTROY_MS);
      goto out_client;
    }
    for (;;) {
      pthread_mutex_lock(&s.mu);
      int done = (s.count && s.got >= s.count) ||
                 (idle && now_ms() - s.last_ms >= idle);
      pthread_mutex_unlock(&s.mu);
      if (done || stop_flag)
        break;
      usleep(20000);
    }
    rmq_push_consumer_destroy(s.push, DESTROY_MS);
    ret = EXIT_OK;
    goto out_client;
  }
  rc = sql ? rmq_pull_consumer_subscribe_sql(lite, c.topic, sql)
           : rmq_pull_consumer_subscribe(lite, c.topic, expr);
  if (rc == RMQ_OK)
    rc = rmq_pull_consumer_start(lite);
  if (rc != RMQ_OK) {
    die_line("start: %s (%s)", rmq_err_str(rc), rmq_err_name(rc));
    goto out_lite;
  }
  rmq_msg_t *msgs[32];
  while (!stop_flag && (s.count == 0 || s.got < s.count)) {
    size_t max = 32;
    if (s.count && (size_t)(s.count - s.got) < max)
      max = (size_t)(s.count - s.got); /* never take more than COUNT */
    int n = rmq_pull_consumer_poll(lite, msgs, max, 100);
    if (n < 0) {
      die_line("poll: %s", rmq_err_str((rmq_err_t)n));
      goto out_lite;
    }
    for (int i = 0; i < n; i++) {
      print_msg(&s, msgs[i]);
      rmq_msg_destroy(msgs[i]);
    }
    s.got += n;
    if (n > 0) {
      fflush(stdout);
      s.last_ms = now_ms();
    } else if (idle && now_ms() - s.last_ms >= idle) {
      break;
    }
  }
  ret = EXIT_OK;
out_lite:
  if (lite)
    rmq_pull_consumer_destroy(lite, DESTROY_MS); /* commits */
out_client:
  rmq_client_destroy(client, DESTROY_MS);
out_mu:
  pthread_mutex_destroy(&s.mu);
out:
  fflush(stdout);
  rmq_conf_destroy(c.conf);
  return ret;
}

/* ---- route and offsets -------------------------------------------------- */

static const char route_help[] =
    "Usage: rmq route -b NAMESRV -t TOPIC [-J]\n"
    "Prints the topic's brokers and their readable queues.\n"
    "  -t, --topic TOPIC      topic (required)\n"
    "  -J, --json             one JSON object\n" COMMON_HELP;

static const char offsets_help[] =
    "Usage: rmq offsets -b NAMESRV -t TOPIC -g GROUP [-J]\n"
    "Prints, per queue of TOPIC, GROUP's committed offset, the broker's max\n"
    "offset and the lag (max - committed; '-' when the group never\n"
    "committed on the queue).\n"
    "  -t, --topic TOPIC      topic (required)\n"
    "  -g, --group GROUP      consumer group (required)\n"
    "  -J, --json             JSON lines, one per queue\n" COMMON_HELP;

static int cmp_queue(const void *a, const void *b) {
  const rmq_queue_t *x = a, *y = b;
  int c = strcmp(x->broker_name, y->broker_name);
  return c ? c : (x->queue_id > y->queue_id) - (x->queue_id < y->queue_id);
}

/* route and offsets: parse, make a (never started) pull consumer, list the
 * topic's queues sorted by broker and id. */
static int queues_cmd(int argc, char **argv, const char *help, int need_group,
                      common_t *c, int *json, rmq_pull_consumer_t **pc,
                      rmq_queue_list_t *ql) {
  static const struct option lo[] = {
      COMMON_LONGOPTS, {"json", no_argument, NULL, 'J'}, {NULL, 0, NULL, 0}};
  int opt;
  while ((opt = getopt_long(argc, argv, "+b:t:g:X:vhJ", lo, NULL)) != -1) {
    int r = common_opt(c, opt, optarg);
    if (r < 0)
      return EXIT_USAGE;
    if (r > 0)
      continue;
    if (opt == 'h') {
      fputs(help, stdout);
      return -1;
    }
    if (opt == 'J') {
      *json = 1;
      continue;
    }
    bad_opt(argv);
    return EXIT_USAGE;
  }
  if (need("-b NAMESRV", c->namesrv) || need("-t TOPIC", c->topic) ||
      (need_group && need("-g GROUP", c->group)))
    return EXIT_USAGE;
  if (optind < argc) {
    die_line("unexpected argument %s", argv[optind]);
    return EXIT_USAGE;
  }
  if (conf_set(c, "consumerGroup", c->group ? c->group : "rmq_cli_tools"))
    return EXIT_USAGE;
  char err[512] = "";
  *pc = rmq_pull_consumer_new(NULL, c->conf, err, sizeof(err));
  if (*pc == NULL) {
    die_line("consumer: %s", err);
    return EXIT_FAIL;
  }
  rmq_err_t rc = rmq_pull_consumer_fetch_queues(*pc, c->topic, ql);
  if (rc != RMQ_OK) {
    die_line("topic %s: %s (%s)", c->topic, rmq_err_str(rc), rmq_err_name(rc));
    return EXIT_FAIL;
  }
  qsort(ql->queues, ql->n, sizeof(ql->queues[0]), cmp_queue);
  return EXIT_OK;
}

/* What route and offsets share: options, consumer, sorted queue list. */
typedef struct qcmd {
  common_t c;
  int json;
  rmq_pull_consumer_t *pc;
  rmq_queue_list_t ql;
} qcmd_t;

static int qcmd_open(qcmd_t *q, int argc, char **argv, const char *help,
                     int need_group) {
  memset(q, 0, sizeof(*q));
  if (common_init(&q->c) != 0)
    return EXIT_FAIL;
  return queues_cmd(argc, argv, help, need_group, &q->c, &q->json, &q->pc,
                    &q->ql);
}

static void qcmd_close(qcmd_t *q) {
  rmq_queue_list_clear(&q->ql);
  if (q->pc)
    rmq_pull_consumer_destroy(q->pc, DESTROY_MS);
  rmq_conf_destroy(q->c.conf);
}

static int cmd_route(int argc, char **argv) {
  qcmd_t q;
  int ret = qcmd_open(&q, argc, argv, route_help, 0);
  common_t c = q.c;
  int json = q.json;
  rmq_queue_list_t ql = q.ql;
  if (ret == EXIT_OK) {
    if (json) {
      printf("{\"topic\":");
      json_cstr(stdout, c.topic);
      printf(",\"brokers\":[");
    }
    for (size_t i = 0; i < ql.n;) {
      size_t j = i;
      while (j < ql.n &&
             strcmp(ql.queues[j].broker_name, ql.queues[i].broker_name) == 0)
        j++;
      if (json) {
        printf("%s{\"name\":", i ? "," : "");
        json_cstr(stdout, ql.queues[i].broker_name);
        printf(",\"queues\":[");
      } else {
        printf("broker %s queues %zu:", ql.queues[i].broker_name, j - i);
      }
      for (size_t k = i; k < j; k++)
        printf(json ? "%s%d" : "%s %d", json && k > i ? "," : "",
               ql.queues[k].queue_id);
      printf(json ? "]}" : "\n");
      i = j;
    }
    if (json)
      printf("]}\n");
  }
  qcmd_close(&q);
  return ret < 0 ? EXIT_OK : ret;
}

static int cmd_offsets(int argc, char **argv) {
  qcmd_t q;
  int ret = qcmd_open(&q, argc, argv, offsets_help, 1);
  common_t c = q.c;
  int json = q.json;
  rmq_pull_consumer_t *pc = q.pc;
  rmq_queue_list_t ql = q.ql;
  if (ret == EXIT_OK && !json)
    printf("%-24s %5s %12s %12s %12s\n", "broker", "queue", "committed", "max",
           "lag");
  int64_t total = 0;
  for (size_t i = 0; ret == EXIT_OK && i < ql.n; i++) {
    const rmq_queue_t *mq = &ql.queues[i];
    int64_t committed = -1;
    rmq_err_t rc = rmq_pull_consumer_committed(pc, mq, &committed);
    if (rc == RMQ_ERR_NOT_FOUND || rc == RMQ_QUERY_NOT_FOUND) {
      committed = -1;
    } else if (rc != RMQ_OK) {
      die_line("committed offset of %s:%d: %s (%s)", mq->broker_name,
               mq->queue_id, rmq_err_str(rc), rmq_err_name(rc));
      ret = EXIT_FAIL;
      break;
    }
    /* the max offset comes with any pull's answer, found or not */
    rmq_pull_result_t pr;
    rc = rmq_pull_consumer_pull(pc, mq, "*", committed > 0 ? committed : 0, 1,
                                -1, &pr);
    int64_t max = pr.max_offset;
    rmq_pull_result_clear(&pr);
    if (rc != RMQ_OK) {
      die_line("max offset of %s:%d: %s (%s)", mq->broker_name, mq->queue_id,
               rmq_err_str(rc), rmq_err_name(rc));
      ret = EXIT_FAIL;
      break;
    }
    int64_t lag = committed >= 0 ? (max > committed ? max - committed : 0) : -1;
    if (lag > 0)
      total += lag;
    if (json) {
      printf("{\"topic\":");
      json_cstr(stdout, mq->topic);
      printf(",\"group\":");
      json_cstr(stdout, c.group);
      printf(",\"broker\":");
      json_cstr(stdout, mq->broker_name);
      printf(",\"queue\":%d,\"committed\":", mq->queue_id);
      if (committed >= 0)
        printf("%" PRId64 ",\"max\":%" PRId64 ",\"lag\":%" PRId64 "}\n",
               committed, max, lag);
      else
        printf("null,\"max\":%" PRId64 ",\"lag\":null}\n", max);
    } else if (committed >= 0) {
      printf("%-24s %5d %12" PRId64 " %12" PRId64 " %12" PRId64 "\n",
             mq->broker_name, mq->queue_id, committed, max, lag);
    } else {
      printf("%-24s %5d %12s %12" PRId64 " %12s\n", mq->broker_name,
             mq->queue_id, "-", max, "-");
    }
  }
  if (ret == EXIT_OK && !json)
    printf("total lag %" PRId64 "\n", total);
  qcmd_close(&q);
  return ret < 0 ? EXIT_OK : ret;
}

/* ---- perf --------------------------------------------------------------- */

static const char perf_help[] =
    "Usage: rmq perf produce -b NAMESRV -t TOPIC [-n COUNT] [-s SIZE]\n"
    "                [--duration S] [--async] [--window N]\n"
    "       rmq perf consume -b NAMESRV -t TOPIC [-g GROUP] [-n COUNT]\n"
    "                [--idle-ms N] [--from first|last|TIME]\n"
    "Benchmarks: a progress line every second on stderr, a summary on stdout\n"
    "(msgs/s, MB/s; for produce, latency p50/p99/max).\n"
    "  -n, --count N          messages (produce: default 10000; consume:\n"
    "                         stop after N, default no limit)\n"
    "  -s, --size BYTES       produce: body size (default 100)\n"
    "      --duration S       stop after S seconds\n"
    "      --async            produce: asynchronous sends\n"
    "      --window N         produce --async: sends in flight (default 1000)\n"
    "  -g, --group GROUP      consume: group (default rmq_perf_<pid>)\n"
    "      --idle-ms N        consume: stop after N ms without a message\n"
    "                         (default 5000)\n"
    "      --from WHERE       consume: as for rmq consume (default "
    "first)\n"
    "      --stats            print the client's statistics JSON after the\n"
    "                         summary (doc/statistics.md)\n" COMMON_HELP;

typedef struct perf {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  uint32_t *lat_us; /* one per message */
  long sent, ok, failed, inflight;
  long long bytes;
  rmq_err_t first_err;
} perf_t;

typedef struct perf_slot {
  perf_t *pf;
  int64_t t0;
  long idx;
} perf_slot_t;

static void on_perf_sent(rmq_producer_t *p, rmq_err_t err,
                         const rmq_send_result_t *res, rmq_msg_t *msg,
                         void *opaque) {
  (void)p, (void)res, (void)msg;
  perf_slot_t *sl = opaque;
  perf_t *pf = sl->pf;
  int64_t d = now_us() - sl->t0;
  pthread_mutex_lock(&pf->mu);
  if (err == RMQ_OK) {
    pf->lat_us[pf->ok++] = d > UINT32_MAX ? UINT32_MAX : (uint32_t)d;
  } else {
    if (pf->failed++ == 0)
      pf->first_err = err;
  }
  pf->inflight--;
  pthread_cond_signal(&pf->cv);
  pthread_mutex_unlock(&pf->mu);
  free(sl);
}

static int cmp_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return (x > y) - (x < y);
}

static void progress(const char *what, int64_t t0, int64_t *last_t,
                     long *last_n, long n, long long bytes, long failed) {
  int64_t t = now_ms();
  if (t - *last_t < 1000)
    return;
  double dt = (double)(t - *last_t) / 1000.0;
  fprintf(stderr,
          "%% %6.1fs %ld messages %s (%.2f MB), %ld failed: %.0f msgs/s\n",
          (double)(t - t0) / 1000.0, n, what, (double)bytes / 1e6, failed,
          (double)(n - *last_n) / dt);
  *last_t = t, *last_n = n;
}

/* --stats: the client's statistics document, taken before the object
 * that owns the client goes (rmq_free). */
static int perf_stats;

static int perf_produce(common_t *c, long long count, long long size,
                        long long duration, int async, long long window) {
  char err[512] = "";
  rmq_producer_t *p = rmq_producer_new(NULL, c->conf, err, sizeof(err));
  if (p == NULL) {
    die_line("producer: %s", err);
    return EXIT_FAIL;
  }
  perf_t pf;
  memset(&pf, 0, sizeof(pf));
  pthread_mutex_init(&pf.mu, NULL);
  pthread_cond_init(&pf.cv, NULL);
  char *body = malloc((size_t)size);
  pf.lat_us = calloc((size_t)count, sizeof(uint32_t));
  rmq_msg_t *m = rmq_msg_new(c->topic);
  int ret = EXIT_FAIL;
  if (body == NULL || pf.lat_us == NULL || m == NULL) {
    die_line("out of memory");
    goto out;
  }
  for (long long i = 0; i < size; i++)
    body[i] = (char)('a' + i % 26);
  if (rmq_msg_set_body(m, body, (size_t)size) != RMQ_OK) {
    die_line("out of memory");
    goto out;
  }
  int64_t t0 = now_ms(), last_t = t0;
  long last_n = 0;
  for (long long i = 0; i < count && !stop_flag; i++) {
    if (duration && now_ms() - t0 >= duration * 1000)
      break;
    pthread_mutex_lock(&pf.mu);
    progress("produced", t0, &last_t, &last_n, pf.ok, pf.bytes, pf.failed);
    pthread_mutex_unlock(&pf.mu);
    if (async) {
      pthread_mutex_lock(&pf.mu);
      while (pf.inflight >= window && !stop_flag)
        pthread_cond_wait(&pf.cv, &pf.mu);
      pf.inflight++;
      pf.sent++;
      pf.bytes += size;
      pthread_mutex_unlock(&pf.mu);
      perf_slot_t *sl = malloc(sizeof(*sl));
      rmq_msg_t *am = rmq_msg_new(c->topic);
      rmq_err_t rc = RMQ_ERR_NOMEM;
      if (sl && am && rmq_msg_set_body(am, body, (size_t)size) == RMQ_OK) {
        *sl = (perf_slot_t){&pf, now_us(), (long)i};
        rc = rmq_producer_send_async(p, am, on_perf_sent, sl);
      }
      if (rc != RMQ_OK) {
        free(sl);
        rmq_msg_destroy(am);
        pthread_mutex_lock(&pf.mu);
        pf.inflight--, pf.sent--, pf.bytes -= size;
        pthread_mutex_unlock(&pf.mu);
        die_line("send: %s (%s)", rmq_err_str(rc), rmq_err_name(rc));
        break;
      }
    } else {
      rmq_send_result_t r;
      memset(&r, 0, sizeof(r));
      int64_t s0 = now_us();
      rmq_err_t rc = rmq_producer_send(p, m, &r);
      int64_t d = now_us() - s0;
      pthread_mutex_lock(&pf.mu);
      pf.sent++;
      if (rc == RMQ_OK) {
        pf.lat_us[pf.ok++] = d > UINT32_MAX ? UINT32_MAX : (uint32_t)d;
        pf.bytes += size;
      } else if (pf.failed++ == 0) {
        pf.first_err = rc;
      }
      pthread_mutex_unlock(&pf.mu);
      rmq_send_result_clear(&r);
      if (rc != RMQ_OK && pf.ok == 0) {
        die_line("send: %s (%s)", rmq_err_str(rc), rmq_err_name(rc));
        break;
      }
    }
  }
  if (async && rmq_producer_flush(p, 30000) != RMQ_OK)
    die_line("sends still in flight after 30 s");
  char *stats =
      perf_stats ? rmq_client_stats_json(rmq_producer_client(p)) : NULL;
  rmq_producer_destroy(p, DESTROY_MS);
  p = NULL;
  int64_t el = now_ms() - t0;
  double secs = el > 0 ? (double)el / 1000.0 : 0.001;
  qsort(pf.lat_us, (size_t)pf.ok, sizeof(uint32_t), cmp_u32);
  double p50 = 0, p99 = 0, mx = 0;
  if (pf.ok) {
    p50 = pf.lat_us[(size_t)((pf.ok - 1) * 50 / 100)] / 1000.0;
    p99 = pf.lat_us[(size_t)((pf.ok - 1) * 99 / 100)] / 1000.0;
    mx = pf.lat_us[pf.ok - 1] / 1000.0;
  }
  double okb = (double)pf.ok * (double)size;
  printf("%% %ld messages produced (%.0f bytes), %ld delivered, %ld failed "
         "in %" PRId64 " ms: %.0f msgs/s and %.2f MB/s, latency p50 %.2f ms "
         "p99 %.2f ms max %.2f ms\n",
         pf.sent, (double)pf.sent * (double)size, pf.ok, pf.failed, el,
         (double)pf.ok / secs, okb / secs / 1e6, p50, p99, mx);
  if (stats)
    printf("%s\n", stats);
  rmq_free(stats);
  if (pf.failed)
    die_line("%ld sends failed, the first with %s", pf.failed,
             rmq_err_name(pf.first_err));
  ret = pf.failed || pf.ok == 0 ? EXIT_FAIL : EXIT_OK;
out:
  if (p)
    rmq_producer_destroy(p, DESTROY_MS);
  rmq_msg_destroy(m);
  free(body);
  free(pf.lat_us);
  pthread_cond_destroy(&pf.cv);
  pthread_mutex_destroy(&pf.mu);
  return ret;
}

static int perf_consume(common_t *c, long long count, long long duration,
                        long long idle) {
  char err[512] = "";
  rmq_pull_consumer_t *pc =
      rmq_pull_consumer_new(NULL, c->conf, err, sizeof(err));
  if (pc == NULL) {
    die_line("consumer: %s", err);
    return EXIT_FAIL;
  }
  int ret = EXIT_FAIL;
  if (check_topic(pc, c->topic) != 0)
    goto out;
  rmq_err_t rc = rmq_pull_consumer_subscribe(pc, c->topic, "*");
  if (rc == RMQ_OK)
    rc = rmq_pull_consumer_start(pc);
  if (rc != RMQ_OK) {
    die_line("start: %s (%s)", rmq_err_str(rc), rmq_err_name(rc));
    goto out;
  }
  int64_t t0 = now_ms(), last_t = t0, last_msg = t0, first_msg = 0;
  long n = 0, last_n = 0;
  long long bytes = 0;
  rmq_msg_t *msgs[64];
  while (!stop_flag && (count == 0 || n < count)) {
    if (duration && now_ms() - t0 >= duration * 1000)
      break;
    int k = rmq_pull_consumer_poll(pc, msgs, 64, 100);
    if (k < 0) {
      die_line("poll: %s", rmq_err_str((rmq_err_t)k));
      goto out;
    }
    for (int i = 0; i < k; i++) {
      size_t len;
      rmq_msg_body(msgs[i], &len);
      bytes += (long long)len;
      rmq_msg_destroy(msgs[i]);
    }
    n += k;
    if (k > 0) {
      last_msg = now_ms();
      if (first_msg == 0)
        first_msg = last_msg;
    } else if (now_ms() - last_msg >= idle) {
      break;
    }
    progress("consumed", t0, &last_t, &last_n, n, bytes, 0);
  }
  /* rates over the time messages were flowing, not the idle tail */
  int64_t el = first_msg ? last_msg - first_msg : 0;
  double secs = el > 0 ? (double)el / 1000.0 : 0.001;
  printf("%% %ld messages (%lld bytes) consumed in %" PRId64
         " ms: %.0f msgs/s and %.2f MB/s\n",
         n, bytes, el, n ? (double)n / secs : 0.0,
         n ? (double)bytes / secs / 1e6 : 0.0);
  if (perf_stats) {
    char *stats = rmq_client_stats_json(rmq_pull_consumer_client(pc));
    if (stats)
      printf("%s\n", stats);
    rmq_free(stats);
  }
  ret = EXIT_OK;
out:
  rmq_pull_consumer_destroy(pc, DESTROY_MS);
  return ret;
}

static int cmd_perf(int argc, char **argv) {
  enum { O_DURATION = 256, O_ASYNC, O_WINDOW, O_IDLE, O_FROM, O_STATS };
  static const struct option lo[] = {
      COMMON_LONGOPTS,
      {"count", required_argument, NULL, 'n'},
      {"size", required_argument, NULL, 's'},
      {"duration", required_argument, NULL, O_DURATION},
      {"async", no_argument, NULL, O_ASYNC},
      {"window", required_argument, NULL, O_WINDOW},
      {"idle-ms", required_argument, NULL, O_IDLE},
      {"from", required_argument, NULL, O_FROM},
      {"stats", no_argument, NULL, O_STATS},
      {NULL, 0, NULL, 0}};
  if (argc < 2 || strcmp(argv[1], "-h") == 0 ||
      strcmp(argv[1], "--help") == 0) {
    fputs(perf_help, argc < 2 ? stderr : stdout);
    return argc < 2 ? EXIT_USAGE : EXIT_OK;
  }
  int produce = strcmp(argv[1], "produce") == 0;
  if (!produce && strcmp(argv[1], "consume") != 0) {
    die_line("%s: expected produce or consume", argv[1]);
    return EXIT_USAGE;
  }
  argc--, argv++;
  common_t c;
  if (common_init(&c) != 0)
    return EXIT_FAIL;
  int ret = EXIT_USAGE, opt, async = 0, from_set = 0;
  long long count = produce ? 10000 : 0, size = 100, duration = 0,
            window = 1000, idle = 5000;
  /* a producer key only for produce: a consumer refuses keys it would not
   * read */
  if (produce && conf_set(&c, "producerGroup", "rmq_perf_producer") != 0)
    goto out;
  while ((opt = getopt_long(argc, argv, "+b:t:g:X:vhn:s:", lo, NULL)) != -1) {
    int r = common_opt(&c, opt, optarg);
    if (r < 0)
      goto out;
    if (r > 0)
      continue;
    const char *what = NULL;
    switch (opt) {
    case 'h':
      fputs(perf_help, stdout);
      ret = EXIT_OK;
      goto out;
    case 'n':
      if (parse_long(optarg, 1, 100000000, &count) != 0)
        what = "-n: expected 1..100000000";
      break;
    case 's':
      if (parse_long(optarg, 1, 64 << 20, &size) != 0)
        what = "-s: expected 1..67108864 bytes";
      break;
    case O_DURATION:
      if (parse_long(optarg, 1, 86400, &duration) != 0)
        what = "--duration: expected 1..86400 s";
      break;
    case O_ASYNC:
      async = 1;
      break;
    case O_STATS:
      perf_stats = 1;
      break;
    case O_WINDOW:
      if (parse_long(optarg, 1, 1000000, &window) != 0)
        what = "--window: expected 1..1000000";
      break;
    case O_IDLE:
      if (parse_long(optarg, 1, INT32_MAX, &idle) != 0)
        what = "--idle-ms: expected ms > 0";
      break;
    case O_FROM:
      if (set_from(&c, optarg) != 0)
        goto out;
      from_set = 1;
      break;
    default:
      bad_opt(argv);
      goto out;
    }
    if (what) {
      die_line("%s", what);
      goto out;
    }
  }
  if (need("-b NAMESRV", c.namesrv) || need("-t TOPIC", c.topic))
    goto out;
  if (optind < argc) {
    die_line("unexpected argument %s", argv[optind]);
    goto out;
  }
  if (produce) {
    ret = perf_produce(&c, count, size, duration, async, window);
  } else {
    char grp[64];
    snprintf(grp, sizeof(grp), "rmq_perf_%ld", (long)getpid());
    if (conf_set(&c, "consumerGroup", c.group ? c.group : grp) != 0 ||
        (!from_set && set_from(&c, "first") != 0))
      goto out;
    ret = perf_consume(&c, count, duration, idle);
  }
out:
  rmq_conf_destroy(c.conf);
  return ret;
}

/* ---- main --------------------------------------------------------------- */

static const char main_help[] =
    "Usage: rmq COMMAND [options]\n"
    "The command-line tool of librmq %s (Apache RocketMQ).\n"
    "Commands:\n"
    "  send      send messages from arguments or stdin\n"
    "  consume   consume a topic as text or JSON lines\n"
    "  route     a topic's brokers and queues\n"
    "  offsets   a group's committed offsets, max offsets and lag\n"
    "  perf      producer (perf produce) and consumer (perf consume) "
    "benchmark\n"
    "'rmq COMMAND --help' describes each. Exit codes: 0 success, 1 runtime\n"
    "failure (unreachable name server, unknown topic, failed send, ...),\n"
    "2 usage error. Errors go to stderr, one line each. See doc/cli.md.\n";

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, main_help, rmq_version());
    return EXIT_USAGE;
  }
  const char *cmd = argv[1];
  if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 ||
      strcmp(cmd, "help") == 0) {
    printf(main_help, rmq_version());
    return EXIT_OK;
  }
  if (strcmp(cmd, "-V") == 0 || strcmp(cmd, "--version") == 0) {
    printf("rmq (librmq) %s\n", rmq_version());
    return EXIT_OK;
  }
  static const struct {
    const char *name;
    int (*fn)(int, char **);
  } cmds[] = {{"send", cmd_send},
              {"consume", cmd_consume},
              {"route", cmd_route},
              {"offsets", cmd_offsets},
              {"perf", cmd_perf}};
  for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
    if (strcmp(cmd, cmds[i].name) == 0) {
      cur_cmd = cmds[i].name;
      install_signals();
      opterr = 0; /* our own one-line messages */
      return cmds[i].fn(argc - 1, argv + 1);
    }
  }
  fprintf(stderr, "rmq: unknown command '%s' (see rmq --help)\n", cmd);
  return EXIT_USAGE;
}
