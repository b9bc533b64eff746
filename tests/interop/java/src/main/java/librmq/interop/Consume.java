package librmq.interop;

import java.text.SimpleDateFormat;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Date;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

import org.apache.rocketmq.client.consumer.DefaultLitePullConsumer;
import org.apache.rocketmq.client.consumer.DefaultMQPullConsumer;
import org.apache.rocketmq.client.consumer.DefaultMQPushConsumer;
import org.apache.rocketmq.client.consumer.MessageSelector;
import org.apache.rocketmq.client.consumer.PullResult;
import org.apache.rocketmq.client.consumer.PullStatus;
import org.apache.rocketmq.client.consumer.listener.ConsumeConcurrentlyContext;
import org.apache.rocketmq.client.consumer.listener.ConsumeConcurrentlyStatus;
import org.apache.rocketmq.client.consumer.listener.ConsumeOrderlyContext;
import org.apache.rocketmq.client.consumer.listener.ConsumeOrderlyStatus;
import org.apache.rocketmq.client.consumer.listener.MessageListenerConcurrently;
import org.apache.rocketmq.client.consumer.listener.MessageListenerOrderly;
import org.apache.rocketmq.client.consumer.rebalance.AllocateMessageQueueAveragely;
import org.apache.rocketmq.client.consumer.store.OffsetStore;
import org.apache.rocketmq.client.consumer.store.ReadOffsetType;
import org.apache.rocketmq.client.impl.MQClientManager;
import org.apache.rocketmq.client.impl.factory.MQClientInstance;
import org.apache.rocketmq.common.consumer.ConsumeFromWhere;
import org.apache.rocketmq.common.message.MessageClientExt;
import org.apache.rocketmq.common.message.MessageConst;
import org.apache.rocketmq.common.message.MessageExt;
import org.apache.rocketmq.common.message.MessageQueue;
import org.apache.rocketmq.remoting.RPCHook;

/**
 * {@code consume}: receives messages with one of the Java consumers and prints one JSON line per delivery, then a
 * summary line. Stops after --count deliveries, after --idle-ms without a delivery, or after --timeout-ms.
 * With --quiet-ms Q it does not stop at --count: once --count deliveries are in, it goes on printing until Q ms
 * pass without one (or --timeout-ms), so a test can see duplicates and strays past the count.
 *
 * Deliveries past the stop are never printed and never acknowledged: the push listener holds them (its thread
 * blocks until the process exits), pull and lite commit only up to the last printed message of each queue.
 */
final class Consume {
    private final Peer.Args a;
    private final String group;
    private final String topic;
    private final String mode;
    private final String tagExpr;
    private final String sql;
    private final long count;
    private final long idleMs;
    private final long quietMs;
    private final long timeoutMs;
    private final String from;
    private final RPCHook hook;
    private final long processUs;
    private final long assignMs;

    private final Object lock = new Object();
    private long received;
    private volatile boolean done;
    private long lastAt;
    private long startedAt;
    private long firstUptime = -1;
    private long startedUptime = -1;
    private long lastUptime = -1;
    private long stopUptime = -1;
    private final Map<MessageQueue, Long> committed = new TreeMap<MessageQueue, Long>();

    Consume(Peer.Args a) {
        this.a = a;
        this.group = a.need("group");
        this.topic = a.need("topic");
        this.mode = a.get("mode", "push");
        this.tagExpr = a.get("tag-expr", "*");
        this.sql = a.get("sql");
        this.count = a.num("count", 0);
        this.idleMs = a.num("idle-ms", 0);
        this.quietMs = a.num("quiet-ms", 0);
        this.timeoutMs = a.num("timeout-ms", 60000);
        this.from = a.get("from", "first");
        this.hook = Util.rpcHook(a);
        this.processUs = a.num("process-us", 0);
        this.assignMs = a.num("assign-ms", 0);
        if ((processUs > 0 || assignMs > 0) && !"push".equals(mode)) {
            throw new Peer.Usage("--process-us and --assign-ms are for --mode push");
        }
        if (quietMs > 0 && count <= 0) {
            throw new Peer.Usage("--quiet-ms wants --count (the quiet period starts when the count is reached)");
        }
        if (sql != null && a.get("tag-expr") != null) {
            throw new Peer.Usage("--tag-expr and --sql exclude each other");
        }
        if (!"push".equals(mode) && !"pull".equals(mode) && !"lite".equals(mode)) {
            throw new Peer.Usage("--mode wants push|pull|lite");
        }
        if (a.flag("orderly") && !"push".equals(mode)) {
            throw new Peer.Usage("--orderly is for --mode push");
        }
        fromWhere();
    }

