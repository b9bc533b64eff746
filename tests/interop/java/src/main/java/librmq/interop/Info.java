package librmq.interop;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;

import org.apache.rocketmq.client.impl.MQClientAPIImpl;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.client.producer.selector.SelectMessageQueueByHash;
import org.apache.rocketmq.common.message.Message;
import org.apache.rocketmq.common.message.MessageQueue;
import org.apache.rocketmq.remoting.RPCHook;

/** Small subcommands: hash, route, queues, create-topic. */
final class Info {
    private Info() {
    }

    /** hash [--queues N] STRING...: Java's String.hashCode and the queue SelectMessageQueueByHash picks. */
    static int hash(Peer.Args a) {
        if (a.pos.isEmpty()) {
            throw new Peer.Usage("hash wants at least one string");
        }
        int n = (int) a.num("queues", 0);
        List<MessageQueue> mqs = new ArrayList<MessageQueue>();
        for (int q = 0; q < n; q++) {
            mqs.add(new MessageQueue("T", "b", q));
        }
        SelectMessageQueueByHash sel = new SelectMessageQueueByHash();
        for (String s : a.pos) {
            Map<String, Object> o = Peer.obj();
            o.put("string", s);
            o.put("hashCode", s.hashCode());
            if (n > 0) {
                o.put("queues", n);
                o.put("queueIndex", sel.select(mqs, new Message(), s).getQueueId());
            }
            Peer.emit(o);
        }
        return 0;
    }

    private static DefaultMQProducer admin(Peer.Args a) throws Exception {
        RPCHook hook = Util.rpcHook(a);
        String group = a.get("group", "PEER_ADMIN_" + Util.pid());
        DefaultMQProducer p = hook == null ? new DefaultMQProducer(group) : new DefaultMQProducer(group, hook);
        Util.configure(p, a);
        p.start();
        return p;
    }

    /**
     * consumer-status --group G --topic T [--client-id ID]: what the tools' GetConsumerStatusCommand does (it is not
     * registered in mqadmin): INVOKE_BROKER_TO_GET_CONSUMER_STATUS to the master of every broker of the topic, which
     * asks each client of the group (GET_CONSUMER_STATUS_FROM_CLIENT) for its offsets of the topic. One line per
     * client and queue: clientId, brokerName, queueId, offset; exit 1 with an error line when a broker refuses.
     */
    static int consumerStatus(Peer.Args a) throws Exception {
        String topic = a.need("topic");
        String group = a.need("group");
        String clientId = a.get("client-id", "");
        RPCHook hook = Util.rpcHook(a);
        String pg = "PEER_ADMIN_" + Util.pid();
        DefaultMQProducer p = hook == null ? new DefaultMQProducer(pg) : new DefaultMQProducer(pg, hook);
        Util.configure(p, a);
        p.start();
        try {
            MQClientAPIImpl api = p.getDefaultMQProducerImpl().getmQClientFactory().getMQClientAPIImpl();
            // TopicRouteData and BrokerData moved packages between 4.x and 5.x: reached by reflection
            Object rd = api.getTopicRouteInfoFromNameServer(topic, 3000);
            List<?> bds = (List<?>) rd.getClass().getMethod("getBrokerDatas").invoke(rd);
            for (Object bd : bds) {
                Map<?, ?> addrs = (Map<?, ?>) bd.getClass().getMethod("getBrokerAddrs").invoke(bd);
                Object addr = addrs.get(0L);
                if (addr == null) {
                    continue;
                }
                Map<String, Map<MessageQueue, Long>> t =
                    api.invokeBrokerToGetConsumerStatus(addr.toString(), topic, group, clientId, 5000);
                for (Map.Entry<String, Map<MessageQueue, Long>> c : t.entrySet()) {
                    for (Map.Entry<MessageQueue, Long> q : c.getValue().entrySet()) {
                        Map<String, Object> o = Peer.obj();
                        o.put("clientId", c.getKey());
                        o.put("topic", q.getKey().getTopic());
                        o.put("brokerName", q.getKey().getBrokerName());
                        o.put("queueId", q.getKey().getQueueId());
                        o.put("offset", q.getValue());
                        Peer.emit(o);
                    }
                }
            }
            return 0;
        } catch (Exception e) {
            Map<String, Object> o = Peer.obj();
            o.put("topic", topic);
            o.put("group", group);
            o.put("error", Util.describe(e));
            o.put("code", Util.responseCode(e));
            Peer.emit(o);
            return 1;
        } finally {
            p.shutdown();
        }
    }

