package librmq.vectors;

import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.FileOutputStream;
import java.lang.reflect.Method;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import org.apache.rocketmq.common.message.Message;
import org.apache.rocketmq.common.message.MessageDecoder;
import org.apache.rocketmq.common.message.MessageExt;
import org.apache.rocketmq.remoting.protocol.LanguageCode;
import org.apache.rocketmq.remoting.protocol.RemotingCommand;
import org.apache.rocketmq.remoting.protocol.SerializeType;

/**
 * Writes golden vectors (tests/vectors/FORMAT.md) with the official Java
 * library. Classes whose package moved between 4.9 and 5.x are reached by
 * name, so one source serves both versions.
 */
public final class Gen {
    private final File dir;
    private final String pkg; // 4.9: org.apache.rocketmq.common.protocol, 5.x: ...remoting.protocol

    private Gen(File dir, boolean v4) {
        this.dir = dir;
        this.pkg = v4 ? "org.apache.rocketmq.common.protocol" : "org.apache.rocketmq.remoting.protocol";
    }

    public static void main(String[] a) throws Exception {
        File dir = new File(a[0]);
        dir.mkdirs();
        String v = org.apache.rocketmq.common.MQVersion.getVersionDesc(org.apache.rocketmq.common.MQVersion.CURRENT_VERSION);
        Gen g = new Gen(dir, v.startsWith("V4"));
        g.commands();
        g.routes();
        g.cluster();
        g.heartbeats();
        g.batches();
        g.stored();
        g.props();
        g.msgids();
        g.taghash();
        g.alloc();
    }

    // ---- output -----------------------------------------------------------

    private static String esc(String s) {
        StringBuilder b = new StringBuilder();
        byte[] u = s.getBytes(StandardCharsets.UTF_8);
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        for (byte x : u) {
            int c = x & 0xFF;
            if (c == '\\') o.write('\\'); else if (c == '\t') { o.write('\\'); c = 't'; }
            else if (c == '\n') { o.write('\\'); c = 'n'; }
            else if (c == '\r') { o.write('\\'); c = 'r'; }
            else if (c < 0x20 || c == 0x7F) {
                byte[] h = String.format("\\x%02X", c).getBytes(StandardCharsets.US_ASCII);
                o.write(h, 0, h.length);
                continue;
            }
            o.write(c);
        }
        return new String(o.toByteArray(), StandardCharsets.UTF_8);
    }

    private static String hex(byte[] b) {
        StringBuilder s = new StringBuilder();
        for (byte x : b) s.append(String.format("%02X", x & 0xFF));
        return s.toString();
    }

    private void write(String name, byte[] bin, List<String[]> kv) throws Exception {
        if (bin != null) try (FileOutputStream f = new FileOutputStream(new File(dir, name + ".bin"))) {
            f.write(bin);
        }
        StringBuilder t = new StringBuilder();
        for (String[] p : kv) t.append(p[0]).append('\t').append(p[1].endsWith(".hex") ? p[1] : esc(p[1])).append('\n');
        try (FileOutputStream f = new FileOutputStream(new File(dir, name + ".txt"))) {
            f.write(t.toString().getBytes(StandardCharsets.UTF_8));
        }
    }

    private static void put(List<String[]> kv, String k, Object v) {
        if (v != null) kv.add(new String[] {k, String.valueOf(v)});
    }

    // ---- reflection helpers -----------------------------------------------

    private Object make(String cls) throws Exception {
        return Class.forName(pkg + "." + cls).getDeclaredConstructor().newInstance();
    }

    private static void set(Object o, String prop, Object v) throws Exception {
        String m = "set" + Character.toUpperCase(prop.charAt(0)) + prop.substring(1);
        for (Method x : o.getClass().getMethods()) {
            if (x.getName().equals(m) && x.getParameterTypes().length == 1) {
                x.invoke(o, v);
                return;
            }
        }
        throw new NoSuchMethodException(o.getClass() + "." + m);
    }

    private static Object call(Object o, String m, Object... args) throws Exception {
        for (Method x : o.getClass().getMethods())
            if (x.getName().equals(m) && x.getParameterTypes().length == args.length) return x.invoke(o, args);
        throw new NoSuchMethodException(m);
    }

    // ---- cmd ----------------------------------------------------------------

