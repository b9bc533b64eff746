package librmq.interop;

import java.io.BufferedReader;
import java.io.FileInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.lang.reflect.Method;
import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.client.producer.LocalTransactionState;
import org.apache.rocketmq.client.producer.SendCallback;
import org.apache.rocketmq.client.producer.SendResult;
import org.apache.rocketmq.client.producer.TransactionListener;
import org.apache.rocketmq.client.producer.TransactionMQProducer;
import org.apache.rocketmq.client.producer.TransactionSendResult;
import org.apache.rocketmq.client.producer.selector.SelectMessageQueueByHash;
import org.apache.rocketmq.common.message.Message;
import org.apache.rocketmq.common.message.MessageClientIDSetter;
import org.apache.rocketmq.common.message.MessageExt;
import org.apache.rocketmq.common.message.MessageQueue;
import org.apache.rocketmq.remoting.RPCHook;

/** {@code produce}: sends the messages of a JSON-lines spec and prints one result line per message. */
final class Produce {
    private static final Set<String> KEYS = new HashSet<String>(Arrays.asList(
        "id", "topic", "tags", "keys", "props", "body", "bodyHex", "flag", "waitStoreMsgOK",
        "delayLevel", "deliverTimeMs", "delayMs", "delaySec", "queueId", "brokerName", "shardingKey",
        "batch", "transaction", "oneway", "async"));

    private final Peer.Args a;
    private final List<Item> items = new ArrayList<Item>();
    private final AtomicInteger failures = new AtomicInteger();
    private final Map<String, Item> byUniq = new ConcurrentHashMap<String, Item>();
    private final Object asyncLock = new Object();
    private int asyncPending;
    private DefaultMQProducer producer;
    private LocalTransactionState checkDefault = LocalTransactionState.COMMIT_MESSAGE;

    /** One spec line. */
    static final class Item {
        int i;
        Map<String, Object> spec;
        Message msg;
        String batch;
        String tx;
        Integer queueId;
        String brokerName;
        String shardingKey;
        boolean oneway;
        boolean async;
        volatile boolean checkedBack;
        String error;
    }

    Produce(Peer.Args a) {
        this.a = a;
    }

    int run() throws Exception {
        String group = a.need("group");
        readSpec(a.get("spec", "-"));
        String cd = a.get("check-default", "commit");
        checkDefault = txState(cd);
        if (checkDefault == null) {
            throw new Peer.Usage("--check-default wants commit|rollback|unknown");
        }

        boolean anyTx = false;
        for (Item it : items) {
            anyTx |= it.tx != null;
        }
        RPCHook hook = Util.rpcHook(a);
        if (anyTx) {
            TransactionMQProducer tp = hook == null ? new TransactionMQProducer(group)
                : new TransactionMQProducer(group, hook);
            tp.setTransactionListener(new Listener());
            producer = tp;
        } else {
            producer = hook == null ? new DefaultMQProducer(group) : new DefaultMQProducer(group, hook);
        }
        Util.configure(producer, a);
        // 10 s, not Java's 3: the peer is a fixture that puts messages in; under CI's load a send (with its retries)
        // once ran out of 3 s
        producer.setSendMsgTimeout((int) a.num("send-timeout-ms", 10000L * Util.slowdown()));
        int retries = (int) a.num("retries", 2);
        producer.setRetryTimesWhenSendFailed(retries);
        producer.setRetryTimesWhenSendAsyncFailed(retries);
        producer.setCompressMsgBodyOverHowmuch((int) a.num("compress-over", 4096));
        if (a.get("max-message-size") != null) {
            producer.setMaxMessageSize((int) a.num("max-message-size", 4194304));
        }
        producer.start();
        try {
            sendAll();
            waitAsync();
            waitCheckBacks();
        } finally {
            producer.shutdown();
        }
        return failures.get() == 0 ? 0 : 1;
    }

    // ------------------------------------------------------------------ spec