    private static List<Object> mqList(List<MessageQueue> mqs) {
        List<Object> l = new ArrayList<Object>();
        for (MessageQueue mq : mqs) {
            Map<String, Object> o = Peer.obj();
            o.put("brokerName", mq.getBrokerName());
            o.put("queueId", mq.getQueueId());
            l.add(o);
        }
        return l;
    }

    /** route --topic T: the TopicRouteData the name server returns, as the client decoded it. */
    static int route(Peer.Args a) throws Exception {
        String topic = a.need("topic");
        DefaultMQProducer p = admin(a);
        try {
            Object rd = p.getDefaultMQProducerImpl().getmQClientFactory().getMQClientAPIImpl()
                .getTopicRouteInfoFromNameServer(topic, 3000);
            // TopicRouteData moved packages between 4.x and 5.x; both extend RemotingSerializable.toJson()
            String js = (String) rd.getClass().getMethod("toJson").invoke(rd);
            Map<String, Object> o = Peer.obj();
            o.put("topic", topic);
            o.put("route", Json.parse(js));
            Peer.emit(o);
            return 0;
        } catch (Exception e) {
            Map<String, Object> o = Peer.obj();
            o.put("topic", topic);
            o.put("error", Util.describe(e));
            o.put("code", Util.responseCode(e));
            Peer.emit(o);
            return 1;
        } finally {
            p.shutdown();
        }
    }

    /**
     * queues --topic T: "publish" = the list a producer's MessageQueueSelector receives (route order: brokers
     * sorted by name, writable queues 0..writeQueueNums-1); "subscribe" = readable queues sorted the way
     * rebalancing sorts them (MessageQueue.compareTo: topic, brokerName, queueId).
     */
    static int queues(Peer.Args a) throws Exception {
        String topic = a.need("topic");
        DefaultMQProducer p = admin(a);
        try {
            Map<String, Object> o = Peer.obj();
            o.put("topic", topic);
            o.put("publish", mqList(p.fetchPublishMessageQueues(topic)));
            List<MessageQueue> sub = new ArrayList<MessageQueue>(
                p.getDefaultMQProducerImpl().getmQClientFactory().getMQAdminImpl().fetchSubscribeMessageQueues(topic));
            Collections.sort(sub);
            o.put("subscribe", mqList(sub));
            Peer.emit(o);
            return 0;
        } catch (Exception e) {
            Map<String, Object> o = Peer.obj();
            o.put("topic", topic);
            o.put("error", Util.describe(e));
            o.put("code", Util.responseCode(e));
            Peer.emit(o);
            return 1;
        } finally {
            p.shutdown();
        }
    }

    /** create-topic --topic T [--queues N]: creates T on every master that has TBW102 (client admin API). */
    static int createTopic(Peer.Args a) throws Exception {
        String topic = a.need("topic");
        int n = (int) a.num("queues", 4);
        DefaultMQProducer p = admin(a);
        try {
            p.getDefaultMQProducerImpl().createTopic("TBW102", topic, n, 0);
            // wait until the name server routes it (the broker registers the change right away)
            long deadline = System.currentTimeMillis() + a.num("wait-ms", 10000);
            List<MessageQueue> pub = null;
            while (System.currentTimeMillis() < deadline) {
                try {
                    pub = p.fetchPublishMessageQueues(topic);
                    if (!pub.isEmpty()) {
                        break;
                    }
                } catch (Exception ignore) {
                    // not routed yet
                }
                Util.sleep(100);
            }
            Map<String, Object> o = Peer.obj();
            o.put("topic", topic);
            if (pub == null || pub.isEmpty()) {
                o.put("error", "created, but the name server does not route it yet");
                Peer.emit(o);
                return 1;
            }
            o.put("created", true);
            o.put("publish", mqList(pub));
            Peer.emit(o);
            return 0;
        } catch (Exception e) {
            Map<String, Object> o = Peer.obj();
            o.put("topic", topic);
            o.put("error", Util.describe(e));
            o.put("code", Util.responseCode(e));
            Peer.emit(o);
            return 1;
        } finally {
            p.shutdown();
        }
    }
}