    private void cmd(String name, RemotingCommand c, SerializeType st) throws Exception {
        c.setSerializeTypeCurrentRPC(st);
        ByteBuffer bb = c.encode();
        byte[] bin = new byte[bb.remaining()];
        bb.get(bin);
        List<String[]> kv = new ArrayList<>();
        put(kv, "kind", "cmd");
        put(kv, "serialize", st.name());
        put(kv, "code", c.getCode());
        put(kv, "language", c.getLanguage().name());
        put(kv, "version", c.getVersion());
        put(kv, "opaque", c.getOpaque());
        put(kv, "flag", c.getFlag());
        put(kv, "remark", c.getRemark());
        if (c.getExtFields() != null)
            for (Map.Entry<String, String> e : new TreeMap<>(c.getExtFields()).entrySet()) put(kv, "ext." + e.getKey(), e.getValue());
        if (c.getBody() != null) kv.add(new String[] {"body.hex", hex(c.getBody())});
        write(name + "_" + (st == SerializeType.JSON ? "json" : "rocketmq"), bin, kv);
    }

    private RemotingCommand base(int code, int opaque, LanguageCode lang, int version) {
        RemotingCommand c = RemotingCommand.createRequestCommand(code, null);
        c.setOpaque(opaque);
        c.setLanguage(lang);
        c.setVersion(version);
        return c;
    }

    private void commands() throws Exception {
        for (SerializeType st : SerializeType.values()) {
            RemotingCommand r = base(105, 7, LanguageCode.OTHER, 475);
            r.addExtField("topic", "TopicTest");
            cmd("cmd_route_req", r, st);

            RemotingCommand e = RemotingCommand.createResponseCommand(17,
                "No \"route\" for back\\slash \u0001 new\nline 中文 \uD83D\uDE00");
            e.setOpaque(8);
            e.setLanguage(LanguageCode.JAVA);
            e.setVersion(409);
            cmd("cmd_error_resp", e, st);

            RemotingCommand b = base(310, 9, LanguageCode.JAVA, 479);
            Map<String, String> props = new LinkedHashMap<>();
            props.put("TAGS", "TagA");
            props.put("KEYS", "k1 k2");
            props.put("WAIT", "true");
            props.put("UNIQ_KEY", "7F0000010D2A18B4AAC23B9ACA000001");
            props.put("color", "红");
            String[][] f = {{"a", "ProducerGroupA"}, {"b", "TopicTest"}, {"c", "TBW102"}, {"d", "4"}, {"e", "2"},
                {"f", "0"}, {"g", "1700000000000"}, {"h", "0"}, {"i", MessageDecoder.messageProperties2String(props)},
                {"j", "0"}, {"k", "false"}, {"m", "false"}, {"n", "broker-a"}};
            for (String[] x : f) b.addExtField(x[0], x[1]);
            b.setBody("Hello RocketMQ".getBytes(StandardCharsets.UTF_8));
            cmd("cmd_send_v2_req", b, st);

            RemotingCommand s = RemotingCommand.createResponseCommand(0, null);
            s.setOpaque(9);
            s.setLanguage(LanguageCode.JAVA);
            s.setVersion(479);
            s.addExtField("msgId", "7F00000100002A9F0000000000000F3C");
            s.addExtField("queueId", "2");
            s.addExtField("queueOffset", "15");
            s.addExtField("MSG_REGION", "DefaultRegion");
            s.addExtField("TRACE_ON", "true");
            cmd("cmd_send_resp", s, st);

            RemotingCommand o = base(15, 10, LanguageCode.OTHER, 475);
            o.markOnewayRPC();
            o.addExtField("consumerGroup", "G");
            o.addExtField("topic", "T");
            o.addExtField("queueId", "0");
            o.addExtField("commitOffset", "42");
            cmd("cmd_oneway_req", o, st);

            RemotingCommand bin = base(36, -5, LanguageCode.CPP, 333);
            bin.setBody(new byte[] {0, 1, 2, (byte) 0xFF, (byte) 0x80});
            cmd("cmd_body_req", bin, st);
        }
    }

    // ---- route / cluster ----------------------------------------------------

