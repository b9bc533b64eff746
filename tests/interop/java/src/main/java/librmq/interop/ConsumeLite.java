package librmq.interop;

import java.io.File;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

import org.apache.rocketmq.client.consumer.DefaultLitePullConsumer;
import org.apache.rocketmq.client.consumer.MessageSelector;
import org.apache.rocketmq.client.consumer.rebalance.AllocateMessageQueueAveragely;
import org.apache.rocketmq.client.consumer.store.OffsetStore;
import org.apache.rocketmq.common.message.MessageExt;
import org.apache.rocketmq.common.message.MessageQueue;
import org.apache.rocketmq.remoting.RPCHook;

/**
 * {@code consume-lite}: a DefaultLitePullConsumer in subscribe mode (clustering, AllocateMessageQueueAveragely)
 * that stays in its group until told to stop, so that a test can watch the group's queues move between it and
 * other consumers (C or Java) joining and leaving.
 *
 * Prints one line per message (the fields of {@code consume}), one {@code {"assignment":[...]}} line whenever the
 * queues assigned to it change (read with assignment() every --assign-ms and before printing what a poll returned,
 * so the line naming a queue comes before its messages), and a summary line last. Stops at the
 * first of: --count messages, --idle-ms without a message, --timeout-ms, the --stop-file existing, stdin closing
 * (--stdin-eof). Offsets of printed messages are committed to the client's offset store after each poll (so a
 * queue taken away by a rebalance is persisted up to there), and synchronously to the broker at the end, before
 * shutdown (which unregisters the consumer).
 */
final class ConsumeLite {
    private final Peer.Args a;
    private final String group;
    private final String topic;
    private final String sql;
    private final String tagExpr;
    private final String from;
    private final long count;
    private final long idleMs;
    private final long timeoutMs;
    private final File stopFile;
    private final long assignEveryMs;
    private final long processUs;

    private volatile boolean done;
    private volatile boolean stdinClosed;
    private long received;
    private long firstUptime = -1;
    private long lastUptime = -1;
    private int assignmentChanges;
    private final Map<MessageQueue, Long> printed = new TreeMap<MessageQueue, Long>();

    ConsumeLite(Peer.Args a) {
        this.a = a;
        this.group = a.need("group");
        this.topic = a.need("topic");
        this.sql = a.get("sql");
        this.tagExpr = a.get("tag-expr", "*");
        this.from = a.get("from", "first");
        this.count = a.num("count", 0);
        this.idleMs = a.num("idle-ms", 0);
        this.timeoutMs = a.num("timeout-ms", 300000);
        this.stopFile = a.get("stop-file") == null ? null : new File(a.get("stop-file"));
        this.assignEveryMs = a.num("assign-ms", 200);
        this.processUs = a.num("process-us", 0);
        if (sql != null && a.get("tag-expr") != null) {
            throw new Peer.Usage("--tag-expr and --sql exclude each other");
        }
        Consume.fromWhere(from);
    }

    /** Reads stdin to its end on a daemon thread, then flags it. */
    private void watchStdin() {
        Thread t = new Thread(new Runnable() {
            @Override
            public void run() {
                byte[] b = new byte[256];
                try {
                    InputStream in = System.in;
                    while (in.read(b) >= 0) {
                        // discard
                    }
                } catch (Exception ignore) {
                    // a read error counts as closed
                }
                stdinClosed = true;
            }
        }, "peer-stdin");
        t.setDaemon(true);
        t.start();
    }

    private String stopReason(long startedAt, long lastAt) {
        long now = System.currentTimeMillis();
        if (count > 0 && received >= count) {
            return "count";
        }
        if (idleMs > 0 && now - lastAt >= idleMs) {
            return "idle";
        }
        if (timeoutMs > 0 && now - startedAt >= timeoutMs) {
            return "timeout";
        }
        if (stopFile != null && stopFile.exists()) {
            return "stop-file";
        }
        if (stdinClosed) {
            return "stdin";
        }
        return null;
    }

    static List<Object> queues(Set<MessageQueue> mqs) {
        List<Object> l = new ArrayList<Object>();
        for (MessageQueue mq : mqs) {
            Map<String, Object> o = Peer.obj();
            o.put("broker", mq.getBrokerName());
            o.put("queueId", mq.getQueueId());
            l.add(o);
        }
        return l;
    }

    /** Prints the assignment when it differs from {@code last}; returns the current one. */
    private Set<MessageQueue> reportAssignment(DefaultLitePullConsumer c, Set<MessageQueue> last) throws Exception {
        Set<MessageQueue> now = new TreeSet<MessageQueue>(c.assignment());
        if (last != null && now.equals(last)) {
            return last;
        }
        Map<String, Object> o = Peer.obj();
        o.put("assignment", queues(now));
        o.put("topic", topic);
        o.put("uptimeMs", Peer.uptimeMs());
        Peer.emit(o);
        assignmentChanges++;
        return now;
    }

