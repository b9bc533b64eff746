package librmq.vectors;

import com.alibaba.fastjson.JSON;
import com.alibaba.fastjson.JSONArray;
import com.alibaba.fastjson.JSONObject;
import com.alibaba.fastjson.parser.Feature;
import java.net.Inet6Address;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import org.apache.rocketmq.common.message.Message;
import org.apache.rocketmq.common.message.MessageDecoder;
import org.apache.rocketmq.common.message.MessageExt;
import org.apache.rocketmq.remoting.protocol.RemotingCommand;
import org.apache.rocketmq.remoting.protocol.RemotingSerializable;

/**
 * Bytes to `.txt` lines, read the way Java reads them. The generator writes
 * every `.txt` with these functions (so `decode` of a Java-made `.bin` gives
 * its `.txt` back exactly), and `Gen decode <kind> <file>` runs them on bytes
 * made elsewhere (by the C library).
 */
@SuppressWarnings("unchecked")
final class Decode {
    static final int MAGIC_V1 = -626843481; // 0xDAA320A7
    static final int MAGIC_V2 = -626843477; // 0xDAA320AB, 5.x only: 2-byte topic length

    private Decode() {
    }

    static Kv run(String kind, byte[] b) throws Exception {
        switch (kind) {
            case "cmd": return cmd(b);
            case "batch": return batch(b);
            case "heartbeat": return heartbeat(b);
            case "stored": return stored(b);
            case "props": return props(b);
            case "route": return route(b);
            case "cluster": return cluster(b);
            default: throw new IllegalArgumentException("no decoder for kind " + kind);
        }
    }

    // ---- cmd: a whole frame, as NettyDecoder hands it to RemotingCommand.decode

    static Kv cmd(byte[] f) throws Exception {
        int total = ByteBuffer.wrap(f).getInt();
        if (total != f.length - 4)
            throw new IllegalArgumentException("length prefix says " + total + ", " + (f.length - 4) + " bytes follow");
        RemotingCommand c = RemotingCommand.decode(ByteBuffer.wrap(f, 4, f.length - 4).slice());
        Kv kv = new Kv("cmd");
        kv.add("serialize", c.getSerializeTypeCurrentRPC().name());
        kv.add("code", c.getCode());
        kv.add("language", c.getLanguage() == null ? null : c.getLanguage().name());
        kv.add("version", c.getVersion());
        kv.add("opaque", c.getOpaque());
        kv.add("flag", c.getFlag());
        kv.add("remark", c.getRemark());
        if (c.getExtFields() != null)
            for (Map.Entry<String, String> e : new TreeMap<>(c.getExtFields()).entrySet()) kv.add("ext." + e.getKey(), e.getValue());
        kv.hex("body.hex", c.getBody());
        return kv;
    }

    // ---- batch: a SEND_BATCH_MESSAGE body, read by MessageDecoder.decodeMessages

    static Kv batch(byte[] b) throws Exception {
        List<Message> ms = MessageDecoder.decodeMessages(ByteBuffer.wrap(b));
        Kv kv = new Kv("batch").add("count", ms.size());
        ByteBuffer raw = ByteBuffer.wrap(b);
        for (int i = 0; i < ms.size(); i++) {
            // The same walk as decodeMessages, for the raw property bytes; Java
            // never looks at an entry's totalSize, so a wrong one only shows here.
            int start = raw.position();
            int declared = raw.getInt();
            raw.position(raw.position() + 8); // magic, body CRC (both 0 from encodeMessages)
            raw.getInt(); // flag
            int bodyLen = raw.getInt();
            raw.position(raw.position() + bodyLen);
            byte[] props = new byte[raw.getShort()];
            raw.get(props);
            Message m = ms.get(i);
            String p = "msg." + i + ".";
            if (declared != raw.position() - start) kv.add(p + "totalSize", declared);
            kv.add(p + "flag", m.getFlag());
            kv.hex(p + "body.hex", m.getBody());
            kv.hex(p + "props.hex", props);
            props(kv, p, m.getProperties());
        }
        if (raw.hasRemaining()) kv.add("trailing", raw.remaining());
        return kv;
    }

    // ---- heartbeat: HeartbeatData.decode as the broker does; <i>/<j> in JSON array order