    private void readSpec(String spec) throws IOException {
        InputStream in = "-".equals(spec) ? System.in : new FileInputStream(spec);
        BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8));
        try {
            String line;
            int i = 0;
            while ((line = r.readLine()) != null) {
                String t = line.trim();
                if (t.isEmpty() || t.startsWith("#") || t.startsWith("//")) {
                    continue;
                }
                Item it = new Item();
                it.i = i++;
                try {
                    build(it, t);
                } catch (RuntimeException e) {
                    it.error = "bad spec line: " + e.getMessage();
                }
                items.add(it);
            }
        } finally {
            if (in != System.in) {
                in.close();
            }
        }
    }

    @SuppressWarnings("unchecked")
    private void build(Item it, String line) {
        Object o = Json.parse(line);
        if (!(o instanceof Map)) {
            throw new IllegalArgumentException("not a JSON object");
        }
        Map<String, Object> m = (Map<String, Object>) o;
        it.spec = m;
        for (String k : m.keySet()) {
            if (!KEYS.contains(k)) {
                throw new IllegalArgumentException("unknown key '" + k + "'");
            }
        }
        String topic = str(m, "topic", a.get("topic"));
        if (topic == null) {
            throw new IllegalArgumentException("no topic (give \"topic\" or --topic)");
        }
        Message msg = new Message();
        msg.setTopic(topic);
        String tags = str(m, "tags", null);
        if (tags != null) {
            msg.setTags(tags);
        }
        Object keys = m.get("keys");
        if (keys instanceof String) {
            msg.setKeys((String) keys);
        } else if (keys instanceof List) {
            List<String> ks = new ArrayList<String>();
            for (Object k : (List<Object>) keys) {
                ks.add(String.valueOf(k));
            }
            msg.setKeys(ks);
        } else if (keys != null) {
            throw new IllegalArgumentException("keys must be a string or an array of strings");
        }
        Object props = m.get("props");
        if (props instanceof Map) {
            for (Map.Entry<String, Object> e : ((Map<String, Object>) props).entrySet()) {
                Object v = e.getValue();
                msg.putUserProperty(e.getKey(), v == null ? null : scalar(v));
            }
        } else if (props != null) {
            throw new IllegalArgumentException("props must be an object");
        }
        if (m.containsKey("body") && m.containsKey("bodyHex")) {
            throw new IllegalArgumentException("give body or bodyHex, not both");
        }
        if (m.containsKey("bodyHex")) {
            msg.setBody(Util.unhex(str(m, "bodyHex", "")));
        } else {
            msg.setBody(str(m, "body", "").getBytes(StandardCharsets.UTF_8));
        }
        if (m.containsKey("flag")) {
            msg.setFlag((int) num(m, "flag"));
        }
        if (m.containsKey("waitStoreMsgOK")) {
            msg.setWaitStoreMsgOK(Boolean.TRUE.equals(m.get("waitStoreMsgOK")));
        }
        if (m.containsKey("delayLevel")) {
            msg.setDelayTimeLevel((int) num(m, "delayLevel"));
        }
        timer(msg, m, "deliverTimeMs", "setDeliverTimeMs");
        timer(msg, m, "delayMs", "setDelayTimeMs");
        timer(msg, m, "delaySec", "setDelayTimeSec");
        if (m.containsKey("queueId")) {
            it.queueId = (int) num(m, "queueId");
        }
        it.brokerName = str(m, "brokerName", null);
        it.shardingKey = str(m, "shardingKey", null);
        it.batch = m.get("batch") == null ? null : scalar(m.get("batch"));
        it.tx = str(m, "transaction", null);
        if (it.tx != null && !Arrays.asList("commit", "rollback", "unknown", "unknown-then-commit",
            "unknown-then-rollback").contains(it.tx)) {
            throw new IllegalArgumentException("transaction must be commit|rollback|unknown-then-commit|"
                + "unknown-then-rollback|unknown");
        }
        it.oneway = Boolean.TRUE.equals(m.get("oneway"));
        it.async = Boolean.TRUE.equals(m.get("async"));
        int modes = (it.queueId != null ? 1 : 0) + (it.shardingKey != null ? 1 : 0) + (it.tx != null ? 1 : 0);
        if (modes > 1) {
            throw new IllegalArgumentException("queueId, shardingKey and transaction exclude each other");
        }
        if (it.tx != null && (it.oneway || it.async || it.batch != null)) {
            throw new IllegalArgumentException("a transaction message cannot be oneway, async or batched");
        }
        if (it.oneway && it.async) {
            throw new IllegalArgumentException("oneway and async exclude each other");
        }
        if (it.batch != null && (it.shardingKey != null || it.oneway)) {
            throw new IllegalArgumentException("a batch cannot use shardingKey or oneway");
        }
        it.msg = msg;
    }

    private static void timer(Message msg, Map<String, Object> m, String key, String setter) {
        if (!m.containsKey(key)) {
            return;
        }
        long v = num(m, key);
        Method meth;
        try {
            meth = Message.class.getMethod(setter, long.class);
        } catch (NoSuchMethodException e) {
            throw new IllegalArgumentException(key + " needs a 5.x client (this one is " + Peer.clientVersion()
                + ")");
        }
        try {
            meth.invoke(msg, v);
        } catch (Exception e) {
            throw new IllegalArgumentException(key + ": " + e);
        }
    }

    private static String scalar(Object v) {
        if (v instanceof String) {
            return (String) v;
        }
        if (v instanceof Long || v instanceof Boolean) {
            return v.toString();
        }
        if (v instanceof BigDecimal) {
            return ((BigDecimal) v).toPlainString();
        }
        throw new IllegalArgumentException("expected a string, number or boolean, got " + Json.write(v));
    }

    private static String str(Map<String, Object> m, String k, String def) {
        Object v = m.get(k);
        return v == null ? def : scalar(v);
    }

    private static long num(Map<String, Object> m, String k) {
        Object v = m.get(k);
        if (v instanceof Long) {
            return (Long) v;
        }
        if (v instanceof String) {
            try {
                return Long.parseLong(((String) v).trim());
            } catch (NumberFormatException ignore) {
                // below
            }
        }
        throw new IllegalArgumentException(k + " must be an integer");
    }

    private static LocalTransactionState txState(String s) {
        if ("commit".equals(s)) {
            return LocalTransactionState.COMMIT_MESSAGE;
        }
        if ("rollback".equals(s)) {
            return LocalTransactionState.ROLLBACK_MESSAGE;
        }
        if ("unknown".equals(s)) {
            return LocalTransactionState.UNKNOW;
        }
        return null;
    }

    // ------------------------------------------------------------------ send

    private void sendAll() {
        int n = items.size();
        for (int k = 0; k < n; ) {
            Item it = items.get(k);
            if (it.error != null) {
                fail(it, it.error);
                k++;
                continue;
            }
            if (it.batch == null) {
                sendOne(it);
                k++;
                continue;
            }
            List<Item> batch = new ArrayList<Item>();
            int e = k;
            while (e < n && items.get(e).error == null && it.batch.equals(items.get(e).batch)) {
                batch.add(items.get(e));
                e++;
            }
            sendBatch(batch);
            k = e;
        }
    }

    private MessageQueue targetQueue(String topic, Integer queueId, String brokerName) throws Exception {
        List<MessageQueue> mqs = producer.fetchPublishMessageQueues(topic);
        for (MessageQueue mq : mqs) {
            if (mq.getQueueId() == queueId && (brokerName == null || brokerName.equals(mq.getBrokerName()))) {
                return mq;
            }
        }
        throw new IllegalArgumentException("topic " + topic + " has no writable queue " + queueId
            + (brokerName == null ? "" : " on " + brokerName) + " (queues: " + mqs + ")");
    }

    private void sendOne(final Item it) {
        Message msg = it.msg;
        try {
            if (it.tx != null) {
                SendResult r = ((TransactionMQProducer) producer).sendMessageInTransaction(msg, it);
                result(it, r, 0, null);
                return;
            }
            MessageQueue mq = it.queueId == null ? null : targetQueue(msg.getTopic(), it.queueId, it.brokerName);
            SelectMessageQueueByHash sel = it.shardingKey == null ? null : new SelectMessageQueueByHash();
            if (it.oneway) {
                if (mq != null) {
                    producer.sendOneway(msg, mq);
                } else if (sel != null) {
                    producer.sendOneway(msg, sel, it.shardingKey);
                } else {
                    producer.sendOneway(msg);
                }
                java.util.Map<String, Object> o = Peer.obj();
                o.put("i", it.i);
                putId(o, it);
                o.put("status", "ONEWAY");
                o.put("msgId", MessageClientIDSetter.getUniqID(msg));
                o.put("topic", msg.getTopic());
                if (mq != null) {
                    o.put("brokerName", mq.getBrokerName());
                    o.put("queueId", mq.getQueueId());
                }
                Peer.emit(o);
                return;
            }
            if (it.async) {
                SendCallback cb = callback(Arrays.asList(it));
                asyncStart();
                try {
                    if (mq != null) {
                        producer.send(msg, mq, cb);
                    } else if (sel != null) {
                        producer.send(msg, sel, it.shardingKey, cb);
                    } else {
                        producer.send(msg, cb);
                    }
                } catch (Exception e) {
                    asyncDone();
                    throw e;
                }
                return;
            }
            SendResult r;
            if (mq != null) {
                r = producer.send(msg, mq);
            } else if (sel != null) {
                r = producer.send(msg, sel, it.shardingKey);
            } else {
                r = producer.send(msg);
            }
            result(it, r, 0, null);
        } catch (Throwable t) {
            fail(it, t);
        }
    }

    private void sendBatch(List<Item> batch) {
        Item first = batch.get(0);
        List<Message> msgs = new ArrayList<Message>();
        for (Item it : batch) {
            msgs.add(it.msg);
        }
        try {
            MessageQueue mq = first.queueId == null ? null
                : targetQueue(first.msg.getTopic(), first.queueId, first.brokerName);
            if (first.async) {
                SendCallback cb = callback(batch);
                asyncStart();
                try {
                    if (mq != null) {
                        producer.send(msgs, mq, cb);
                    } else {
                        producer.send(msgs, cb);
                    }
                } catch (Exception e) {
                    asyncDone();
                    throw e;
                }
                return;
            }
            SendResult r = mq != null ? producer.send(msgs, mq) : producer.send(msgs);
            batchResult(batch, r);
        } catch (Throwable t) {
            for (Item it : batch) {
                fail(it, t);
            }
        }
    }

    private void batchResult(List<Item> batch, SendResult r) {
        String[] offIds = r.getOffsetMsgId() == null ? new String[0] : r.getOffsetMsgId().split(",");
        for (int k = 0; k < batch.size(); k++) {
            result(batch.get(k), r, k, offIds.length == batch.size() ? offIds[k] : null);
        }
    }

    private SendCallback callback(final List<Item> its) {
        return new SendCallback() {
            @Override
            public void onSuccess(SendResult r) {
                try {
                    if (its.size() == 1 && its.get(0).batch == null) {
                        result(its.get(0), r, 0, null);
                    } else {
                        batchResult(its, r);
                    }
                } finally {
                    asyncDone();
                }
            }

            @Override
            public void onException(Throwable e) {
                try {
                    for (Item it : its) {
                        fail(it, e);
                    }
                } finally {
                    asyncDone();
                }
            }
        };
    }

    private static void putId(Map<String, Object> o, Item it) {
        if (it.spec != null && it.spec.containsKey("id")) {
            o.put("id", it.spec.get("id"));
        }
    }

    /** Result line. For a batch, k is the index in the batch and offId the k-th offset message id. */
    private void result(Item it, SendResult r, int k, String offId) {
        Map<String, Object> o = Peer.obj();
        o.put("i", it.i);
        putId(o, it);
        o.put("status", r.getSendStatus() == null ? null : r.getSendStatus().name());
        String uniq = MessageClientIDSetter.getUniqID(it.msg);
        if (it.batch == null) {
            o.put("msgId", r.getMsgId());
            o.put("offsetMsgId", r.getOffsetMsgId());
        } else {
            o.put("msgId", uniq);
            o.put("offsetMsgId", offId);
            o.put("batch", it.batch);
            o.put("batchIndex", k);
        }
        MessageQueue mq = r.getMessageQueue();
        o.put("topic", mq == null ? it.msg.getTopic() : mq.getTopic());
        o.put("brokerName", mq == null ? null : mq.getBrokerName());
        o.put("queueId", mq == null ? null : mq.getQueueId());
        o.put("queueOffset", r.getQueueOffset() + k);
        if (r.getTransactionId() != null) {
            o.put("transactionId", r.getTransactionId());
        }
        if (r instanceof TransactionSendResult) {
            LocalTransactionState s = ((TransactionSendResult) r).getLocalTransactionState();
            o.put("localTxState", s == null ? null : s.name());
        }
        Peer.emit(o);
        if (r.getSendStatus() == null || !"SEND_OK".equals(r.getSendStatus().name())) {
            failures.incrementAndGet();
        }
    }

    private void fail(Item it, String why) {
        fail(it, why, null);
    }

    private void fail(Item it, Throwable t) {
        fail(it, Util.describe(t), Util.responseCode(t));
    }

    private void fail(Item it, String why, Integer code) {
        failures.incrementAndGet();
        Map<String, Object> o = Peer.obj();
        o.put("i", it.i);
        putId(o, it);
        o.put("error", why);
        o.put("code", code);
        Peer.emit(o);
    }

    private void asyncStart() {
        synchronized (asyncLock) {
            asyncPending++;
        }
    }

    private void asyncDone() {
        synchronized (asyncLock) {
            asyncPending--;
            asyncLock.notifyAll();
        }
    }

    private void waitAsync() throws InterruptedException {
        long deadline = System.currentTimeMillis() + a.num("async-wait-ms", 60000);
        synchronized (asyncLock) {
            while (asyncPending > 0) {
                long left = deadline - System.currentTimeMillis();
                if (left <= 0) {
                    Peer.diag(asyncPending + " async sends got no callback in time");
                    failures.addAndGet(asyncPending);
                    return;
                }
                asyncLock.wait(left);
            }
        }
    }

    // ------------------------------------------------------------ transactions

    private static LocalTransactionState finalState(Item it) {
        if (it.tx.endsWith("rollback")) {
            return LocalTransactionState.ROLLBACK_MESSAGE;
        }
        if (it.tx.endsWith("commit")) {
            return LocalTransactionState.COMMIT_MESSAGE;
        }
        return LocalTransactionState.UNKNOW;
    }

    private final class Listener implements TransactionListener {
        @Override
        public LocalTransactionState executeLocalTransaction(Message msg, Object arg) {
            Item it = (Item) arg;
            byUniq.put(MessageClientIDSetter.getUniqID(msg), it);
            if (it.tx.startsWith("unknown")) {
                return LocalTransactionState.UNKNOW;
            }
            return finalState(it);
        }

        @Override
        public LocalTransactionState checkLocalTransaction(MessageExt msg) {
            String uniq = MessageClientIDSetter.getUniqID(msg);
            Item it = uniq == null ? null : byUniq.get(uniq);
            LocalTransactionState s = it == null ? checkDefault : finalState(it);
            Map<String, Object> o = Peer.obj();
            o.put("i", it == null ? -1 : it.i);
            if (it != null) {
                putId(o, it);
            }
            o.put("checkBack", s.name());
            o.put("msgId", uniq);
            o.put("transactionId", msg.getTransactionId());
            o.put("topic", msg.getTopic());
            o.put("queueOffset", msg.getQueueOffset());
            o.put("commitLogOffset", msg.getCommitLogOffset());
            Peer.emit(o);
            if (it != null) {
                it.checkedBack = true;
            }
            return s;
        }
    }

    /** Transactions sent as unknown-then-X are only finished once the broker asked back: wait for that. */
    private void waitCheckBacks() {
        List<Item> waiting = new ArrayList<Item>();
        for (Item it : items) {
            if (it.tx != null && it.tx.startsWith("unknown-then") && it.error == null && it.msg != null
                && byUniq.containsKey(String.valueOf(MessageClientIDSetter.getUniqID(it.msg)))) {
                waiting.add(it);
            }
        }
        if (waiting.isEmpty()) {
            return;
        }
        long deadline = System.currentTimeMillis() + a.num("tx-wait-ms", 120000);
        while (System.currentTimeMillis() < deadline) {
            boolean all = true;
            for (Item it : waiting) {
                all &= it.checkedBack;
            }
            if (all) {
                // the client answers the broker (END_TRANSACTION, oneway) after the listener returned
                Util.sleep(500);
                return;
            }
            Util.sleep(100);
        }
        for (Item it : waiting) {
            if (!it.checkedBack) {
                fail(it, "no transaction check-back within " + a.num("tx-wait-ms", 120000) + " ms");
            }
        }
    }
}