    int run() throws Exception {
        RPCHook hook = Util.rpcHook(a);
        DefaultLitePullConsumer c = hook == null ? new DefaultLitePullConsumer(group)
            : new DefaultLitePullConsumer(group, hook);
        Util.configure(c, a);
        Util.setEnum(c, "setMessageModel", "CLUSTERING");
        c.setAllocateMessageQueueStrategy(new AllocateMessageQueueAveragely());
        c.setConsumeFromWhere(Consume.fromWhere(from));
        if (from.startsWith("timestamp:")) {
            c.setConsumeTimestamp(Consume.fromTsString(from));
        }
        c.setAutoCommit(false);
        c.setPullBatchSize((int) a.num("pull-batch", 32));
        if (sql != null) {
            c.subscribe(topic, MessageSelector.bySql(sql));
        } else {
            c.subscribe(topic, tagExpr);
        }
        if (a.flag("stdin-eof")) {
            watchStdin();
        }
        c.start();
        long startedUptime = Peer.uptimeMs();
        long startedAt = System.currentTimeMillis();
        long lastAt = startedAt;
        Consume.heartbeats(c, a.num("heartbeat-ms", 2000), new java.util.function.BooleanSupplier() {
            @Override
            public boolean getAsBoolean() {
                return done;
            }
        });
        boolean commit = !a.flag("no-commit");
        Set<MessageQueue> assigned = null;
        long assignCheckedAt = 0;
        String reason;
        long stopUptime;
        try {
            while ((reason = stopReason(startedAt, lastAt)) == null) {
                long now = System.currentTimeMillis();
                if (now - assignCheckedAt >= assignEveryMs) {
                    assigned = reportAssignment(c, assigned);
                    assignCheckedAt = now;
                }
                List<MessageExt> msgs = c.poll(Math.min(100, Math.max(1, assignEveryMs)));
                if (!msgs.isEmpty()) {
                    assigned = reportAssignment(c, assigned);   // so a queue's line comes before its messages
                }
                Map<MessageQueue, Long> upto = new TreeMap<MessageQueue, Long>();
                for (MessageExt m : msgs) {
                    if (count > 0 && received >= count) {
                        break;
                    }
                    MessageQueue mq = new MessageQueue(m.getTopic(), m.getBrokerName(), m.getQueueId());
                    if (processUs > 0) {   // a slow application: "processes" it, then prints it
                        java.util.concurrent.locks.LockSupport.parkNanos(processUs * 1000L);
                    }
                    Peer.emit(Consume.toJson(m, mq));
                    received++;
                    lastAt = System.currentTimeMillis();
                    lastUptime = Peer.uptimeMs();
                    if (firstUptime < 0) {
                        firstUptime = lastUptime;
                    }
                    upto.put(mq, m.getQueueOffset() + 1);
                }
                if (commit && !upto.isEmpty()) {
                    c.commitSync(upto, false);   // the store's memory; persisted below and on rebalance
                    printed.putAll(upto);
                }
            }
            stopUptime = Peer.uptimeMs();
            done = true;
            if (commit) {
                commitToBrokers(c);
            }
        } finally {
            c.shutdown();
        }
        Map<String, Object> s = Peer.obj();
        s.put("summary", true);
        s.put("count", received);
        s.put("reason", reason);
        s.put("mode", "lite-subscribe");
        s.put("clientVersion", Peer.clientVersion());
        s.put("startedUptimeMs", startedUptime);
        s.put("firstMessageUptimeMs", firstUptime);
        s.put("lastMessageUptimeMs", lastUptime);
        s.put("stopUptimeMs", stopUptime);
        s.put("exitUptimeMs", Peer.uptimeMs());
        s.put("assignmentChanges", assignmentChanges);
        s.put("offsets", Consume.offsetList(printed));
        Peer.emit(s);
        return count > 0 && received < count ? 1 : 0;
    }

    /**
     * Synchronously writes the printed offsets of the queues still assigned (a queue that moved to another
     * consumer is that consumer's to commit; the client persisted ours when it dropped the queue).
     */
    private void commitToBrokers(DefaultLitePullConsumer c) throws Exception {
        Set<MessageQueue> still = new TreeSet<MessageQueue>(c.assignment());
        Map<MessageQueue, Long> mine = new TreeMap<MessageQueue, Long>(printed);
        mine.keySet().retainAll(still);
        if (mine.isEmpty()) {
            return;
        }
        c.commitSync(mine, false);
        OffsetStore store = c.getOffsetStore();
        for (Map.Entry<MessageQueue, Long> e : mine.entrySet()) {
            store.updateConsumeOffsetToBroker(e.getKey(), e.getValue(), false);
        }
    }
}