    private Object brokerData(String cluster, String name, String... addrs) throws Exception {
        Object bd = make("route.BrokerData");
        set(bd, "cluster", cluster);
        set(bd, "brokerName", name);
        HashMap<Long, String> m = new HashMap<>();
        for (int i = 0; i < addrs.length; i++) m.put((long) i, addrs[i]);
        set(bd, "brokerAddrs", m);
        return bd;
    }

    private Object queueData(String name, int r, int w, int perm) throws Exception {
        Object q = make("route.QueueData");
        set(q, "brokerName", name);
        set(q, "readQueueNums", r);
        set(q, "writeQueueNums", w);
        set(q, "perm", perm);
        set(q, "topicSysFlag", 0);
        return q;
    }

    private void routes() throws Exception {
        for (int variant = 0; variant < 2; variant++) {
            Object rd = make("route.TopicRouteData");
            List<Object> qs = new ArrayList<>(Arrays.asList(queueData("broker-a", 4, 4, 6), queueData("broker-b", 8, 2, 4)));
            List<Object> bs = new ArrayList<>(Arrays.asList(
                brokerData("DefaultCluster", "broker-a", "10.0.0.1:10911", "10.0.0.2:10911"),
                brokerData("DefaultCluster", "broker-b", "10.0.0.3:10911", "10.0.0.4:10911")));
            set(rd, "queueDatas", qs);
            set(rd, "brokerDatas", bs);
            set(rd, "filterServerTable", new HashMap<String, List<String>>());
            if (variant == 1) set(rd, "orderTopicConf", "broker-a:4;broker-b:2");
            List<String[]> kv = new ArrayList<>();
            put(kv, "kind", "route");
            put(kv, "orderTopicConf", call(rd, "getOrderTopicConf"));
            put(kv, "queues", qs.size());
            for (int i = 0; i < qs.size(); i++) {
                Object q = qs.get(i);
                for (String p : new String[] {"brokerName", "readQueueNums", "writeQueueNums", "perm", "topicSysFlag"})
                    put(kv, "queue." + i + "." + p, call(q, "get" + Character.toUpperCase(p.charAt(0)) + p.substring(1)));
            }
            put(kv, "brokers", bs.size());
            for (int i = 0; i < bs.size(); i++) {
                Object b = bs.get(i);
                put(kv, "broker." + i + ".cluster", call(b, "getCluster"));
                put(kv, "broker." + i + ".brokerName", call(b, "getBrokerName"));
                @SuppressWarnings("unchecked")
                Map<Long, String> m = (Map<Long, String>) call(b, "getBrokerAddrs");
                put(kv, "broker." + i + ".addrs", m.size());
                for (Map.Entry<Long, String> e : m.entrySet()) put(kv, "broker." + i + ".addr." + e.getKey(), e.getValue());
            }
            // As the name server writes it for a modern client, and for an old one.
            byte[] std = encodeStandard(rd);
            byte[] old = (byte[]) call(rd, "encode");
            String n = variant == 0 ? "route_two_brokers" : "route_order_conf";
            write(n + "_std", std, kv);
            write(n + "_intkeys", old, kv);
        }
    }

    /* The name server's "standard JSON" call: fastjson features in 4.9-5.3,
     * fastjson2 JSONWriter.Feature (BrowserCompatible, MapSortField) in 5.4. */
    @SuppressWarnings({"unchecked", "rawtypes"})
    private static byte[] encodeStandard(Object rd) throws Exception {
        for (Method m : rd.getClass().getMethods()) {
            if (!m.getName().equals("encode") || m.getParameterTypes().length != 1 || !m.getParameterTypes()[0].isArray())
                continue;
            Class<?> en = m.getParameterTypes()[0].getComponentType();
            List<Object> fs = new ArrayList<>();
            for (String n : new String[] {"BrowserCompatible", "QuoteFieldNames", "SkipTransientField", "MapSortField"}) {
                try {
                    fs.add(Enum.valueOf((Class) en, n));
                } catch (IllegalArgumentException absent) {
                    // not a feature of this serializer
                }
            }
            Object arr = java.lang.reflect.Array.newInstance(en, fs.size());
            for (int i = 0; i < fs.size(); i++) java.lang.reflect.Array.set(arr, i, fs.get(i));
            return (byte[]) m.invoke(rd, arr);
        }
        throw new NoSuchMethodException("encode(features...)");
    }

