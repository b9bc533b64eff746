package librmq.interop;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

import org.apache.rocketmq.client.consumer.DefaultMQPushConsumer;
import org.apache.rocketmq.client.consumer.listener.ConsumeConcurrentlyContext;
import org.apache.rocketmq.client.consumer.listener.ConsumeConcurrentlyStatus;
import org.apache.rocketmq.client.consumer.listener.MessageListenerConcurrently;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.client.producer.SendResult;
import org.apache.rocketmq.client.utils.MessageUtil;
import org.apache.rocketmq.common.consumer.ConsumeFromWhere;
import org.apache.rocketmq.common.message.Message;
import org.apache.rocketmq.common.message.MessageConst;
import org.apache.rocketmq.common.message.MessageExt;

/**
 * Request/reply with the official client.
 *
 * {@code reply --group G --topic T [--tag-expr E] [--count N] [--timeout-ms T]}: a push consumer (from the first offset) that
 * answers every request with {@code MessageUtil.createReplyMessage(request, "reply:" + body)} sent by a
 * DefaultMQProducer; prints {@code {"ready":true}} once started, then one line per request answered (request body,
 * correlation id, reply-to client, TTL, CLUSTER, send status), and a summary after N replies or the timeout.
 *
 * {@code request --group G --topic T [--tags TAG] [--count N] [--body B] [--timeout-ms T]}: N synchronous
 * {@code producer.request(msg, timeout)} calls with bodies B0..B(N-1); prints one line per request (the reply's
 * body, topic and correlation id, or the error) and a summary. Exit 1 when a request got no reply.
 */
final class ReqReply {
    private ReqReply() {
    }

    private static String prop(Message m, String k) {
        String v = m.getProperty(k);
        return v == null ? "" : v;
    }

    static int reply(Peer.Args a) throws Exception {
        String group = a.need("group");
        String topic = a.need("topic");
        final long count = a.num("count", 1);
        long timeoutMs = a.num("timeout-ms", 60000);
        final DefaultMQProducer p = new DefaultMQProducer(group + "_RP");
        Util.configure(p, a);
        p.start();
        final AtomicLong answered = new AtomicLong();
        final Object done = new Object();
        DefaultMQPushConsumer c = new DefaultMQPushConsumer(group);
        Util.configure(c, a);
        c.setConsumeFromWhere(ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET);
        c.subscribe(topic, a.get("tag-expr", "*"));
        c.registerMessageListener(new MessageListenerConcurrently() {
            @Override
            public ConsumeConcurrentlyStatus consumeMessage(List<MessageExt> msgs, ConsumeConcurrentlyContext ctx) {
                for (MessageExt m : msgs) {
                    String body = new String(m.getBody(), StandardCharsets.UTF_8);
                    Map<String, Object> o = Peer.obj();
                    o.put("request", body);
                    o.put("correlationId", prop(m, MessageConst.PROPERTY_CORRELATION_ID));
                    o.put("replyTo", prop(m, MessageConst.PROPERTY_MESSAGE_REPLY_TO_CLIENT));
                    o.put("ttl", prop(m, MessageConst.PROPERTY_MESSAGE_TTL));
                    o.put("cluster", prop(m, MessageConst.PROPERTY_CLUSTER));
                    try {
                        Message r = MessageUtil.createReplyMessage(m,
                            ("reply:" + body).getBytes(StandardCharsets.UTF_8));
                        SendResult sr = p.send(r, 5000);
                        o.put("replyTopic", r.getTopic());
                        o.put("sent", sr.getSendStatus().toString());
                    } catch (Exception e) {
                        o.put("error", Util.describe(e));
                    }
                    Peer.emit(o);
                    if (answered.incrementAndGet() >= count) {
                        synchronized (done) {
                            done.notifyAll();
                        }
                    }
                }
                return ConsumeConcurrentlyStatus.CONSUME_SUCCESS;
            }
        });
        c.start();
        Map<String, Object> ready = Peer.obj();
        ready.put("ready", true);
        Peer.emit(ready);
        long end = System.currentTimeMillis() + timeoutMs;
        synchronized (done) {
            while (answered.get() < count && System.currentTimeMillis() < end) {
                done.wait(Math.max(1, Math.min(200, end - System.currentTimeMillis())));
            }
        }
        Map<String, Object> s = Peer.obj();
        s.put("summary", true);
        s.put("answered", answered.get());
        Peer.emit(s);
        c.shutdown();
        p.shutdown();
        return answered.get() >= count ? 0 : 1;
    }

    static int request(Peer.Args a) throws Exception {
        String group = a.need("group");
        String topic = a.need("topic");
        long count = a.num("count", 1);
        String body = a.get("body", "java-request-");
        long timeoutMs = a.num("timeout-ms", 10000);
        DefaultMQProducer p = new DefaultMQProducer(group);
        Util.configure(p, a);
        p.start();
        long ok = 0;
        for (long i = 0; i < count; i++) {
            Message m = new Message(topic, (body + i).getBytes(StandardCharsets.UTF_8));
            if (a.get("tags") != null) {
                m.setTags(a.get("tags"));
            }
            Map<String, Object> o = Peer.obj();
            o.put("request", body + i);
            try {
                Message r = p.request(m, timeoutMs);
                o.put("reply", new String(r.getBody(), StandardCharsets.UTF_8));
                o.put("topic", r.getTopic());
                o.put("correlationId", prop(r, MessageConst.PROPERTY_CORRELATION_ID));
                o.put("requestCorrelationId", prop(m, MessageConst.PROPERTY_CORRELATION_ID));
                o.put("msgType", prop(r, MessageConst.PROPERTY_MESSAGE_TYPE));
                ok++;
            } catch (Exception e) {
                o.put("error", Util.describe(e));
            }
            Peer.emit(o);
        }
        Map<String, Object> s = Peer.obj();
        s.put("summary", true);
        s.put("replies", ok);
        Peer.emit(s);
        p.shutdown();
        return ok == count ? 0 : 1;
    }
}
