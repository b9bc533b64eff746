package librmq.interop;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

import org.apache.rocketmq.client.consumer.DefaultMQPullConsumer;
import org.apache.rocketmq.client.consumer.PullResult;
import org.apache.rocketmq.client.consumer.PullStatus;
import org.apache.rocketmq.client.trace.TraceBean;
import org.apache.rocketmq.client.trace.TraceContext;
import org.apache.rocketmq.client.trace.TraceDataEncoder;
import org.apache.rocketmq.common.message.MessageExt;
import org.apache.rocketmq.common.message.MessageQueue;

/**
 * {@code trace-decode}: reads a trace topic (RMQ_SYS_TRACE_TOPIC or a customized one) from its first offset with a
 * DefaultMQPullConsumer (no offsets committed) and decodes every trace message's body with the Java client's own
 * {@code TraceDataEncoder.decoderFromTraceDataString}. Prints one JSON line per decoded record (TraceContext with
 * its one TraceBean) whose msgId is one of {@code --msg-ids} (comma-separated; all records when absent), with the
 * trace message's KEYS; a summary line last. Stops at the first of: --count records printed, --timeout-ms.
 */
final class TraceDecode {
    private TraceDecode() {
    }

    static int run(Peer.Args a) throws Exception {
        String topic = a.get("topic", "RMQ_SYS_TRACE_TOPIC");
        long count = a.num("count", 0);
        long timeoutMs = a.num("timeout-ms", 30000);
        Set<String> ids = null;
        if (a.get("msg-ids") != null) {
            ids = new HashSet<String>();
            Collections.addAll(ids, a.get("msg-ids").split(","));
        }
        String group = a.get("group", "peer_trace_decode_" + Util.pid());
        DefaultMQPullConsumer c = Util.rpcHook(a) == null ? new DefaultMQPullConsumer(group)
            : new DefaultMQPullConsumer(group, Util.rpcHook(a));
        Util.configure(c, a);
        c.start();
        long start = System.currentTimeMillis();
        long printed = 0;
        long traceMsgs = 0;
        String reason = "timeout";
        try {
            List<MessageQueue> mqs = new ArrayList<MessageQueue>(c.fetchSubscribeMessageQueues(topic));
            Collections.sort(mqs);
            Map<MessageQueue, Long> next = new TreeMap<MessageQueue, Long>();
            for (MessageQueue mq : mqs) {
                next.put(mq, c.minOffset(mq));
            }
            outer:
            while (System.currentTimeMillis() - start < timeoutMs) {
                boolean got = false;
                for (MessageQueue mq : mqs) {
                    PullResult r = c.pull(mq, "*", next.get(mq), 32, 3000);
                    next.put(mq, r.getNextBeginOffset());
                    if (r.getPullStatus() != PullStatus.FOUND || r.getMsgFoundList() == null) {
                        continue;
                    }
                    for (MessageExt m : r.getMsgFoundList()) {
                        got = true;
                        traceMsgs++;
                        String body = new String(m.getBody(), StandardCharsets.UTF_8);
                        for (TraceContext ctx : TraceDataEncoder.decoderFromTraceDataString(body)) {
                            for (TraceBean b : ctx.getTraceBeans()) {
                                if (ids != null && !ids.contains(b.getMsgId())) {
                                    continue;
                                }
                                Peer.emit(record(ctx, b, m));
                                printed++;
                            }
                        }
                        if (count > 0 && printed >= count) {
                            reason = "count";
                            break outer;
                        }
                    }
                }
                if (!got) {
                    Util.sleep(100);
                }
            }
        } finally {
            c.shutdown();
        }
        Map<String, Object> s = Peer.obj();
        s.put("summary", true);
        s.put("printed", printed);
        s.put("traceMessages", traceMsgs);
        s.put("stop", reason);
        Peer.emit(s);
        return count > 0 && printed < count ? 1 : 0;
    }

    private static Map<String, Object> record(TraceContext ctx, TraceBean b, MessageExt m) {
        Map<String, Object> o = Peer.obj();
        o.put("traceType", ctx.getTraceType() == null ? null : ctx.getTraceType().name());
        o.put("timeStamp", ctx.getTimeStamp());
        o.put("regionId", ctx.getRegionId());
        o.put("groupName", ctx.getGroupName());
        o.put("costTime", ctx.getCostTime());
        o.put("success", ctx.isSuccess());
        o.put("requestId", ctx.getRequestId());
        o.put("contextCode", ctx.getContextCode());
        o.put("topic", b.getTopic());
        o.put("msgId", b.getMsgId());
        o.put("offsetMsgId", b.getOffsetMsgId());
        o.put("tags", b.getTags());
        o.put("keys", b.getKeys());
        o.put("storeHost", b.getStoreHost());
        o.put("bodyLength", b.getBodyLength());
        o.put("msgType", b.getMsgType() == null ? null : b.getMsgType().name());
        o.put("retryTimes", b.getRetryTimes());
        o.put("transactionId", b.getTransactionId());
        o.put("transactionState", b.getTransactionState() == null ? null : b.getTransactionState().name());
        o.put("fromTransactionCheck", b.isFromTransactionCheck());
        o.put("traceMsgKeys", m.getKeys());
        o.put("traceMsgTopic", m.getTopic());
        return o;
    }
}