    private void cluster() throws Exception {
        Object ci = make("body.ClusterInfo");
        HashMap<String, Object> t = new HashMap<>();
        t.put("broker-a", brokerData("C1", "broker-a", "10.0.0.1:10911", "10.0.0.2:10911"));
        t.put("broker-b", brokerData("C1", "broker-b", "10.0.0.3:10911"));
        t.put("broker-c", brokerData("C2", "broker-c", "10.0.0.5:10911"));
        set(ci, "brokerAddrTable", t);
        HashMap<String, Set<String>> c = new HashMap<>();
        c.put("C1", new HashSet<>(Arrays.asList("broker-a", "broker-b")));
        c.put("C2", new HashSet<>(Arrays.asList("broker-c")));
        set(ci, "clusterAddrTable", c);
        List<String[]> kv = new ArrayList<>();
        put(kv, "kind", "cluster");
        put(kv, "brokers", t.size());
        for (Map.Entry<String, Object> e : new TreeMap<>(t).entrySet()) {
            put(kv, "broker." + e.getKey() + ".cluster", call(e.getValue(), "getCluster"));
            @SuppressWarnings("unchecked")
            Map<Long, String> m = (Map<Long, String>) call(e.getValue(), "getBrokerAddrs");
            for (Map.Entry<Long, String> a : m.entrySet()) put(kv, "broker." + e.getKey() + ".addr." + a.getKey(), a.getValue());
        }
        for (Map.Entry<String, Set<String>> e : c.entrySet()) put(kv, "cluster." + e.getKey(), String.join(" ", new TreeSet<>(e.getValue())));
        write("cluster_three_brokers", (byte[]) call(ci, "encode"), kv);
    }

    // ---- heartbeat ----------------------------------------------------------

    private Object sub(String topic, String expr, String type, long ver) throws Exception {
        Object s;
        if ("TAG".equals(type)) {
            Class<?> api;
            try {
                api = Class.forName(pkg + ".filter.FilterAPI"); // 5.x
            } catch (ClassNotFoundException e) {
                api = Class.forName("org.apache.rocketmq.common.filter.FilterAPI"); // 4.9
            }
            s = api.getMethod("buildSubscriptionData", String.class, String.class).invoke(null, topic, expr);
        } else {
            s = make("heartbeat.SubscriptionData");
            set(s, "topic", topic);
            set(s, "subString", expr);
            set(s, "expressionType", type);
        }
        set(s, "subVersion", ver);
        return s;
    }

