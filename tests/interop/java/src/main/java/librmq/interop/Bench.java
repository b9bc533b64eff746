package librmq.interop;

import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.rocketmq.client.consumer.DefaultLitePullConsumer;
import org.apache.rocketmq.client.consumer.rebalance.AllocateMessageQueueAveragely;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.client.producer.LocalTransactionState;
import org.apache.rocketmq.client.producer.SendCallback;
import org.apache.rocketmq.client.producer.SendResult;
import org.apache.rocketmq.client.producer.TransactionListener;
import org.apache.rocketmq.client.producer.TransactionMQProducer;
import org.apache.rocketmq.client.producer.TransactionSendResult;
import org.apache.rocketmq.common.consumer.ConsumeFromWhere;
import org.apache.rocketmq.common.message.Message;
import org.apache.rocketmq.common.message.MessageExt;

/**
 * bench-produce: the same producer workloads as tests/bench/producer_bench.c,
 * with the official client, so both can be compared on one broker.
 * Modes: sync (--threads senders), async (one sender, --window in flight),
 * batch (--threads senders of --batch messages per send(Collection)), tx.
 * --warmup sync sends first (2000); --compress-over sets
 * compressMsgBodyOverHowmuch. --topics N spreads the messages round-robin
 * over the N topics T_0..T_{N-1} (send i: topic i mod N; 0, the default: T
 * itself). --producers P makes P producers in the groups BenchJavaPG,
 * BenchJavaPG_1, ... with one instanceName, so they share one
 * MQClientInstance (connections, routes, heartbeats), as Java applications
 * do; sync thread t sends through producer t mod P, async send i through
 * producer i mod P, warm-up j through producer j mod P to topic (j / P) mod
 * N (every pair when --warmup >= P * N). Prints one JSON line with producer_bench.c's
 * fields: msgs/s, MB/s (10^6 body bytes), p50/p99/p999 latency (us, per
 * send call: per batch in batch mode), CPU us per message, resident memory
 * after the sends and at peak (VmHWM, KiB).
 *
 * bench-consume: what tests/bench/consumer_bench.c does, with the official
 * DefaultLitePullConsumer: a fresh group subscribes to a pre-filled topic from
 * its first offset and polls until --count messages arrived. Prints one JSON
 * line: msgs/s (first message to last), CPU us per message (process CPU from
 * just before the consumer is made to the last message, so JVM start-up is
 * not counted; cpuTotalUsPerMsg counts it), resident memory now and at peak.
 */
final class Bench {
    private Bench() {
    }