    private ConsumeFromWhere fromWhere() {
        return fromWhere(from);
    }

    private long fromTs() {
        return fromTs(from);
    }

    private String fromTsString() {
        return fromTsString(from);
    }

    /** --from first|last|timestamp:<ms> as Java's ConsumeFromWhere. */
    static ConsumeFromWhere fromWhere(String from) {
        if ("first".equals(from)) {
            return ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET;
        }
        if ("last".equals(from)) {
            return ConsumeFromWhere.CONSUME_FROM_LAST_OFFSET;
        }
        if (from.startsWith("timestamp:")) {
            fromTs(from);
            return ConsumeFromWhere.CONSUME_FROM_TIMESTAMP;
        }
        throw new Peer.Usage("--from wants first|last|timestamp:<ms>");
    }

    private static long fromTs(String from) {
        try {
            return Long.parseLong(from.substring("timestamp:".length()));
        } catch (NumberFormatException e) {
            throw new Peer.Usage("--from timestamp:<ms> wants milliseconds since the epoch");
        }
    }

    /** The Java clients take the start time as a local-time "yyyyMMddHHmmss" string. */
    static String fromTsString(String from) {
        return new SimpleDateFormat("yyyyMMddHHmmss").format(new Date(fromTs(from)));
    }

    /** MessageModel moved packages between 4.x and 5.x: set it by name. */
    private void model(Object consumer) {
        Util.setEnum(consumer, "setMessageModel", a.flag("broadcast") ? "BROADCASTING" : "CLUSTERING");
    }

    int run() throws Exception {
        String reason;
        if ("push".equals(mode)) {
            reason = runPush();
        } else if ("pull".equals(mode)) {
            reason = runPull();
        } else {
            reason = runLite();
        }
        Map<String, Object> s = Peer.obj();
        s.put("summary", true);
        s.put("count", received);
        s.put("reason", reason);
        s.put("mode", mode);
        s.put("clientVersion", Peer.clientVersion());
        s.put("startedUptimeMs", startedUptime);
        s.put("firstMessageUptimeMs", firstUptime);
        s.put("lastMessageUptimeMs", lastUptime);
        s.put("stopUptimeMs", stopUptime);
        s.put("exitUptimeMs", Peer.uptimeMs());
        s.put("offsets", offsetList(committed));
        Peer.emit(s);
        return count > 0 && received < count ? 1 : 0;
    }

    /** The summary's "offsets": next offset per queue, in the map's (sorted) order. */
    static List<Object> offsetList(Map<MessageQueue, Long> offsets) {
        List<Object> offs = new ArrayList<Object>();
        for (Map.Entry<MessageQueue, Long> e : offsets.entrySet()) {
            Map<String, Object> o = Peer.obj();
            o.put("brokerName", e.getKey().getBrokerName());
            o.put("queueId", e.getKey().getQueueId());
            o.put("offset", e.getValue());
            offs.add(o);
        }
        return offs;
    }

    // ------------------------------------------------------------- delivery

    /**
     * Prints m unless the run is over; true when printed (then the caller may acknowledge it). With --process-us
     * the listener "processes" each message that long first, as a slow application would (outside the lock, so
     * the consume threads process side by side).
     */
    private boolean accept(MessageExt m, MessageQueue mq) {
        if (processUs > 0) {
            java.util.concurrent.locks.LockSupport.parkNanos(processUs * 1000L);
        }
        synchronized (lock) {
            if (done) {
                return false;
            }
            Peer.emit(toJson(m, mq));
            received++;
            lastAt = System.currentTimeMillis();
            lastUptime = Peer.uptimeMs();
            if (firstUptime < 0) {
                firstUptime = lastUptime;
            }
            if (count > 0 && received >= count && quietMs <= 0) {
                done = true;
            }
            return true;
        }
    }

    /** Hold a delivery that arrived after the end: never return, so it is neither acknowledged nor retried. */
    private static void hold() {
        while (true) {
            try {
                Thread.sleep(3600 * 1000L);
            } catch (InterruptedException ignore) {
                // keep holding
            }
        }
    }