    private void heartbeats() throws Exception {
        for (int variant = 0; variant < 2; variant++) {
            Object hb = make("heartbeat.HeartbeatData");
            set(hb, "clientID", "192.168.0.2@12345#2783495722");
            Object pd = make("heartbeat.ProducerData");
            set(pd, "groupName", "pg1");
            set(hb, "producerDataSet", new HashSet<>(Arrays.asList(pd)));
            Object c1 = make("heartbeat.ConsumerData");
            set(c1, "groupName", "cg1");
            Class<?> ct = Class.forName(pkg + ".heartbeat.ConsumeType");
            Class<?> mm = Class.forName(pkg + ".heartbeat.MessageModel");
            Class<?> cfw = Class.forName("org.apache.rocketmq.common.consumer.ConsumeFromWhere");
            set(c1, "consumeType", Enum.valueOf(ct.asSubclass(Enum.class), "CONSUME_PASSIVELY"));
            set(c1, "messageModel", Enum.valueOf(mm.asSubclass(Enum.class), "CLUSTERING"));
            set(c1, "consumeFromWhere", Enum.valueOf(cfw.asSubclass(Enum.class), "CONSUME_FROM_LAST_OFFSET"));
            Set<Object> subs = new HashSet<>();
            subs.add(sub("TopicTest", variant == 0 ? "TagA || TagB" : "标签 || TagB", "TAG", 1700000000000L));
            subs.add(sub("%RETRY%cg1", "*", "TAG", 1700000000001L));
            set(c1, "subscriptionDataSet", subs);
            Set<Object> cons = new HashSet<>(Arrays.asList(c1));
            if (variant == 0) {
                Object c2 = make("heartbeat.ConsumerData");
                set(c2, "groupName", "cg2");
                set(c2, "consumeType", Enum.valueOf(ct.asSubclass(Enum.class), "CONSUME_ACTIVELY"));
                set(c2, "messageModel", Enum.valueOf(mm.asSubclass(Enum.class), "BROADCASTING"));
                set(c2, "consumeFromWhere", Enum.valueOf(cfw.asSubclass(Enum.class), "CONSUME_FROM_FIRST_OFFSET"));
                set(c2, "subscriptionDataSet", new HashSet<>(Arrays.asList(sub("TopicSql", "a > 1 AND b = 'x'", "SQL92", 1700000000002L))));
                cons.add(c2);
            }
            set(hb, "consumerDataSet", cons);
            byte[] bin = (byte[]) call(hb, "encode");
            // The .txt follows the JSON's own array order, so read it back with fastjson.
            com.alibaba.fastjson.JSONObject j = com.alibaba.fastjson.JSON.parseObject(new String(bin, StandardCharsets.UTF_8));
            List<String[]> kv = new ArrayList<>();
            put(kv, "kind", "heartbeat");
            put(kv, "clientID", j.getString("clientID"));
            com.alibaba.fastjson.JSONArray ps = j.getJSONArray("producerDataSet");
            put(kv, "producers", ps.size());
            for (int i = 0; i < ps.size(); i++) put(kv, "producer." + i + ".groupName", ps.getJSONObject(i).getString("groupName"));
            com.alibaba.fastjson.JSONArray cs = j.getJSONArray("consumerDataSet");
            put(kv, "consumers", cs.size());
            for (int i = 0; i < cs.size(); i++) {
                com.alibaba.fastjson.JSONObject c = cs.getJSONObject(i);
                String p = "consumer." + i + ".";
                for (String k : new String[] {"groupName", "consumeType", "messageModel", "consumeFromWhere", "unitMode"})
                    put(kv, p + k, c.get(k));
                com.alibaba.fastjson.JSONArray ss = c.getJSONArray("subscriptionDataSet");
                put(kv, p + "subs", ss.size());
                for (int k = 0; k < ss.size(); k++) {
                    com.alibaba.fastjson.JSONObject s = ss.getJSONObject(k);
                    String q = p + "sub." + k + ".";
                    for (String f : new String[] {"topic", "subString", "expressionType", "classFilterMode", "subVersion"})
                        put(kv, q + f, s.get(f));
                    put(kv, q + "tags", String.join("||", new TreeSet<>(s.getJSONArray("tagsSet").toJavaList(String.class))));
                    TreeSet<Integer> codes = new TreeSet<>(s.getJSONArray("codeSet").toJavaList(Integer.class));
                    StringBuilder cb = new StringBuilder();
                    for (Integer x : codes) cb.append(cb.length() > 0 ? "," : "").append(x);
                    put(kv, q + "codes", cb.toString());
                }
            }
            write(variant == 0 ? "heartbeat_two_consumers" : "heartbeat_cjk_tag", bin, kv);
        }
    }

    // ---- messages -----------------------------------------------------------

    private void batches() throws Exception {
        List<Message> ms = new ArrayList<>();
        Message a = new Message("TopicB", "TagA", "k1", "A".getBytes(StandardCharsets.UTF_8));
        org.apache.rocketmq.common.message.MessageAccessor.putProperty(a, "UNIQ_KEY", "7F0000010D2A18B4AAC23B9ACA000002");
        Message b = new Message("TopicB", "TagB", "k2 k3", new byte[300]);
        b.putUserProperty("city", "北京");
        ms.add(a);
        ms.add(b);
        byte[] bin = MessageDecoder.encodeMessages(ms);
        List<String[]> kv = new ArrayList<>();
        put(kv, "kind", "batch");
        put(kv, "count", ms.size());
        for (int i = 0; i < ms.size(); i++) {
            Message m = ms.get(i);
            put(kv, "msg." + i + ".flag", m.getFlag());
            kv.add(new String[] {"msg." + i + ".body.hex", hex(m.getBody())});
            kv.add(new String[] {"msg." + i + ".props.hex",
                hex(MessageDecoder.messageProperties2String(m.getProperties()).getBytes(StandardCharsets.UTF_8))});
            for (Map.Entry<String, String> e : m.getProperties().entrySet()) put(kv, "msg." + i + ".prop." + e.getKey(), e.getValue());
        }
        write("batch_two", bin, kv);
    }