    static Kv heartbeat(byte[] b) throws Exception {
        Object hb = RemotingSerializable.decode(b, Rmq.cls("heartbeat.HeartbeatData"));
        JSONObject j = JSON.parseObject(new String(b, StandardCharsets.UTF_8), Feature.OrderedField);
        Kv kv = new Kv("heartbeat");
        kv.add("clientID", Rmq.get(hb, "clientID"));
        List<Object> ps = inJsonOrder((Collection<?>) Rmq.get(hb, "producerDataSet"), j.getJSONArray("producerDataSet"), "groupName");
        kv.add("producers", ps.size());
        for (int i = 0; i < ps.size(); i++) kv.add("producer." + i + ".groupName", Rmq.get(ps.get(i), "groupName"));
        JSONArray jcs = j.getJSONArray("consumerDataSet");
        List<Object> cs = inJsonOrder((Collection<?>) Rmq.get(hb, "consumerDataSet"), jcs, "groupName");
        kv.add("consumers", cs.size());
        for (int i = 0; i < cs.size(); i++) {
            Object c = cs.get(i);
            String p = "consumer." + i + ".";
            kv.add(p + "groupName", Rmq.get(c, "groupName"));
            for (String f : new String[] {"consumeType", "messageModel", "consumeFromWhere"}) {
                Object e = Rmq.get(c, f);
                kv.add(p + f, e == null ? null : ((Enum<?>) e).name());
            }
            kv.add(p + "unitMode", Rmq.get(c, "unitMode"));
            JSONArray jss = null;
            for (int k = 0; jcs != null && k < jcs.size(); k++)
                if (String.valueOf(Rmq.get(c, "groupName")).equals(jcs.getJSONObject(k).getString("groupName")))
                    jss = jcs.getJSONObject(k).getJSONArray("subscriptionDataSet");
            List<Object> ss = inJsonOrder((Collection<?>) Rmq.get(c, "subscriptionDataSet"), jss, "topic");
            kv.add(p + "subs", ss.size());
            for (int k = 0; k < ss.size(); k++) {
                Object s = ss.get(k);
                String q = p + "sub." + k + ".";
                for (String f : new String[] {"topic", "subString", "expressionType", "classFilterMode", "subVersion"})
                    kv.add(q + f, Rmq.get(s, f));
                TreeSet<String> tags = new TreeSet<>(Decode::utf8Order);
                tags.addAll((Collection<String>) Rmq.get(s, "tagsSet"));
                kv.add(q + "tags", String.join("||", tags));
                StringBuilder codes = new StringBuilder();
                for (Integer x : new TreeSet<>((Collection<Integer>) Rmq.get(s, "codeSet")))
                    codes.append(codes.length() > 0 ? "," : "").append(x);
                kv.add(q + "codes", codes);
            }
        }
        return kv;
    }

    /** The typed objects (from Java's HashSets) in the order their JSON array lists them. */
    private static List<Object> inJsonOrder(Collection<?> typed, JSONArray json, String key) throws Exception {
        List<Object> left = new ArrayList<>(typed == null ? new ArrayList<>() : typed);
        List<Object> out = new ArrayList<>();
        for (int i = 0; json != null && i < json.size(); i++) {
            String id = json.getJSONObject(i).getString(key);
            for (Object o : left) {
                if (String.valueOf(Rmq.get(o, key)).equals(String.valueOf(id))) {
                    out.add(o);
                    left.remove(o);
                    break;
                }
            }
        }
        out.addAll(left);
        return out;
    }

    static int utf8Order(String a, String b) {
        byte[] x = a.getBytes(StandardCharsets.UTF_8), y = b.getBytes(StandardCharsets.UTF_8);
        for (int i = 0; i < Math.min(x.length, y.length); i++)
            if (x[i] != y[i]) return (x[i] & 0xFF) - (y[i] & 0xFF);
        return x.length - y.length;
    }

    // ---- stored: commit-log records as a pull returns them