    /**
     * Extra heartbeats every --heartbeat-ms (default 2000, 0 = off). After a rebalance the Java client raises its
     * subscription version and sends one heartbeat, but skips it when the heartbeat lock is busy ("lock heartBeat,
     * but failed"); the broker then answers every pull with SUBSCRIPTION_NOT_LATEST until the next periodic
     * heartbeat, 30 s later (seen with 5.4.0: first message 22 s after start). This closes that gap.
     */
    private void heartbeats(org.apache.rocketmq.client.ClientConfig c) {
        heartbeats(c, a.num("heartbeat-ms", 2000), new java.util.function.BooleanSupplier() {
            @Override
            public boolean getAsBoolean() {
                return done;
            }
        });
    }

    /** The extra heartbeats above, for any consumer: every {@code every} ms until {@code stop} says so. */
    static void heartbeats(org.apache.rocketmq.client.ClientConfig c, final long every,
        final java.util.function.BooleanSupplier stop) {
        if (every <= 0) {
            return;
        }
        final MQClientInstance factory = MQClientManager.getInstance().getOrCreateMQClientInstance(c);
        Thread t = new Thread(new Runnable() {
            @Override
            public void run() {
                while (!stop.getAsBoolean()) {
                    Util.sleep(every);
                    try {
                        if (!stop.getAsBoolean()) {
                            factory.sendHeartbeatToAllBrokerWithLock();
                        }
                    } catch (Throwable ignore) {
                        // the periodic heartbeat of the client goes on anyway
                    }
                }
            }
        }, "peer-heartbeat");
        t.setDaemon(true);
        t.start();
    }

    private void markStarted() {
        startedUptime = Peer.uptimeMs();
        startedAt = System.currentTimeMillis();
        synchronized (lock) {
            lastAt = startedAt;
        }
    }

    /** Checks the stop conditions; returns the reason, or null to go on. */
    private String stopReason() {
        long now = System.currentTimeMillis();
        String r = null;
        synchronized (lock) {
            if (count > 0 && received >= count && quietMs <= 0) {
                r = "count";
            } else if (count > 0 && received >= count && now - lastAt >= quietMs) {
                r = "quiet";
            } else if (idleMs > 0 && now - lastAt >= idleMs) {
                r = "idle";
            } else if (now - startedAt >= timeoutMs) {
                r = "timeout";
            }
            if (r != null) {
                done = true;
                stopUptime = Peer.uptimeMs();
            }
        }
        return r;
    }

    static Map<String, Object> toJson(MessageExt m, MessageQueue mq) {
        Map<String, Object> o = Peer.obj();
        o.put("topic", m.getTopic());
        o.put("tags", m.getTags());
        o.put("keys", m.getKeys());
        Map<String, String> props = m.getProperties();
        o.put("props", props == null ? Collections.emptyMap() : new TreeMap<String, String>(props));
        // the properties whose names Java does not reserve (MessageConst.STRING_HASH_SET) = what putUserProperty set
        Map<String, String> user = new TreeMap<String, String>();
        if (props != null) {
            for (Map.Entry<String, String> e : props.entrySet()) {
                if (!MessageConst.STRING_HASH_SET.contains(e.getKey())) {
                    user.put(e.getKey(), e.getValue());
                }
            }
        }
        o.put("userProps", user);
        byte[] body = m.getBody();
        o.put("bodyLen", body == null ? 0 : body.length);
        o.put("bodySha256", Util.sha256(body));
        o.put("bodyText", Util.utf8OrNull(body));
        o.put("bodyHex", Util.hex(body));
        o.put("msgId", m.getMsgId());
        o.put("offsetMsgId", m instanceof MessageClientExt ? ((MessageClientExt) m).getOffsetMsgId() : m.getMsgId());
        String bn = m.getBrokerName();
        if (bn == null && mq != null) {
            bn = mq.getBrokerName();
        }
        o.put("brokerName", bn);
        o.put("queueId", m.getQueueId());
        o.put("queueOffset", m.getQueueOffset());
        o.put("reconsumeTimes", m.getReconsumeTimes());
        o.put("bornHost", Util.hostPort(m.getBornHost()));
        o.put("bornTimestamp", m.getBornTimestamp());
        o.put("storeHost", Util.hostPort(m.getStoreHost()));
        o.put("storeTimestamp", m.getStoreTimestamp());
        o.put("sysFlag", m.getSysFlag());
        o.put("commitLogOffset", m.getCommitLogOffset());
        o.put("delayLevel", m.getDelayTimeLevel());
        o.put("flag", m.getFlag());
        o.put("bodyCRC", m.getBodyCRC());
        o.put("storeSize", m.getStoreSize());
        o.put("preparedTransactionOffset", m.getPreparedTransactionOffset());
        o.put("transactionId", m.getTransactionId());
        o.put("receivedMs", System.currentTimeMillis());
        return o;
    }