    private void stored() throws Exception {
        ByteArrayOutputStream all = new ByteArrayOutputStream();
        List<String[]> kv = new ArrayList<>();
        put(kv, "kind", "stored");
        String[] bodies = {"Hello", "é中😀", "x"};
        for (int i = 0; i < 3; i++) {
            MessageExt m = new MessageExt();
            m.setTopic("TopicTest");
            m.setBody(bodies[i].getBytes(StandardCharsets.UTF_8));
            m.setQueueId(1);
            m.setQueueOffset(5 + i);
            m.setCommitLogOffset(0x1234 + i);
            m.setBornTimestamp(1700000000000L);
            m.setStoreTimestamp(1700000000005L);
            m.setBornHost(new InetSocketAddress("192.168.0.2", 54321));
            m.setStoreHost(new InetSocketAddress("192.168.0.10", 10911));
            m.setReconsumeTimes(i);
            // MessageDecoder.encode writes the CRC it is given; the broker's
            // store computes it over the body, so do the same.
            m.setBodyCRC(org.apache.rocketmq.common.UtilAll.crc32(m.getBody()));
            m.setTags("TagA");
            org.apache.rocketmq.common.message.MessageAccessor.putProperty(m, "UNIQ_KEY", "7F0000010D2A18B4AAC23B9ACA00000" + i);
            m.putUserProperty("k", "值" + i);
            byte[] rec = MessageDecoder.encode(m, false);
            all.write(rec);
            MessageExt back = MessageDecoder.decode(ByteBuffer.wrap(rec), true, false);
            String p = "msg." + i + ".";
            put(kv, p + "totalSize", rec.length);
            put(kv, p + "bodyCrc", back.getBodyCRC());
            put(kv, p + "queueId", back.getQueueId());
            put(kv, p + "queueOffset", back.getQueueOffset());
            put(kv, p + "commitLogOffset", back.getCommitLogOffset());
            put(kv, p + "sysFlag", back.getSysFlag());
            put(kv, p + "bornTimestamp", back.getBornTimestamp());
            put(kv, p + "storeTimestamp", back.getStoreTimestamp());
            put(kv, p + "reconsumeTimes", back.getReconsumeTimes());
            put(kv, p + "topic", back.getTopic());
            kv.add(new String[] {p + "body.hex", hex(back.getBody())});
            put(kv, p + "offsetMsgId", back.getMsgId());
            for (Map.Entry<String, String> e : back.getProperties().entrySet()) put(kv, p + "prop." + e.getKey(), e.getValue());
        }
        put(kv, "count", 3);
        write("stored_three_ipv4", all.toByteArray(), kv);
    }

    private void props() throws Exception {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("TAGS", "TagA");
        m.put("WAIT", "true");
        m.put("城市", "北京 😀");
        String s = MessageDecoder.messageProperties2String(m);
        List<String[]> kv = new ArrayList<>();
        put(kv, "kind", "props");
        put(kv, "encoded", "true");
        put(kv, "order", String.join(",", m.keySet()));
        for (Map.Entry<String, String> e : MessageDecoder.string2messageProperties(s).entrySet()) put(kv, "prop." + e.getKey(), e.getValue());
        write("props_encoded", s.getBytes(StandardCharsets.UTF_8), kv);
        String[][] edge = {{"props_no_trailing_sep", "A\u0001x\u0002B\u0001y"}, {"props_empty_value", "A\u0001\u0002B\u0001y\u0002"},
            {"props_empty_name", "\u0001x\u0002B\u0001y\u0002"}, {"props_duplicate", "A\u0001x\u0002A\u0001z\u0002"},
            {"props_lone_sep", "\u0001"}};
        for (String[] e : edge) {
            List<String[]> k2 = new ArrayList<>();
            put(k2, "kind", "props");
            for (Map.Entry<String, String> x : MessageDecoder.string2messageProperties(e[1]).entrySet()) put(k2, "prop." + x.getKey(), x.getValue());
            write(e[0], e[1].getBytes(StandardCharsets.UTF_8), k2);
        }
    }

