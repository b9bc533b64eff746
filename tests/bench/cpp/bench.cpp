// Benchmark peer (not a test): the C++ client (apache/rocketmq-client-cpp,
// master at 7c8b7f8: 2.2.0 and 52 later commits, built by
// tests/bench/cpp/build.sh) doing what tests/bench/go does,
// with the same flags and the same JSON line, so peers.sh and consumer.sh
// read it unchanged.
//
//   cpp-bench produce -namesrv NS -topic T -count N -size 256 -mode
//   sync|async|batch
//             [-threads 1] [-window 1000] [-batch 64] [-warmup 2000]
//             [-compress-over 4096] [-topics 0] [-producers 1]
//   cpp-bench consume-push -namesrv NS -topic T -count N [-pull-batch 32]
//   [-timeout 10m]
//
// produce:
//   - sync:  -threads threads each calling send() with one message
//   - async: one thread calling send(msg, callback) with at most -window sends
//     in flight (a counter released by the callback)
//   - batch: -threads threads each calling send(std::vector<MQMessage>) with
//     -batch messages (the client encodes them as one batch request)
// -topics N spreads the messages round-robin over the N topics <topic>_0..
// <topic>_{N-1} (send i: topic i mod N; 0, the default: <topic> itself).
// -producers P makes P producers (groups BenchCppPG, BenchCppPG_1, ...) with
// one instance name: the client keeps one MQClientFactory per client id
// (IP@InstanceName), so they share its connections, routes and heartbeats.
// Sync thread t sends through producer t mod P, async send i through
// producer i mod P; warm-up j goes through producer j mod P to topic
// (j / P) mod N, so every pair when -warmup >= P * N, as the Go peer does.
// After -warmup synchronous single sends (route, connection), the process's
// user+system CPU (getrusage) and the wall clock are taken around the -count
// measured messages. Latency is per send call (per batch in batch mode), from
// the call to its result or callback. peakRssKiB is VmHWM of the whole run.
//
// consume-push: a fresh group subscribes from the first offset with the
// client's default push settings (consume threads = cores, one message per
// listener call) and runs until -count messages were consumed. CPU is the
// process's user+system time from just before the consumer is made. The
// client's pull batch is fixed at 32 (DefaultMQPushConsumerImpl passes a
// literal 32): another -pull-batch is reported on stderr, not applied.
//
// The client logs under $HOME (logs/rocketmq-client/, or
// $ROCKETMQ_CLIENT_LOG_DIR below $HOME); the level is set to errors only.
#include <DefaultMQProducer.h>
#include <DefaultMQPushConsumer.h>
#include <MQClientException.h>
#include <MQMessageListener.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

using namespace rocketmq;

static const char *kClient = "cpp rocketmq-client-cpp/master-7c8b7f8";