    private static long cpuNanos() {
        return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean())
            .getProcessCpuTime();
    }

    private static long rssKiB() {
        return procStatus("VmRSS:");
    }

    /** A "kB" line of /proc/self/status (VmRSS: resident now, VmHWM: peak resident), -1 if unreadable. */
    private static long procStatus(String key) {
        try {
            List<String> lines = Files.readAllLines(Paths.get("/proc/self/status"));
            for (String l : lines) {
                if (l.startsWith(key)) {
                    return Long.parseLong(l.replaceAll("[^0-9]", ""));
                }
            }
        } catch (Exception e) {
            return -1;
        }
        return -1;
    }

    static int produce(Peer.Args a) throws Exception {
        String topic = a.need("topic");
        int count = (int) a.num("count", 100000);
        int size = (int) a.num("size", 256);
        int threads = (int) a.num("threads", 4);
        int window = (int) a.num("window", 1000);
        String mode = a.get("mode", "async");
        final boolean tx = "tx".equals(mode);
        final boolean batch = "batch".equals(mode);
        final int per = batch ? (int) a.num("batch", 64) : 1;
        final int sends = (count + per - 1) / per;
        int warmup = (int) a.num("warmup", 2000);
        final int nTopics = (int) a.num("topics", 0);
        final String[] topics = new String[Math.max(nTopics, 1)];
        for (int t = 0; t < topics.length; t++) {
            topics[t] = nTopics > 0 ? topic + "_" + t : topic;
        }
        final DefaultMQProducer[] ps = new DefaultMQProducer[(int) a.num("producers", 1)];
        if (ps.length < 1 || nTopics < 0) {
            throw new Peer.Usage("bench-produce: --producers must be >= 1 and --topics >= 0");
        }
        for (int k = 0; k < ps.length; k++) {
            ps[k] = newProducer(a, tx, k == 0 ? "" : "_" + k);
        }
        byte[] body = new byte[size];
        Arrays.fill(body, (byte) 'x');
        // warm-up: routes, connections, JIT
        // (a failed warm-up send is ignored, as on the C and Go sides)
        for (int j = 0; j < warmup; j++) {
            DefaultMQProducer p = ps[j % ps.length];
            Message m = new Message(topics[j / ps.length % topics.length], body);
            try {
                if (tx) {
                    ((TransactionMQProducer) p).sendMessageInTransaction(m, null);
                } else {
                    p.send(m);
                }
            } catch (Exception e) {
                // counted nowhere: only the measured sends are
            }
        }
        // --auto-batch true: DefaultMQProducer.setAutoBatch after the warm-up (a
        // lone synchronous send would wait batchMaxDelayMs in the accumulator);
        // by reflection, as the 4.x client has no such call
        if (Boolean.parseBoolean(a.get("auto-batch", "false"))) {
            for (DefaultMQProducer p : ps) {
                DefaultMQProducer.class.getMethod("setAutoBatch", boolean.class).invoke(p, true);
            }
        }
        final long[] lat = new long[sends];
        final AtomicInteger failed = new AtomicInteger();
        long cpu0 = cpuNanos();
        long t0 = System.nanoTime();
        if (batch) {
            final AtomicInteger next = new AtomicInteger();
            Thread[] ts = new Thread[threads];
            for (int t = 0; t < threads; t++) {
                final DefaultMQProducer p = ps[t % ps.length];
                ts[t] = new Thread(() -> {
                    int i;
                    while ((i = next.getAndIncrement()) < sends) {
                        int n = Math.min(per, count - i * per);
                        List<Message> ms = new java.util.ArrayList<>(n);
                        for (int k = 0; k < n; k++) {
                            ms.add(new Message(topics[i % topics.length], body));
                        }
                        long s = System.nanoTime();
                        try {
                            p.send(ms);
                        } catch (Exception e) {
                            fail(failed, n, e);
                        }
                        lat[i] = System.nanoTime() - s;
                    }
                });
                ts[t].start();
            }
            for (Thread t : ts) {
                t.join();
            }
        } else if ("sync".equals(mode) || tx) {
            final AtomicInteger next = new AtomicInteger();
            Thread[] ts = new Thread[threads];
            for (int t = 0; t < threads; t++) {
                final DefaultMQProducer p = ps[t % ps.length];
                ts[t] = new Thread(() -> {
                    int i;
                    while ((i = next.getAndIncrement()) < count) {
                        Message m = new Message(topics[i % topics.length], body);
                        long s = System.nanoTime();
                        try {
                            if (tx) {
                                TransactionSendResult r = ((TransactionMQProducer) p).sendMessageInTransaction(m, null);
                                if (r.getLocalTransactionState() != LocalTransactionState.COMMIT_MESSAGE) {
                                    failed.incrementAndGet();
                                }
                            } else {
                                p.send(m);
                            }
                        } catch (Exception e) {
                            fail(failed, 1, e);
                        }
                        lat[i] = System.nanoTime() - s;
                    }
                });
                ts[t].start();
            }
            for (Thread t : ts) {
                t.join();
            }
        } else {
            final Semaphore inflight = new Semaphore(window);
            final CountDownLatch done = new CountDownLatch(count);
            for (int i = 0; i < count; i++) {
                inflight.acquire();
                final int idx = i;
                final long s = System.nanoTime();
                ps[i % ps.length].send(new Message(topics[i % topics.length], body), new SendCallback() {
                    public void onSuccess(SendResult r) {
                        lat[idx] = System.nanoTime() - s;
                        inflight.release();
                        done.countDown();
                    }

                    public void onException(Throwable e) {
                        lat[idx] = System.nanoTime() - s;
                        fail(failed, 1, e);
                        inflight.release();
                        done.countDown();
                    }
                });
            }
            done.await();
        }
        long elapsed = System.nanoTime() - t0;
        long cpu = cpuNanos() - cpu0;
        long rss = rssKiB();
        long peak = procStatus("VmHWM:");
        for (DefaultMQProducer p : ps) {
            p.shutdown();
        }
        Arrays.sort(lat);
        // rate and CPU per acknowledged message: failed sends are not throughput
        long ok = count - failed.get();
        double rate = ok / (elapsed / 1e9);
        Map<String, Object> o = Peer.obj();
        o.put("client", "java " + Peer.clientVersion());
        o.put("mode", mode);
        o.put("count", count);
        o.put("size", size);
        o.put("threads", threads);
        o.put("window", window);
        o.put("batch", per);
        o.put("topics", topics.length);
        o.put("producers", ps.length);
        o.put("failed", failed.get());
        o.put("elapsedMs", elapsed / 1000000);
        o.put("msgsPerSec", Math.round(rate));
        o.put("MBps", Math.round(rate * size / 1e4) / 100.0);
        o.put("p50us", lat[sends / 2] / 1000);
        o.put("p99us", lat[(int) (sends * 0.99)] / 1000);
        o.put("p999us", lat[(int) (sends * 0.999)] / 1000);
        o.put("cpuUsPerMsg", Math.round(cpu / 1e3 / Math.max(ok, 1) * 100) / 100.0);
        o.put("rssKiB", rss);
        o.put("peakRssKiB", peak);
        Peer.emit(o);
        return failed.get() == 0 ? 0 : 1;
    }

    /** Counts @p n failed messages; the first failure of the run is named on stderr. */
    private static void fail(AtomicInteger failed, int n, Throwable e) {
        if (failed.getAndAdd(n) == 0) {
            Peer.diag("bench-produce: first failed send: " + e);
        }
    }

    /**
     * A started producer of group BenchJavaPG (tx: BenchJavaTxPG, a TransactionMQProducer whose local
     * transactions all commit) plus @p suffix, configured by the peer's options (one instanceName for all).
     */
    private static DefaultMQProducer newProducer(Peer.Args a, boolean tx, String suffix) throws Exception {
        DefaultMQProducer p;
        if (tx) {
            // --mode tx: TransactionMQProducer, sync sends in transactions
            // on --threads threads, every local transaction commits
            TransactionMQProducer tp = new TransactionMQProducer("BenchJavaTxPG" + suffix);
            tp.setTransactionListener(new TransactionListener() {
                public LocalTransactionState executeLocalTransaction(Message m, Object arg) {
                    return LocalTransactionState.COMMIT_MESSAGE;
                }

                public LocalTransactionState checkLocalTransaction(MessageExt m) {
                    return LocalTransactionState.COMMIT_MESSAGE;
                }
            });
            p = tp;
        } else {
            p = new DefaultMQProducer("BenchJavaPG" + suffix);
        }
        Util.configure(p, a);
        if (a.get("compress-over") != null) {
            p.setCompressMsgBodyOverHowmuch((int) a.num("compress-over", 4096));
        }
        p.start();
        return p;
    }

    static int consume(Peer.Args a) throws Exception {
        if ("push".equals(a.get("mode", "lite"))) {
            return consumePush(a);
        }
        String topic = a.need("topic");
        long count = a.num("count", 1000000);
        long timeoutMs = a.num("timeout-ms", 600000);
        String group = a.get("group", "BenchJavaCG_" + Util.pid() + "_" + System.currentTimeMillis());
        long cpu0 = cpuNanos();
        long t0 = System.nanoTime();
        DefaultLitePullConsumer c = new DefaultLitePullConsumer(group);
        Util.configure(c, a);
        c.setConsumeFromWhere(ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET);
        c.setAllocateMessageQueueStrategy(new AllocateMessageQueueAveragely());
        c.setPullBatchSize((int) a.num("pull-batch", 32));
        c.subscribe(topic, "*");
        c.start();
        long received = 0;
        long bytes = 0;
        long first = 0;
        long deadline = t0 + timeoutMs * 1000000L;
        while (received < count && System.nanoTime() < deadline) {
            List<MessageExt> msgs = c.poll(1000);
            if (!msgs.isEmpty() && first == 0) {
                first = System.nanoTime();
            }
            for (MessageExt m : msgs) {
                bytes += m.getBody().length;
            }
            received += msgs.size();
        }
        long end = System.nanoTime();
        long cpu = cpuNanos() - cpu0;
        long cpuTotal = cpuNanos();
        long rss = rssKiB();
        long peak = procStatus("VmHWM:");
        c.shutdown();
        emitConsume("lite-pull", received, bytes, c.getPullBatchSize(), first, end, t0, cpu, cpuTotal, rss, peak);
        return received >= count ? 0 : 1;
    }

    /**
     * bench-consume --mode push: DefaultMQPushConsumer with its defaults (20 consume threads, one message per
     * listener call) and --pull-batch, until --count messages were consumed; the same JSON as lite pull.
     */
    static int consumePush(Peer.Args a) throws Exception {
        String topic = a.need("topic");
        final long count = a.num("count", 1000000);
        long timeoutMs = a.num("timeout-ms", 600000);
        String group = a.get("group", "BenchJavaPG_" + Util.pid() + "_" + System.currentTimeMillis());
        long cpu0 = cpuNanos();
        long t0 = System.nanoTime();
        final java.util.concurrent.atomic.AtomicLong received = new java.util.concurrent.atomic.AtomicLong();
        final java.util.concurrent.atomic.AtomicLong bytes = new java.util.concurrent.atomic.AtomicLong();
        final java.util.concurrent.atomic.AtomicLong first = new java.util.concurrent.atomic.AtomicLong();
        final java.util.concurrent.atomic.AtomicLong last = new java.util.concurrent.atomic.AtomicLong();
        final java.util.concurrent.CountDownLatch done = new java.util.concurrent.CountDownLatch(1);
        org.apache.rocketmq.client.consumer.DefaultMQPushConsumer c =
            new org.apache.rocketmq.client.consumer.DefaultMQPushConsumer(group);
        Util.configure(c, a);
        c.setConsumeFromWhere(ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET);
        c.setPullBatchSize((int) a.num("pull-batch", 32));
        c.subscribe(topic, "*");
        c.registerMessageListener(
            (org.apache.rocketmq.client.consumer.listener.MessageListenerConcurrently) (msgs, ctx) -> {
                long now = System.nanoTime();
                first.compareAndSet(0, now);
                for (MessageExt m : msgs) {
                    bytes.addAndGet(m.getBody().length);
                }
                if (received.addAndGet(msgs.size()) >= count && last.compareAndSet(0, now)) {
                    done.countDown();
                }
                return org.apache.rocketmq.client.consumer.listener.ConsumeConcurrentlyStatus.CONSUME_SUCCESS;
            });
        c.start();
        done.await(timeoutMs, java.util.concurrent.TimeUnit.MILLISECONDS);
        long end = last.get() != 0 ? last.get() : System.nanoTime();
        long cpu = cpuNanos() - cpu0;
        long cpuTotal = cpuNanos();
        long rss = rssKiB();
        long peak = procStatus("VmHWM:");
        long got = received.get();
        c.shutdown();
        emitConsume("push", got, bytes.get(), c.getPullBatchSize(), first.get(), end, t0, cpu, cpuTotal, rss, peak);
        return got >= count ? 0 : 1;
    }

    /** The JSON line of a consume benchmark (times in System.nanoTime; first = 0: no message). */
    private static void emitConsume(String mode, long received, long bytes, int pullBatch, long first, long end,
        long t0, long cpu, long cpuTotal, long rss, long peak) {
        long n = Math.max(received, 1);
        Map<String, Object> o = Peer.obj();
        o.put("client", "java " + Peer.clientVersion());
        o.put("mode", mode);
        o.put("count", received);
        o.put("bytes", bytes);
        o.put("pullBatch", pullBatch);
        o.put("msgsPerSec", first == 0 || end == first ? 0 : Math.round((received - 1) / ((end - first) / 1e9)));
        o.put("startToFirstMs", first == 0 ? -1 : (first - t0) / 1000000);
        o.put("elapsedMs", (end - t0) / 1000000);
        o.put("cpuUsPerMsg", Math.round(cpu / 1e3 / n * 100) / 100.0);
        o.put("cpuTotalUsPerMsg", Math.round(cpuTotal / 1e3 / n * 100) / 100.0);
        o.put("rssKiB", rss);
        o.put("peakRssKiB", peak);
        Peer.emit(o);
    }
}