    private void msgids() throws Exception {
        List<String[]> kv = new ArrayList<>();
        put(kv, "kind", "msgid");
        InetSocketAddress[] hosts = {new InetSocketAddress("192.168.0.10", 10911), new InetSocketAddress("::1", 10911)};
        for (int i = 0; i < hosts.length; i++) {
            ByteBuffer in = ByteBuffer.allocate(i == 0 ? 8 : 20);
            in.put(hosts[i].getAddress().getAddress());
            in.putInt(hosts[i].getPort());
            in.flip();
            String id = MessageDecoder.createMessageId(ByteBuffer.allocate(i == 0 ? 16 : 28), in, 0x1234L + i);
            Object mid = MessageDecoder.decodeMessageId(id);
            put(kv, "offset." + i, id);
            InetSocketAddress a = (InetSocketAddress) call(mid, "getAddress");
            String host = a.getAddress().getHostAddress();
            put(kv, "offset." + i + ".addr", (host.contains(":") ? "[" + host + "]" : host) + ":" + a.getPort());
            put(kv, "offset." + i + ".commitLogOffset", call(mid, "getOffset"));
        }
        write("msgid_offset", null, kv);
    }

    private void alloc() throws Exception {
        Object[][] strategies = {
            {"averagely", new org.apache.rocketmq.client.consumer.rebalance.AllocateMessageQueueAveragely()},
            {"circle", new org.apache.rocketmq.client.consumer.rebalance.AllocateMessageQueueAveragelyByCircle()},
            {"consistent_hash", new org.apache.rocketmq.client.consumer.rebalance.AllocateMessageQueueConsistentHash()}};
        int[][] shapes = {{8, 2, 1}, {8, 2, 3}, {8, 2, 5}, {3, 1, 5}, {16, 3, 4}};
        for (Object[] st : strategies) {
            org.apache.rocketmq.client.consumer.AllocateMessageQueueStrategy s =
                (org.apache.rocketmq.client.consumer.AllocateMessageQueueStrategy) st[1];
            for (int[] sh : shapes) {
                List<org.apache.rocketmq.common.message.MessageQueue> mqs = new ArrayList<>();
                for (int b = 0; b < sh[1]; b++)
                    for (int q = 0; q < sh[0] / sh[1]; q++)
                        mqs.add(new org.apache.rocketmq.common.message.MessageQueue("TopicA", "broker-" + (char) ('a' + b), q));
                java.util.Collections.sort(mqs);
                List<String> cids = new ArrayList<>();
                for (int c = 0; c < sh[2]; c++) cids.add("127.0.0." + (c + 1) + "@" + (1000 + c) + "#" + (77 * c));
                java.util.Collections.sort(cids);
                List<String[]> kv = new ArrayList<>();
                put(kv, "kind", "alloc");
                put(kv, "strategy", st[0]);
                put(kv, "queues", mqs.size());
                for (int i = 0; i < mqs.size(); i++)
                    put(kv, "queue." + i, mqs.get(i).getTopic() + "|" + mqs.get(i).getBrokerName() + "|" + mqs.get(i).getQueueId());
                put(kv, "cids", cids.size());
                for (int j = 0; j < cids.size(); j++) {
                    put(kv, "cid." + j, cids.get(j));
                    List<org.apache.rocketmq.common.message.MessageQueue> got = s.allocate("G", cids.get(j), mqs, cids);
                    StringBuilder b = new StringBuilder();
                    for (org.apache.rocketmq.common.message.MessageQueue m : got) b.append(b.length() > 0 ? "," : "").append(mqs.indexOf(m));
                    put(kv, "alloc." + j, b.toString());
                }
                write("alloc_" + st[0] + "_" + sh[0] + "q_" + sh[2] + "c", null, kv);
            }
        }
    }

    private void taghash() throws Exception {
        String[] tags = {"TagA", "a", "", "标签", "😀", "Tag-中文-😀-x", "a-very-long-tag-used-to-check-overflow-wrapping-0123456789"};
        List<String[]> kv = new ArrayList<>();
        put(kv, "kind", "taghash");
        for (int i = 0; i < tags.length; i++) {
            put(kv, "tag." + i, tags[i]);
            put(kv, "hash." + i, tags[i].hashCode());
        }
        write("taghash", null, kv);
    }
}