    static Kv stored(byte[] all) throws Exception {
        Kv kv = new Kv("stored");
        int pos = 0, i = 0;
        Integer error = null;
        for (; pos < all.length; i++) {
            int size = all.length - pos >= 8 ? ByteBuffer.wrap(all, pos, 8).getInt() : -1;
            int magic = size < 0 ? 0 : ByteBuffer.wrap(all, pos + 4, 4).getInt();
            boolean magicOk = magic == MAGIC_V1 || (!Rmq.V4 && magic == MAGIC_V2);
            MessageExt raw = null, m = null;
            if (size > 8 && size <= all.length - pos && magicOk) {
                ByteBuffer one = ByteBuffer.wrap(all, pos, size).slice();
                raw = MessageDecoder.decode(one, true, false, false);
                if (one.hasRemaining()) raw = null; // fields end before totalSize says
                m = MessageDecoder.decode(ByteBuffer.wrap(all, pos, size).slice(), true, true, false);
            }
            if (raw == null || m == null) {
                error = i;
                break;
            }
            String p = "msg." + i + ".";
            kv.add(p + "totalSize", raw.getStoreSize());
            kv.add(p + "magic", magic);
            kv.add(p + "bodyCrc", raw.getBodyCRC());
            kv.add(p + "queueId", raw.getQueueId());
            kv.add(p + "flag", raw.getFlag());
            kv.add(p + "queueOffset", raw.getQueueOffset());
            kv.add(p + "commitLogOffset", raw.getCommitLogOffset());
            kv.add(p + "sysFlag", ByteBuffer.wrap(all, pos + 36, 4).getInt()); // as stored (5.x clears bit 0 when it inflates)
            kv.add(p + "bornTimestamp", raw.getBornTimestamp());
            kv.add(p + "bornHost", host(raw.getBornHost()));
            kv.add(p + "storeTimestamp", raw.getStoreTimestamp());
            kv.add(p + "storeHost", host(raw.getStoreHost()));
            kv.add(p + "reconsumeTimes", raw.getReconsumeTimes());
            kv.add(p + "preparedTransactionOffset", raw.getPreparedTransactionOffset());
            kv.add(p + "topic", raw.getTopic());
            // Java leaves the body null when its length is 0; the record still has one.
            kv.hex(p + "storedBody.hex", raw.getBody() == null ? new byte[0] : raw.getBody());
            kv.hex(p + "body.hex", m.getBody() == null ? new byte[0] : m.getBody());
            kv.add(p + "offsetMsgId", raw.getMsgId());
            props(kv, p, raw.getProperties());
            pos += size;
        }
        if (error == null) {
            kv.add("count", i);
        } else {
            kv.add("error", error);
            // What Java's own loop makes of the same bytes: it reads field after
            // field, never checks totalSize, and 4.9 never checks the magic.
            kv.add("javaDecoded", MessageDecoder.decodes(ByteBuffer.wrap(all)).size());
        }
        return kv;
    }

    /** `a.b.c.d:port`, IPv6 as `[addr]:port` with Java's getHostAddress() text. */
    static String host(SocketAddress sa) {
        InetSocketAddress a = (InetSocketAddress) sa;
        String h = a.getAddress().getHostAddress();
        return (a.getAddress() instanceof Inet6Address ? "[" + h + "]" : h) + ":" + a.getPort();
    }

    // ---- props: a property string fed to string2messageProperties

    static Kv props(byte[] b) {
        String s = new String(b, StandardCharsets.UTF_8);
        Map<String, String> m = MessageDecoder.string2messageProperties(s);
        Kv kv = new Kv("props");
        // Would messageProperties2String write exactly these bytes from these
        // props, inserted in the order the string names them?
        LinkedHashMap<String, String> ordered = new LinkedHashMap<>();
        for (String entry : s.split("\u0002", -1)) {
            int k = entry.indexOf('\u0001');
            if (k > 0 && m.containsKey(entry.substring(0, k))) ordered.put(entry.substring(0, k), m.get(entry.substring(0, k)));
        }
        if (!m.isEmpty() && ordered.size() == m.size() && MessageDecoder.messageProperties2String(ordered).equals(s)) {
            kv.add("encoded", "true");
            kv.add("order", String.join(",", ordered.keySet()));
        }
        props(kv, "", m);
        return kv;
    }