static int64_t cpu_nanos() {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (int64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000 +
         (int64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000;
}

static int64_t now_nanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

static int64_t wall_millis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

static long status_kib(const char *key) {
  std::ifstream f("/proc/self/status");
  std::string line;
  size_t n = strlen(key);
  while (std::getline(f, line)) {
    if (line.compare(0, n, key) == 0)
      return strtol(line.c_str() + n, NULL, 10);
  }
  return -1;
}

// Go's flag syntax: -name value, -name=value, and --name for either.
class Flags {
public:
  Flags(const char *cmd, std::map<std::string, std::string> defaults)
      : cmd_(cmd), v_(defaults) {}
  bool parse(int argc, char **argv) {
    for (int i = 0; i < argc; i++) {
      std::string a = argv[i];
      if (a.size() < 2 || a[0] != '-')
        return bad("unexpected argument " + a);
      a = a.substr(a[1] == '-' ? 2 : 1);
      std::string val;
      size_t eq = a.find('=');
      if (eq != std::string::npos) {
        val = a.substr(eq + 1);
        a = a.substr(0, eq);
      } else if (i + 1 < argc) {
        val = argv[++i];
      } else {
        return bad("flag needs an argument: -" + a);
      }
      if (!v_.count(a))
        return bad("flag provided but not defined: -" + a);
      v_[a] = val;
    }
    return true;
  }
  std::string str(const char *k) { return v_[k]; }
  long num(const char *k) { return strtol(v_[k].c_str(), NULL, 10); }

private:
  bool bad(const std::string &why) {
    fprintf(stderr, "%s: %s\n", cmd_, why.c_str());
    return false;
  }
  const char *cmd_;
  std::map<std::string, std::string> v_;
};

static int64_t pct(const std::vector<int64_t> &lat, double q) {
  if (lat.empty())
    return 0;
  size_t i = (size_t)((double)lat.size() * q);
  return lat[std::min(i, lat.size() - 1)] / 1000;
}

static double round2(double v) {
  return std::round(v * 100) / 100;
}

// The async window: at most `limit` sends in flight, and a wait for all.
class Window {
public:
  explicit Window(long limit) : limit_(limit) {}
  void acquire() {
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait(l, [this] { return used_ < limit_; });
    used_++;
  }
  void release() {
    std::lock_guard<std::mutex> l(mu_);
    used_--;
    cv_.notify_all();
  }
  void drain() {
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait(l, [this] { return used_ == 0; });
  }

private:
  std::mutex mu_;
  std::condition_variable cv_;
  long limit_;
  long used_ = 0;
};

// The first failure's reason goes to stderr (the rest are only counted), so
// a run with failed sends says why.
static void note_failure(const char *why) {
  static std::atomic<bool> noted(false);
  if (!noted.exchange(true))
    fprintf(stderr, "produce: first failed send: %s\n", why);
}

// One per async send, owned by the benchmark (not auto-deleted), so a send
// that throws before the client takes the callback leaks nothing.
class Callback : public SendCallback {
public:
  Callback(int64_t *lat, std::atomic<long> *failed, Window *w)
      : lat_(lat), failed_(failed), w_(w) {}
  void start() { t0_ = now_nanos(); }
  void onSuccess(SendResult &r) override {
    if (r.getSendStatus() != SEND_OK)
      note_failure("send status not SEND_OK");
    done(r.getSendStatus() == SEND_OK);
  }
  void onException(MQException &e) override {
    note_failure(e.what());
    done(false);
  }
  // once per send even if the client both calls back and throws
  void done(bool ok) {
    if (reported_.exchange(true))
      return;
    *lat_ = now_nanos() - t0_;
    if (!ok)
      (*failed_)++;
    w_->release();
  }

private:
  int64_t *lat_;
  std::atomic<long> *failed_;
  Window *w_;
  int64_t t0_ = 0;
  std::atomic<bool> reported_{false};
};

static int produce(int argc, char **argv) {
  Flags fs("produce", {{"namesrv", "127.0.0.1:9876"},
                       {"topic", ""},
                       {"count", "100000"},
                       {"size", "256"},
                       {"mode", "async"},
                       {"threads", "1"},
                       {"window", "1000"},
                       {"batch", "64"},
                       {"warmup", "2000"},
                       {"compress-over", "4096"},
                       {"topics", "0"},
                       {"producers", "1"}});
  if (!fs.parse(argc, argv))
    return 2;
  std::string topic = fs.str("topic"), mode = fs.str("mode");
  long count = fs.num("count"), size = fs.num("size"),
       threads = fs.num("threads"), window = fs.num("window"),
       batch = fs.num("batch"), warmup = fs.num("warmup"),
       ntopics = fs.num("topics"), nproducers = fs.num("producers");
  if (topic.empty() || count < 1 || size < 0 || threads < 1 || window < 1 ||
      batch < 1 || ntopics < 0 || nproducers < 1 ||
      (mode != "sync" && mode != "async" && mode != "batch")) {
    fprintf(stderr, "produce: need -topic, -count >= 1, -producers >= 1 and "
                    "-mode sync|async|batch\n");
    return 2;
  }
  std::vector<std::string> topics{topic};
  if (ntopics > 0) {
    topics.clear();
    for (long t = 0; t < ntopics; t++)
      topics.push_back(topic + "_" + std::to_string(t));
  }
  std::vector<std::unique_ptr<DefaultMQProducer>> ps;
  for (long k = 0; k < nproducers; k++) {
    std::string group = "BenchCppPG";
    if (k > 0)
      group += "_" + std::to_string(k);
    ps.emplace_back(new DefaultMQProducer(group));
    DefaultMQProducer &p = *ps.back();
    p.setNamesrvAddr(fs.str("namesrv"));
    p.setInstanceName("bench-cpp-" + std::to_string(getpid()));
    p.setCompressMsgBodyOverHowmuch((int)fs.num("compress-over"));
    // the Java and Go clients' limit (4 MiB); this client's own default is
    // 128 KiB, which refuses the 256 KiB and 1 MiB workloads before sending
    p.setMaxMessageSize(4 * 1024 * 1024);
    p.setLogLevel(eLOG_LEVEL_ERROR);
    try {
      p.start();
    } catch (MQException &e) {
      fprintf(stderr, "producer: %s\n", e.what());
      return 2;
    }
  }
  size_t np = ps.size(), nt = topics.size();
  std::string body((size_t)size, 'x');
  for (long j = 0; j < warmup; j++) {
    try {
      MQMessage m(topics[(size_t)j / np % nt], body);
      ps[(size_t)j % np]->send(m);
    } catch (MQException &) {
      // warm-up failures are not measured (as on the C, Java and Go sides)
    }
  }
  long per = mode == "batch" ? batch : 1;
  long sends = (count + per - 1) / per;
  std::vector<int64_t> lat((size_t)sends);
  std::atomic<long> failed(0);
  // The client still calls the callback (getSendCallbackType) after
  // onSuccess or onException returns, so the callbacks and their window
  // outlive every send: they go only after shutdown() has joined its threads.
  Window w(window);
  std::vector<std::unique_ptr<Callback>> cbs;
  int64_t cpu0 = cpu_nanos(), t0 = now_nanos();
  if (mode == "async") {
    cbs.reserve((size_t)sends);
    for (long i = 0; i < sends; i++) {
      cbs.emplace_back(new Callback(&lat[(size_t)i], &failed, &w));
      w.acquire();
      MQMessage m(topics[(size_t)i % nt], body);
      cbs.back()->start();
      try {
        ps[(size_t)i % np]->send(m, cbs.back().get());
      } catch (MQException &e) {
        note_failure(e.what());
        cbs.back()->done(false);
      }
    }
    w.drain();
  } else {
    std::atomic<long> next(0);
    std::vector<std::thread> ts;
    for (long t = 0; t < threads; t++) {
      DefaultMQProducer *p = ps[(size_t)t % np].get();
      ts.emplace_back([&, p] {
        for (;;) {
          long i = next++;
          if (i >= sends)
            return;
          long n = std::min(per, count - i * per);
          bool ok = false;
          int64_t s = now_nanos();
          try {
            if (mode == "batch") {
              std::vector<MQMessage> msgs((size_t)n,
                                          MQMessage(topics[(size_t)i % nt], body));
              ok = p->send(msgs).getSendStatus() == SEND_OK;
            } else {
              MQMessage m(topics[(size_t)i % nt], body);
              ok = p->send(m).getSendStatus() == SEND_OK;
            }
          } catch (MQException &e) {
            note_failure(e.what());
          }
          if (!ok)
            failed += n;
          lat[(size_t)i] = now_nanos() - s;
        }
      });
    }
    for (auto &t : ts)
      t.join();
  }
  double elapsed = (double)(now_nanos() - t0) / 1e9;
  int64_t cpu = cpu_nanos() - cpu0;
  long rss = status_kib("VmRSS:"), peak = status_kib("VmHWM:");
  for (auto &p : ps)
    p->shutdown();
  std::sort(lat.begin(), lat.end());
  // rate and CPU per acknowledged message: failed sends are not throughput
  long acked = count - failed.load();
  double rate = (double)acked / elapsed;
  printf("{\"client\":\"%s\",\"mode\":\"%s\",\"count\":%ld,\"size\":%ld,"
         "\"threads\":%ld,\"window\":%ld,"
         "\"batch\":%ld,\"topics\":%zu,\"producers\":%zu,\"failed\":%ld,\"elapsedMs\":%lld,\"msgsPerSec\":%lld,"
         "\"MBps\":%.2f,\"p50us\":%lld,"
         "\"p99us\":%lld,\"p999us\":%lld,\"cpuUsPerMsg\":%.2f,\"rssKiB\":%ld,"
         "\"peakRssKiB\":%ld}\n",
         kClient, mode.c_str(), count, size, threads, window, per, nt, np,
         failed.load(), (long long)(elapsed * 1000), (long long)(rate + 0.5),
         round2(rate * (double)size / 1e6), (long long)pct(lat, 0.5),
         (long long)pct(lat, 0.99), (long long)pct(lat, 0.999),
         round2((double)cpu / 1e3 / (double)std::max(acked, 1L)), rss, peak);
  fflush(stdout);
  return failed.load() != 0 ? 1 : 0;
}

class Counter : public MessageListenerConcurrently {
public:
  explicit Counter(long want) : want_(want) {}
  ConsumeStatus consumeMessage(const std::vector<MQMessageExt> &msgs) override {
    int64_t now = now_nanos();
    int64_t zero = 0;
    first.compare_exchange_strong(zero, now);
    long b = 0;
    for (auto &m : msgs)
      b += (long)m.getBody().size();
    bytes += b;
    if ((received += (long)msgs.size()) >= want_) {
      zero = 0;
      if (last.compare_exchange_strong(zero, now)) {
        std::lock_guard<std::mutex> l(mu);
        cv.notify_all();
      }
    }
    return CONSUME_SUCCESS;
  }
  std::atomic<long> received{0}, bytes{0};
  std::atomic<int64_t> first{0}, last{0};
  std::mutex mu;
  std::condition_variable cv;

private:
  long want_;
};

// Go's time.Duration syntax for the few units a timeout needs: 90s, 10m, 1h.
static int64_t duration_ms(const std::string &s) {
  char *end = NULL;
  double v = strtod(s.c_str(), &end);
  std::string unit = end ? end : "";
  double scale = unit == "ms"  ? 1
                 : unit == "m" ? 60e3
                 : unit == "h" ? 3600e3
                               : 1e3;
  return (int64_t)(v * scale);
}

static int consume_push(int argc, char **argv) {
  Flags fs("consume-push", {{"namesrv", "127.0.0.1:9876"},
                            {"topic", ""},
                            {"count", "1000000"},
                            {"pull-batch", "32"},
                            {"timeout", "10m"}});
  if (!fs.parse(argc, argv))
    return 2;
  long count = fs.num("count");
  if (fs.num("pull-batch") != 32)
    fprintf(stderr,
            "consume-push: rocketmq-client-cpp always pulls 32; -pull-batch "
            "%ld not applied\n",
            fs.num("pull-batch"));
  std::string group = "BenchCppPG_" + std::to_string(getpid()) + "_" +
                      std::to_string(wall_millis());
  int64_t cpu0 = cpu_nanos(), t0 = now_nanos();
  Counter counter(count);
  DefaultMQPushConsumer c(group);
  c.setNamesrvAddr(fs.str("namesrv"));
  c.setConsumeFromWhere(CONSUME_FROM_FIRST_OFFSET);
  c.setLogLevel(eLOG_LEVEL_ERROR);
  c.registerMessageListener(&counter);
  try {
    c.subscribe(fs.str("topic"), "*");
    c.start();
  } catch (MQException &e) {
    fprintf(stderr, "start: %s\n", e.what());
    return 2;
  }
  {
    std::unique_lock<std::mutex> l(counter.mu);
    counter.cv.wait_for(
        l, std::chrono::milliseconds(duration_ms(fs.str("timeout"))),
        [&] { return counter.last.load() != 0; });
  }
  int64_t end = counter.last.load();
  if (end == 0)
    end = now_nanos();
  int64_t cpu_total = cpu_nanos();
  int64_t cpu = cpu_total - cpu0;
  long rss = status_kib("VmRSS:"), peak = status_kib("VmHWM:");
  // both read here: the consume threads go on until shutdown()
  long got = counter.received.load(), bytes = counter.bytes.load();
  c.shutdown();
  long n = std::max(got, 1L);
  int64_t f = counter.first.load();
  double rate =
      f != 0 && end != f ? (double)(got - 1) / ((double)(end - f) / 1e9) : 0;
  long long start_to_first = f != 0 ? (long long)((f - t0) / 1000000) : -1;
  // as the Go peer: CPU per message truncated to 1/100 µs
  printf("{\"client\":\"%s\",\"mode\":\"push\",\"count\":%ld,\"bytes\":%ld,"
         "\"pullBatch\":32,\"msgsPerSec\":%lld,"
         "\"startToFirstMs\":%lld,\"elapsedMs\":%lld,\"cpuUsPerMsg\":%.2f,"
         "\"cpuTotalUsPerMsg\":%.2f,"
         "\"rssKiB\":%ld,\"peakRssKiB\":%ld}\n",
         kClient, got, bytes, (long long)(rate + 0.5), start_to_first,
         (long long)((end - t0) / 1000000), (double)(cpu / 10 / n) / 100,
         (double)(cpu_total / 10 / n) / 100, rss, peak);
  fflush(stdout);
  return got < count ? 1 : 0;
}

int main(int argc, char **argv) {
  if (argc >= 2 && strcmp(argv[1], "produce") == 0)
    return produce(argc - 2, argv + 2);
  if (argc >= 2 && strcmp(argv[1], "consume-push") == 0)
    return consume_push(argc - 2, argv + 2);
  fprintf(stderr, "usage: cpp-bench consume-push -namesrv NS -topic T -count N "
                  "[-pull-batch 32]\n"
                  "       cpp-bench produce -namesrv NS -topic T -count N "
                  "-size B -mode sync|async|batch [-threads N] "
                  "[-window W] [-batch B]\n");
  return 2;
}