    // ----------------------------------------------------------------- push

    private String runPush() throws Exception {
        DefaultMQPushConsumer c = hook == null ? new DefaultMQPushConsumer(group)
            : new DefaultMQPushConsumer(group, hook, new AllocateMessageQueueAveragely());
        Util.configure(c, a);
        model(c);
        c.setConsumeFromWhere(fromWhere());
        if (from.startsWith("timestamp:")) {
            c.setConsumeTimestamp(fromTsString());
        }
        int threads = (int) a.num("threads", 4);
        c.setConsumeThreadMin(threads);
        c.setConsumeThreadMax(threads);
        c.setConsumeMessageBatchMaxSize(1);
        c.setPullBatchSize((int) a.num("pull-batch", 32));
        if (a.get("max-reconsume") != null) {
            c.setMaxReconsumeTimes((int) a.num("max-reconsume", 16));
        }
        if (sql != null) {
            c.subscribe(topic, MessageSelector.bySql(sql));
        } else {
            c.subscribe(topic, tagExpr);
        }
        if (a.flag("orderly")) {
            c.registerMessageListener(new MessageListenerOrderly() {
                @Override
                public ConsumeOrderlyStatus consumeMessage(List<MessageExt> msgs, ConsumeOrderlyContext ctx) {
                    for (MessageExt m : msgs) {
                        if (!accept(m, ctx.getMessageQueue())) {
                            hold();
                        }
                    }
                    return ConsumeOrderlyStatus.SUCCESS;
                }
            });
        } else {
            c.registerMessageListener(new MessageListenerConcurrently() {
                @Override
                public ConsumeConcurrentlyStatus consumeMessage(List<MessageExt> msgs,
                    ConsumeConcurrentlyContext ctx) {
                    for (MessageExt m : msgs) {
                        if (!accept(m, ctx.getMessageQueue())) {
                            hold();
                        }
                    }
                    return ConsumeConcurrentlyStatus.CONSUME_SUCCESS;
                }
            });
        }
        c.start();
        markStarted();
        heartbeats(c);
        String reason;
        Set<MessageQueue> assigned = null;
        long assignCheckedAt = 0;
        while ((reason = stopReason()) == null) {
            long now = System.currentTimeMillis();
            if (assignMs > 0 && now - assignCheckedAt >= assignMs) {
                assigned = reportAssignment(c, assigned);
                assignCheckedAt = now;
            }
            Util.sleep(20);
        }
        // let acknowledged deliveries reach the offset table, then shut down (which persists the offsets)
        Util.sleep(100);
        Set<MessageQueue> mqs = new java.util.HashSet<MessageQueue>(
            c.getDefaultMQPushConsumerImpl().getRebalanceImpl().getProcessQueueTable().keySet());
        OffsetStore store = c.getDefaultMQPushConsumerImpl().getOffsetStore();
        c.shutdown();
        for (MessageQueue mq : mqs) {
            long off = store.readOffset(mq, ReadOffsetType.READ_FROM_MEMORY);
            if (off >= 0) {
                committed.put(mq, off);
            }
        }
        return reason;
    }

    /**
     * --assign-ms: prints {"assignment":[...]} (as consume-lite does) when the queues this push consumer holds of
     * --topic change: the process queues of its rebalance that are not dropped, as the rebalance leaves them. The
     * group's retry topic (%RETRY%group, which a push consumer subscribes to as well) is left out.
     */
    private Set<MessageQueue> reportAssignment(DefaultMQPushConsumer c, Set<MessageQueue> last) {
        Set<MessageQueue> now = new java.util.TreeSet<MessageQueue>();
        for (Map.Entry<MessageQueue, org.apache.rocketmq.client.impl.consumer.ProcessQueue> e
            : c.getDefaultMQPushConsumerImpl().getRebalanceImpl().getProcessQueueTable().entrySet()) {
            if (!e.getValue().isDropped() && !e.getKey().getTopic().startsWith("%RETRY%")) {
                now.add(e.getKey());
            }
        }
        if (now.equals(last)) {
            return last;
        }
        Map<String, Object> o = Peer.obj();
        o.put("assignment", ConsumeLite.queues(now));
        o.put("topic", topic);
        o.put("uptimeMs", Peer.uptimeMs());
        Peer.emit(o);
        return now;
    }

    // ----------------------------------------------------------------- pull