    static void props(Kv kv, String prefix, Map<String, String> m) {
        if (m == null) return;
        TreeMap<String, String> sorted = new TreeMap<>(Decode::utf8Order);
        sorted.putAll(m);
        for (Map.Entry<String, String> e : sorted.entrySet()) kv.add(prefix + "prop." + e.getKey(), e.getValue());
    }

    // ---- route and cluster: decoded the way the client decodes them

    static Kv route(byte[] b) throws Exception {
        Object rd = RemotingSerializable.decode(b, Rmq.cls("route.TopicRouteData"));
        Kv kv = new Kv("route");
        kv.add("orderTopicConf", Rmq.get(rd, "orderTopicConf"));
        List<?> qs = (List<?>) Rmq.get(rd, "queueDatas");
        kv.add("queues", qs == null ? 0 : qs.size());
        for (int i = 0; qs != null && i < qs.size(); i++)
            for (String f : new String[] {"brokerName", "readQueueNums", "writeQueueNums", "perm", "topicSysFlag"})
                kv.add("queue." + i + "." + f, Rmq.get(qs.get(i), f));
        List<?> bs = (List<?>) Rmq.get(rd, "brokerDatas");
        kv.add("brokers", bs == null ? 0 : bs.size());
        for (int i = 0; bs != null && i < bs.size(); i++) {
            Object bd = bs.get(i);
            String p = "broker." + i + ".";
            kv.add(p + "cluster", Rmq.get(bd, "cluster"));
            kv.add(p + "brokerName", Rmq.get(bd, "brokerName"));
            Map<?, ?> addrs = (Map<?, ?>) Rmq.get(bd, "brokerAddrs");
            kv.add(p + "addrs", addrs == null ? 0 : addrs.size());
            if (addrs != null) for (Map.Entry<?, ?> e : new TreeMap<>(addrs).entrySet()) kv.add(p + "addr." + e.getKey(), e.getValue());
            if (!Rmq.V4) {
                kv.add(p + "zoneName", Rmq.get(bd, "zoneName"));
                kv.add(p + "enableActingMaster", Rmq.get(bd, "enableActingMaster"));
            }
        }
        if (!Rmq.V4) {
            Map<?, ?> mapping = (Map<?, ?>) Rmq.get(rd, "topicQueueMappingByBroker");
            if (mapping != null) {
                kv.add("mappings", mapping.size());
                for (Map.Entry<?, ?> e : new TreeMap<>(mapping).entrySet()) {
                    String p = "mapping." + e.getKey() + ".";
                    Object info = e.getValue();
                    for (String f : new String[] {"topic", "scope", "totalQueues", "bname", "epoch", "dirty"}) kv.add(p + f, Rmq.get(info, f));
                    Map<?, ?> ids = (Map<?, ?>) Rmq.get(info, "currIdMap");
                    if (ids != null) for (Map.Entry<?, ?> x : new TreeMap<>(ids).entrySet()) kv.add(p + "currIdMap." + x.getKey(), x.getValue());
                }
            }
        }
        return kv;
    }

    static Kv cluster(byte[] b) throws Exception {
        Object ci = RemotingSerializable.decode(b, Rmq.cls("body.ClusterInfo"));
        Kv kv = new Kv("cluster");
        Map<String, ?> brokers = (Map<String, ?>) Rmq.get(ci, "brokerAddrTable");
        kv.add("brokers", brokers.size());
        for (Map.Entry<String, ?> e : new TreeMap<>(brokers).entrySet()) {
            kv.add("broker." + e.getKey() + ".cluster", Rmq.get(e.getValue(), "cluster"));
            Map<?, ?> addrs = (Map<?, ?>) Rmq.get(e.getValue(), "brokerAddrs");
            for (Map.Entry<?, ?> a : new TreeMap<>(addrs).entrySet()) kv.add("broker." + e.getKey() + ".addr." + a.getKey(), a.getValue());
        }
        Map<String, ? extends Collection<String>> clusters = (Map<String, ? extends Collection<String>>) Rmq.get(ci, "clusterAddrTable");
        for (Map.Entry<String, ? extends Collection<String>> e : new TreeMap<>(clusters).entrySet()) {
            TreeSet<String> names = new TreeSet<>(Decode::utf8Order);
            names.addAll(e.getValue());
            kv.add("cluster." + e.getKey(), String.join(" ", names));
        }
        return kv;
    }
}