    private String runPull() throws Exception {
        DefaultMQPullConsumer c = hook == null ? new DefaultMQPullConsumer(group)
            : new DefaultMQPullConsumer(group, hook);
        Util.configure(c, a);
        model(c);
        c.start();
        // The pull API refuses SQL92 until it knows the broker's version, which it learns from a heartbeat
        // reply; a pull consumer without registered topics sends none by itself. Route + heartbeat now.
        MQClientInstance factory = MQClientManager.getInstance().getOrCreateMQClientInstance(c);
        factory.updateTopicRouteInfoFromNameServer(topic);
        factory.sendHeartbeatToAllBrokerWithLock();
        boolean commit = !a.flag("no-commit");
        int batch = (int) a.num("pull-batch", 32);
        MessageSelector selector = sql != null ? MessageSelector.bySql(sql) : null;
        List<MessageQueue> mqs = new ArrayList<MessageQueue>(c.fetchSubscribeMessageQueues(topic));
        Collections.sort(mqs);
        Map<MessageQueue, Long> next = new TreeMap<MessageQueue, Long>();
        for (MessageQueue mq : mqs) {
            long off = c.fetchConsumeOffset(mq, true);
            if (off < 0) {
                if ("first".equals(from)) {
                    off = c.minOffset(mq);
                } else if ("last".equals(from)) {
                    off = c.maxOffset(mq);
                } else {
                    off = c.searchOffset(mq, fromTs());
                }
            }
            next.put(mq, off);
        }
        markStarted();
        String reason = null;
        try {
            outer:
            while (true) {
                boolean got = false;
                for (MessageQueue mq : mqs) {
                    if ((reason = stopReason()) != null) {
                        break outer;
                    }
                    long off = next.get(mq);
                    PullResult r = selector != null ? c.pull(mq, selector, off, batch, 3000)
                        : c.pull(mq, tagExpr, off, batch, 3000);
                    long nextOff = r.getNextBeginOffset();
                    if (r.getPullStatus() == PullStatus.FOUND && r.getMsgFoundList() != null) {
                        for (MessageExt m : r.getMsgFoundList()) {
                            if (!accept(m, mq)) {
                                nextOff = m.getQueueOffset();
                                break;
                            }
                            got = true;
                        }
                    }
                    next.put(mq, nextOff);
                    if (commit && nextOff != off) {
                        committed.put(mq, nextOff);
                    }
                }
                if (!got) {
                    Util.sleep(50);
                }
            }
            if (commit && !committed.isEmpty()) {
                // commit synchronously; the store's own persist is oneway and its memory table is rebuilt by
                // rebalancing, so it is not relied on
                OffsetStore store = c.getDefaultMQPullConsumerImpl().getOffsetStore();
                for (Map.Entry<MessageQueue, Long> e : committed.entrySet()) {
                    c.updateConsumeOffset(e.getKey(), e.getValue());
                    if (!a.flag("broadcast")) {
                        store.updateConsumeOffsetToBroker(e.getKey(), e.getValue(), false);
                    }
                }
                if (a.flag("broadcast")) {
                    store.persistAll(committed.keySet());
                }
            }
        } finally {
            c.shutdown();
        }
        return reason;
    }

    // ----------------------------------------------------------------- lite

    private String runLite() throws Exception {
        DefaultLitePullConsumer c = hook == null ? new DefaultLitePullConsumer(group)
            : new DefaultLitePullConsumer(group, hook);
        Util.configure(c, a);
        model(c);
        c.setConsumeFromWhere(fromWhere());
        if (from.startsWith("timestamp:")) {
            c.setConsumeTimestamp(fromTsString());
        }
        c.setAutoCommit(false);
        c.setPullBatchSize((int) a.num("pull-batch", 32));
        if (sql != null) {
            c.subscribe(topic, MessageSelector.bySql(sql));
        } else {
            c.subscribe(topic, tagExpr);
        }
        c.start();
        markStarted();
        heartbeats(c);
        String reason;
        try {
            while ((reason = stopReason()) == null) {
                List<MessageExt> msgs = c.poll(100);
                Map<MessageQueue, Long> upto = new TreeMap<MessageQueue, Long>();
                for (MessageExt m : msgs) {
                    MessageQueue mq = new MessageQueue(m.getTopic(), m.getBrokerName(), m.getQueueId());
                    if (!accept(m, mq)) {
                        break;
                    }
                    upto.put(mq, m.getQueueOffset() + 1);
                }
                if (!upto.isEmpty() && !a.flag("no-commit")) {
                    c.commitSync(upto, true);
                    committed.putAll(upto);
                }
            }
        } finally {
            c.shutdown();
        }
        return reason;
    }
}
