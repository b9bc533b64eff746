package librmq.vectors;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.io.ByteArrayOutputStream;
import java.io.File;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;
import org.apache.rocketmq.common.MQVersion;
import org.apache.rocketmq.common.UtilAll;
import org.apache.rocketmq.common.compression.CompressionType;
import org.apache.rocketmq.common.compression.CompressorFactory;
import org.apache.rocketmq.common.message.Message;
import org.apache.rocketmq.common.message.MessageAccessor;
import org.apache.rocketmq.common.message.MessageClientIDSetter;
import org.apache.rocketmq.common.message.MessageDecoder;
import org.apache.rocketmq.common.message.MessageExt;
import org.apache.rocketmq.common.message.MessageId;
import org.apache.rocketmq.common.sysflag.MessageSysFlag;
import org.apache.rocketmq.remoting.CommandCustomHeader;
import org.apache.rocketmq.remoting.protocol.LanguageCode;
import org.apache.rocketmq.remoting.protocol.RemotingCommand;
import org.apache.rocketmq.remoting.protocol.SerializeType;

/**
 * Golden vectors (tests/vectors/FORMAT.md) made by the official Java library.
 *
 * <pre>
 *   Gen gen &lt;dir&gt;                 writes every case into dir
 *   Gen decode &lt;kind&gt; &lt;file.bin&gt;  prints the .txt lines Java reads from the bytes
 *   Gen decode-dir &lt;dir&gt;           the same for every "kind NAME" line of dir/manifest:
 *                                   NAME.bin to NAME.got (NAME.err when Java cannot read it)
 * </pre>
 *
 * Every value is fixed (opaques, timestamps, addresses, ids) except the
 * UNIQ_KEYs of msgid_uniq, which are whatever MessageClientIDSetter makes.
 */
public final class Gen {
    private static final long BORN_TS = 1700000000000L;
    private static final long STORE_TS = 1700000000123L;
    private static final String UNIQ = "7F0000010D2A18B4AAC23B9ACA000001";

    private final File dir;
    private int written;

    private Gen(File dir) {
        this.dir = dir;
    }

    public static void main(String[] a) throws Exception {
        if (a.length == 3 && a[0].equals("decode")) {
            byte[] in = a[2].equals("-") ? readAll(System.in) : Files.readAllBytes(new File(a[2]).toPath());
            Kv kv;
            try {
                kv = Decode.run(a[1], in);
            } catch (Exception e) {
                System.err.println("Java cannot read these bytes as " + a[1] + ": " + e);
                System.exit(1);
                return;
            }
            System.out.write(kv.bytes());
            System.out.flush();
            return;
        }
        if (a.length == 2 && a[0].equals("decode-dir")) {
            decodeDir(new File(a[1]));
            return;
        }
        if (a.length != 2 || !a[0].equals("gen")) {
            System.err.println("usage: Gen gen <dir> | Gen decode <cmd|batch|heartbeat|stored|props|route|cluster> <file>");
            System.exit(2);
        }
        File out = new File(a[1]);
        if (!out.getName().startsWith(Rmq.VERSION))
            throw new IllegalArgumentException("this build is RocketMQ " + Rmq.VERSION + ", not for " + out);
        Gen g = new Gen(out);
        g.dir.mkdirs();
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
        System.err.println("tests/vectors/" + Rmq.VERSION + ": " + g.written + " cases");
    }

    /** Many inputs in one JVM (a JVM start costs more than all the decoding). */
    private static void decodeDir(File dir) throws Exception {
        int n = 0;
        for (String line : Files.readAllLines(new File(dir, "manifest").toPath())) {
            String[] f = line.trim().split(" ");
            if (f.length != 2) continue;
            byte[] in = Files.readAllBytes(new File(dir, f[1] + ".bin").toPath());
            try {
                Files.write(new File(dir, f[1] + ".got").toPath(), Decode.run(f[0], in).bytes());
            } catch (Exception e) {
                Files.write(new File(dir, f[1] + ".err").toPath(),
                    ("Java cannot read these bytes as " + f[0] + ": " + e + "\n").getBytes(StandardCharsets.UTF_8));
            }
            n++;
        }
        System.err.println("decode-dir: " + n + " inputs");
    }

    private static byte[] readAll(java.io.InputStream in) throws java.io.IOException {
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        byte[] b = new byte[8192];
        for (int n; (n = in.read(b)) > 0; ) o.write(b, 0, n);
        return o.toByteArray();
    }

    // ---- output ---------------------------------------------------------------

    /** Writes NAME.bin and NAME.txt, the .txt being what Java decodes from the .bin. */
    private void write(String name, String kind, byte[] bin) throws Exception {
        write(name, bin, Decode.run(kind, bin));
    }

    private void write(String name, byte[] bin, Kv kv) throws Exception {
        if (bin != null) Files.write(new File(dir, name + ".bin").toPath(), bin);
        Files.write(new File(dir, name + ".txt").toPath(), kv.bytes());
        written++;
    }

    private static void check(boolean ok, String what) {
        if (!ok) throw new IllegalStateException("Java disagrees with itself: " + what);
    }

    // ---- cmd ------------------------------------------------------------------

    /**
     * The frame as it goes on the wire: NettyEncoder calls fastEncodeHeader
     * and appends the body. (In ROCKETMQ frames of the FastCodesHeader
     * classes this writes the header's own fields first, in its fixed order,
     * then extFields; RemotingCommand.encode() writes all of them from the
     * extFields HashMap, in its order.)
     */
    private static byte[] wire(RemotingCommand c) {
        ByteBuf out = Unpooled.buffer();
        c.fastEncodeHeader(out);
        if (c.getBody() != null) out.writeBytes(c.getBody());
        byte[] b = new byte[out.readableBytes()];
        out.readBytes(b);
        return b;
    }

    private void cmd(String name, Supplier<RemotingCommand> make) throws Exception {
        for (SerializeType st : new SerializeType[] {SerializeType.JSON, SerializeType.ROCKETMQ}) {
            RemotingCommand c = make.get();
            c.setSerializeTypeCurrentRPC(st);
            byte[] bin = wire(c);
            RemotingCommand again = make.get();
            again.setSerializeTypeCurrentRPC(st);
            ByteBuffer enc = again.encode();
            if (!ByteBuffer.wrap(bin).equals(enc))
                System.err.println("  (" + name + "_" + st.name().toLowerCase() + ": RemotingCommand.encode() orders the ext fields differently from the wire)");
            Kv kv = Decode.cmd(bin);
            check(String.valueOf(c.getCode()).equals(kv.get("code")) && String.valueOf(c.getOpaque()).equals(kv.get("opaque")), name);
            write(name + "_" + st.name().toLowerCase(), bin, kv);
        }
    }

    private static RemotingCommand request(int code, CommandCustomHeader h, int opaque, LanguageCode lang, int version) {
        RemotingCommand c = RemotingCommand.createRequestCommand(code, h);
        c.setOpaque(opaque);
        c.setLanguage(lang);
        c.setVersion(version);
        return c;
    }

    private static CommandCustomHeader header(String cls, Object... props) {
        try {
            Object h = Rmq.make(cls);
            for (int i = 0; i < props.length; i += 2) Rmq.set(h, (String) props[i], props[i + 1]);
            return (CommandCustomHeader) h;
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    private static void setQuietly(Object o, String prop, Object v) {
        try {
            Rmq.set(o, prop, v);
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    /** Java's producer message: TAGS, KEYS and WAIT from the constructor, then UNIQ_KEY, in HashMap order. */
    private static Message producerMessage(String topic, String tags, String keys, byte[] body, String uniq) {
        Message m = new Message(topic, tags, keys, body);
        if (uniq != null) MessageAccessor.putProperty(m, "UNIQ_KEY", uniq);
        return m;
    }

    private void commands() throws Exception {
        final int current = MQVersion.CURRENT_VERSION; // what the client of this version sends: 409 = V4_9_8, 493 = V5_4_0

        // GET_ROUTEINFO_BY_TOPIC, as MQClientAPIImpl.getTopicRouteInfoFromNameServer builds it.
        cmd("cmd_route_req", () -> request(105, header("header.namesrv.GetRouteInfoRequestHeader", "topic", "TopicTest"), 7,
            LanguageCode.JAVA, current));

        // An error response whose remark needs every kind of escaping.
        cmd("cmd_error_resp", () -> {
            RemotingCommand c = RemotingCommand.createResponseCommand(17,
                "No \"route\" for back\\slash \u0001 tab\tnew\nline 中文 \uD83D\uDE00 end");
            c.setOpaque(8);
            c.setLanguage(LanguageCode.JAVA);
            c.setVersion(475);
            return c;
        });

        // A request with a binary body (every byte value) and a negative opaque.
        cmd("cmd_body_req", () -> {
            RemotingCommand c = request(36, null, -5, LanguageCode.OTHER, 479);
            byte[] body = new byte[256];
            for (int i = 0; i < 256; i++) body[i] = (byte) i;
            c.setBody(body);
            return c;
        });

        // SEND_MESSAGE_V2 the way DefaultMQProducerImpl.sendKernelImpl + MQClientAPIImpl.sendMessage build it.
        cmd("cmd_send_v2_req", () -> {
            try {
                Message m = producerMessage("TopicTest", "TagA", "k1 k2", "Hello RocketMQ".getBytes(StandardCharsets.UTF_8), UNIQ);
                m.putUserProperty("color", "红");
                Object v1 = Rmq.make("header.SendMessageRequestHeader");
                Object[] f = {"producerGroup", "ProducerGroupA", "topic", "TopicTest", "defaultTopic", "TBW102",
                    "defaultTopicQueueNums", 4, "queueId", 2, "sysFlag", 0, "bornTimestamp", BORN_TS, "flag", 0,
                    "properties", MessageDecoder.messageProperties2String(m.getProperties()), "reconsumeTimes", 0,
                    "unitMode", false, "batch", false};
                for (int i = 0; i < f.length; i += 2) Rmq.set(v1, (String) f[i], f[i + 1]);
                if (!Rmq.V4) Rmq.set(v1, "brokerName", "broker-a");
                Object v2 = Rmq.callStatic(Rmq.cls("header.SendMessageRequestHeaderV2"), "createSendMessageRequestHeaderV2", v1);
                RemotingCommand c = request(310, (CommandCustomHeader) v2, 9, LanguageCode.JAVA, current);
                c.setBody(m.getBody());
                return c;
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });

        // The broker's answer (SendMessageProcessor): header fields plus MSG_REGION and TRACE_ON.
        cmd("cmd_send_resp", () -> {
            try {
                RemotingCommand c = RemotingCommand.createResponseCommand(
                    Rmq.cls("header.SendMessageResponseHeader").asSubclass(CommandCustomHeader.class));
                Object h = c.readCustomHeader();
                Rmq.set(h, "msgId", "C0A8000A00002A9F0000000000001234");
                Rmq.set(h, "queueId", 2);
                Rmq.set(h, "queueOffset", 15L);
                Rmq.set(h, "transactionId", UNIQ);
                c.addExtField("MSG_REGION", "DefaultRegion");
                c.addExtField("TRACE_ON", "true");
                c.setCode(0);
                c.setRemark(null); // the broker clears createResponseCommand's "not set any response code"
                c.setOpaque(9);
                c.setLanguage(LanguageCode.JAVA);
                c.setVersion(current);
                return c;
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });

        // PULL_MESSAGE as PullAPIWrapper.pullKernelImpl builds it (5.x adds maxMsgBytes).
        cmd("cmd_pull_req", () -> {
            CommandCustomHeader h = header("header.PullMessageRequestHeader", "consumerGroup", "ConsumerGroupA",
                "topic", "TopicTest", "queueId", 1, "queueOffset", 128L, "maxMsgNums", 32, "sysFlag", 3, "commitOffset", 120L,
                "suspendTimeoutMillis", 20000L, "subscription", "TagA || TagB", "subVersion", BORN_TS, "expressionType", "TAG",
                "bname", "broker-a");
            if (!Rmq.V4) setQuietly(h, "maxMsgBytes", 256 * 1024);
            return request(11, h, 10, LanguageCode.JAVA, current);
        });

        // UPDATE_CONSUMER_OFFSET sent oneway as RemoteBrokerOffsetStore does (invokeOneway sets flag bit 1: 2).
        cmd("cmd_oneway_req", () -> {
            RemotingCommand c = request(15, header("header.UpdateConsumerOffsetRequestHeader", "consumerGroup", "ConsumerGroupA",
                "topic", "TopicTest", "queueId", 0, "commitOffset", 42L, "bname", "broker-a"), 11, LanguageCode.OTHER, current);
            c.markOnewayRPC();
            return c;
        });

        // A response whose header class has no fields: extFields is an empty map.
        cmd("cmd_empty_ext_resp", () -> {
            try {
                RemotingCommand c = RemotingCommand.createResponseCommand(
                    Rmq.cls("header.UpdateConsumerOffsetResponseHeader").asSubclass(CommandCustomHeader.class));
                c.setCode(0);
                c.setRemark(null);
                c.setOpaque(12);
                c.setLanguage(LanguageCode.JAVA);
                c.setVersion(current);
                return c;
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
    }

    // ---- route / cluster --------------------------------------------------------

    private static Object brokerData(String cluster, String name, String... addrs) throws Exception {
        Object bd = Rmq.make("route.BrokerData");
        Rmq.set(bd, "cluster", cluster);
        Rmq.set(bd, "brokerName", name);
        HashMap<Long, String> m = new HashMap<>();
        for (int i = 0; i < addrs.length; i++) m.put((long) i, addrs[i]);
        Rmq.set(bd, "brokerAddrs", m);
        return bd;
    }

    private static Object queueData(String name, int r, int w, int perm, int sysFlag) throws Exception {
        Object q = Rmq.make("route.QueueData");
        Rmq.set(q, "brokerName", name);
        Rmq.set(q, "readQueueNums", r);
        Rmq.set(q, "writeQueueNums", w);
        Rmq.set(q, "perm", perm);
        Rmq.set(q, "topicSysFlag", sysFlag);
        return q;
    }

    /** A route as RouteInfoManager.pickupTopicRouteData assembles it. */
    private static Object route(String orderConf, boolean v5Extras) throws Exception {
        Object rd = Rmq.make("route.TopicRouteData");
        Rmq.set(rd, "queueDatas", new ArrayList<>(Arrays.asList(queueData("broker-a", 4, 4, 6, 0), queueData("broker-b", 8, 2, 4, 0))));
        Object a = brokerData("DefaultCluster", "broker-a", "10.0.0.1:10911", "10.0.0.2:10911");
        Object b = brokerData("DefaultCluster", "broker-b", "10.0.0.3:10911", "10.0.0.4:10911");
        Rmq.set(rd, "brokerDatas", new ArrayList<>(Arrays.asList(a, b)));
        Rmq.set(rd, "filterServerTable", new HashMap<String, List<String>>());
        Rmq.set(rd, "orderTopicConf", orderConf);
        if (v5Extras) {
            Rmq.set(a, "zoneName", "zone-1");
            Rmq.set(b, "enableActingMaster", true);
            Object info = Rmq.cls("statictopic.TopicQueueMappingInfo").getConstructor(String.class, int.class, String.class, long.class)
                .newInstance("TopicTest", 12, "broker-a", BORN_TS);
            ConcurrentHashMap<Integer, Integer> ids = new ConcurrentHashMap<>();
            ids.put(0, 0);
            ids.put(1, 1);
            ids.put(8, 2);
            Rmq.set(info, "currIdMap", ids);
            Map<String, Object> byBroker = new HashMap<>();
            byBroker.put("broker-a", info);
            Rmq.set(rd, "topicQueueMappingByBroker", byBroker);
        }
        return rd;
    }

    /**
     * ClientRequestProcessor / DefaultRequestProcessor.getRouteInfoByTopic: a
     * client of version >= V4_9_4 (or one asking acceptStandardJsonOnly) gets
     * topicRouteData.encode(features) (4.9-5.3 fastjson: BrowserCompatible,
     * QuoteFieldNames, SkipTransientField, MapSortField; 5.4+ fastjson2:
     * BrowserCompatible, MapSortField); an older one gets encode(), the
     * fastjson default that writes brokerAddrs keys as bare integers.
     */
    @SuppressWarnings({"unchecked", "rawtypes"})
    private static byte[] encodeStandard(Object rd) throws Exception {
        for (java.lang.reflect.Method m : rd.getClass().getMethods()) {
            if (!m.getName().equals("encode") || m.getParameterCount() != 1 || !m.getParameterTypes()[0].isArray()) continue;
            Class<?> en = m.getParameterTypes()[0].getComponentType();
            String[] names = en.getName().startsWith("com.alibaba.fastjson2.")
                ? new String[] {"BrowserCompatible", "MapSortField"}
                : new String[] {"BrowserCompatible", "QuoteFieldNames", "SkipTransientField", "MapSortField"};
            Object arr = java.lang.reflect.Array.newInstance(en, names.length);
            for (int i = 0; i < names.length; i++) java.lang.reflect.Array.set(arr, i, Enum.valueOf((Class) en, names[i]));
            return (byte[]) m.invoke(rd, arr);
        }
        throw new NoSuchMethodException("TopicRouteData.encode(features...)");
    }

    private void routes() throws Exception {
        String[][] cases = {{"route_two_brokers", null}, {"route_order_conf", "broker-a:4;broker-b:2"}, {"route_v5_fields", null}};
        for (String[] c : cases) {
            boolean v5 = c[0].equals("route_v5_fields");
            if (v5 && Rmq.V4) continue;
            Object rd = route(c[1], v5);
            write(c[0] + "_std", "route", encodeStandard(rd));
            write(c[0] + "_intkeys", "route", (byte[]) rd.getClass().getMethod("encode").invoke(rd));
        }
    }

    private void cluster() throws Exception {
        Object ci = Rmq.make("body.ClusterInfo");
        HashMap<String, Object> t = new HashMap<>();
        t.put("broker-a", brokerData("C1", "broker-a", "10.0.0.1:10911", "10.0.0.2:10911"));
        t.put("broker-b", brokerData("C1", "broker-b", "10.0.0.3:10911"));
        t.put("broker-c", brokerData("C2", "broker-c", "10.0.0.5:10911"));
        Rmq.set(ci, "brokerAddrTable", t);
        HashMap<String, java.util.Set<String>> c = new HashMap<>();
        c.put("C1", new java.util.HashSet<>(Arrays.asList("broker-a", "broker-b")));
        c.put("C2", new java.util.HashSet<>(Arrays.asList("broker-c")));
        Rmq.set(ci, "clusterAddrTable", c);
        write("cluster_three_brokers", "cluster", (byte[]) ci.getClass().getMethod("encode").invoke(ci));
    }

    // ---- heartbeat --------------------------------------------------------------

    private static Object sub(String topic, String expr, String type, long version) throws Exception {
        Object s = Rmq.callStatic(Rmq.filterApi(), "build", topic, expr, type);
        Rmq.set(s, "subVersion", version); // FilterAPI stamps currentTimeMillis
        return s;
    }

    private static Object consumer(String group, String type, String model, String from, Object... subs) throws Exception {
        Object c = Rmq.make("heartbeat.ConsumerData");
        Rmq.set(c, "groupName", group);
        Rmq.set(c, "consumeType", Rmq.enumValue("heartbeat.ConsumeType", type));
        Rmq.set(c, "messageModel", Rmq.enumValue("heartbeat.MessageModel", model));
        Rmq.set(c, "consumeFromWhere", Enum.valueOf(org.apache.rocketmq.common.consumer.ConsumeFromWhere.class, from));
        Rmq.set(c, "subscriptionDataSet", new LinkedHashSet<>(Arrays.asList(subs)));
        return c;
    }

    /**
     * HeartbeatData.encode() as MQClientAPIImpl.sendHeartbeat sends it. The
     * sets are LinkedHashSets here: Java's HashSets of ProducerData and
     * ConsumerData (no hashCode) would order the arrays differently each run.
     */
    private void heartbeats() throws Exception {
        for (int variant = 0; variant < 2; variant++) {
            Object hb = Rmq.make("heartbeat.HeartbeatData");
            Rmq.set(hb, "clientID", "192.168.0.2@12345#2783495722");
            Object pd = Rmq.make("heartbeat.ProducerData");
            Rmq.set(pd, "groupName", "ProducerGroupA");
            Rmq.set(hb, "producerDataSet", new LinkedHashSet<>(Arrays.asList(pd)));
            LinkedHashSet<Object> cons = new LinkedHashSet<>();
            if (variant == 0) {
                cons.add(consumer("ConsumerGroupA", "CONSUME_PASSIVELY", "CLUSTERING", "CONSUME_FROM_LAST_OFFSET",
                    sub("TopicTest", "TagA || TagB", "TAG", BORN_TS), sub("%RETRY%ConsumerGroupA", "*", "TAG", BORN_TS + 1)));
                cons.add(consumer("ConsumerGroupB", "CONSUME_ACTIVELY", "BROADCASTING", "CONSUME_FROM_FIRST_OFFSET",
                    sub("TopicSql", "a > 1 AND b = 'x'", "SQL92", BORN_TS + 2)));
            } else {
                cons.add(consumer("ConsumerGroupC", "CONSUME_PASSIVELY", "CLUSTERING", "CONSUME_FROM_TIMESTAMP",
                    sub("TopicTest", "标签 || TagB || 😀", "TAG", BORN_TS + 3)));
            }
            Rmq.set(hb, "consumerDataSet", cons);
            byte[] bin = (byte[]) hb.getClass().getMethod("encode").invoke(hb);
            Kv kv = Decode.heartbeat(bin);
            check(variant != 0 || "TagA||TagB".equals(kv.get("consumer.0.sub.0.tags")), "heartbeat tags");
            write(variant == 0 ? "heartbeat_two_consumers" : "heartbeat_cjk_tag", bin, kv);
        }
    }

    // ---- batch ------------------------------------------------------------------

    /** MessageDecoder.encodeMessages, as DefaultMQProducer.batch() (MessageBatch.encode) uses it. */
    private void batch(String name, List<Message> ms) throws Exception {
        byte[] bin = MessageDecoder.encodeMessages(ms);
        Kv kv = Decode.batch(bin);
        for (int i = 0; i < ms.size(); i++)
            check(Kv.hex(MessageDecoder.messageProperties2String(ms.get(i).getProperties()).getBytes(StandardCharsets.UTF_8))
                .equals(kv.get("msg." + i + ".props.hex")), name + " props");
        write(name, bin, kv);
    }

    private void batches() throws Exception {
        byte[] body300 = new byte[300];
        for (int i = 0; i < body300.length; i++) body300[i] = (byte) (i * 7);
        Message a = producerMessage("TopicB", "TagA", "k1", "A".getBytes(StandardCharsets.UTF_8), "7F0000010D2A18B4AAC23B9ACA000002");
        Message b = producerMessage("TopicB", "TagB", "k2 k3", body300, "7F0000010D2A18B4AAC23B9ACA000003");
        b.putUserProperty("城市", "北京");
        batch("batch_two", Arrays.asList(a, b));

        Message c = producerMessage("TopicB", "TagC", "k4", "C".getBytes(StandardCharsets.UTF_8), "7F0000010D2A18B4AAC23B9ACA000004");
        c.setFlag(7);
        c.putUserProperty("emoji", "😀");
        batch("batch_three", Arrays.asList(
            producerMessage("TopicB", "TagA", "k1", "A".getBytes(StandardCharsets.UTF_8), "7F0000010D2A18B4AAC23B9ACA000002"),
            b, c));

        // encodeMessages takes an empty body; the Java producer refuses one
        // (Validators.checkMessage: "the message body length is zero").
        batch("batch_empty_body", Arrays.asList(
            producerMessage("TopicB", "TagA", null, "x".getBytes(StandardCharsets.UTF_8), "7F0000010D2A18B4AAC23B9ACA000005"),
            producerMessage("TopicB", null, null, new byte[0], "7F0000010D2A18B4AAC23B9ACA000006")));
    }

    // ---- stored -----------------------------------------------------------------

    /** The parts of a stored record chosen per case; offsets come from the append. */
    private static final class Rec {
        String topic = "TopicTest";
        int queueId = 1, flag = 0, sysFlag = 0, reconsumeTimes = 0;
        byte[] body = "Hello".getBytes(StandardCharsets.UTF_8);
        byte[] plain; // the body a consumer sees, when the stored one is compressed
        LinkedHashMap<String, String> props = new LinkedHashMap<>();
        InetSocketAddress born = new InetSocketAddress(ip("192.168.0.2"), 54321);
        InetSocketAddress store = new InetSocketAddress(ip("192.168.0.10"), 10911);
        long preparedTransactionOffset = 0;

        Rec() {
            props.put("TAGS", "TagA");
            props.put("KEYS", "k1");
            props.put("WAIT", "true");
            props.put("UNIQ_KEY", UNIQ);
        }
    }

    private static InetAddress ip(String s) {
        try {
            return InetAddress.getByName(s); // literals only: no lookup
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * One record the way a broker stores it: SendMessageProcessor makes the
     * MessageExtBrokerInner (properties parsed from the producer's string,
     * CLUSTER added, 4.9 drops WAIT, re-serialized from the HashMap);
     * CommitLog.asyncPutMessage stamps the store time, the body CRC, the
     * message version (5.x) and the IPv6 flags; the store's encoder writes
     * the record and DefaultAppendMessageCallback.doAppend patches the queue
     * offset, the commit-log offset and the store time.
     */
    private static byte[] store(Rec r, long queueOffset, long commitLogOffset) throws Exception {
        MessageExt in = Rmq.newBrokerInner();
        in.setTopic(r.topic);
        in.setQueueId(r.queueId);
        in.setBody(r.body);
        in.setFlag(r.flag);
        Map<String, String> orig = MessageDecoder.string2messageProperties(MessageDecoder.messageProperties2String(r.props));
        MessageAccessor.setProperties(in, orig);
        in.setBornTimestamp(BORN_TS);
        in.setBornHost(r.born);
        in.setStoreHost(r.store);
        in.setReconsumeTimes(r.reconsumeTimes);
        MessageAccessor.putProperty(in, "CLUSTER", "DefaultCluster");
        String wait = Rmq.V4 ? orig.remove("WAIT") : null;
        Rmq.set(in, "propertiesString", MessageDecoder.messageProperties2String(in.getProperties()));
        if (wait != null) orig.put("WAIT", wait);
        in.setSysFlag(r.sysFlag);
        in.setPreparedTransactionOffset(r.preparedTransactionOffset);

        in.setStoreTimestamp(STORE_TS);
        in.setBodyCRC(UtilAll.crc32(in.getBody()));
        if (!Rmq.V4) Rmq.setMessageVersion(in, r.topic.length() > Byte.MAX_VALUE);
        if (r.born.getAddress() instanceof java.net.Inet6Address) in.setBornHostV6Flag();
        if (r.store.getAddress() instanceof java.net.Inet6Address) in.setStoreHostAddressV6Flag();
        in.setQueueOffset(queueOffset); // 5.x: assignOffset before encoding

        ByteBuffer rec = ByteBuffer.wrap(Rmq.storeEncode(in));
        rec.putLong(20, queueOffset);
        rec.putLong(28, commitLogOffset);
        int bornLen = (in.getSysFlag() & MessageSysFlag.BORNHOST_V6_FLAG) == 0 ? 8 : 20;
        rec.putLong(36 + 4 + 8 + bornLen, in.getStoreTimestamp());
        return rec.array();
    }

    /** Stores the records one after the other (as a pull returns them) and writes the case. */
    private void stored(String name, Rec... recs) throws Exception {
        ByteArrayOutputStream all = new ByteArrayOutputStream();
        long offset = 0x10000;
        for (int i = 0; i < recs.length; i++) {
            byte[] one = store(recs[i], 100 + i, offset);
            offset += one.length;
            all.write(one);
        }
        byte[] bin = all.toByteArray();
        Kv kv = Decode.stored(bin);
        check(String.valueOf(recs.length).equals(kv.get("count")), name + ": decoded " + kv.get("count") + " of " + recs.length);
        List<MessageExt> java = MessageDecoder.decodes(ByteBuffer.wrap(bin));
        check(java.size() == recs.length, name + ": MessageDecoder.decodes read " + java.size());
        for (int i = 0; i < recs.length; i++) {
            byte[] want = recs[i].plain != null ? recs[i].plain : recs[i].body;
            check(Arrays.equals(java.get(i).getBody() == null ? new byte[0] : java.get(i).getBody(), want), name + " body " + i);
            check(java.get(i).getTopic().equals(recs[i].topic), name + " topic " + i);
        }
        write(name, bin, kv);
    }

    private static Rec rec() {
        return new Rec();
    }

    private void stored() throws Exception {
        stored("stored_ipv4", rec());

        // A body the producer compressed (over compressMsgBodyOverHowmuch, zlib
        // level 5): 4.9.8 and 5.x clients set COMPRESSED_FLAG | ZLIB type (0x301).
        byte[] big = new byte[4096];
        for (int i = 0; i < big.length; i++) big[i] = (byte) ("RocketMQ zlib body ".charAt(i % 19));
        Rec z = rec();
        z.body = CompressorFactory.getCompressor(CompressionType.ZLIB).compress(big, 5);
        z.plain = big;
        z.sysFlag = MessageSysFlag.COMPRESSED_FLAG | CompressionType.ZLIB.getCompressionFlag();
        stored("stored_zlib", z);
        Rec legacy = rec();
        legacy.body = z.body;
        legacy.plain = big;
        legacy.sysFlag = MessageSysFlag.COMPRESSED_FLAG; // older clients: no type bits, read as zlib
        stored("stored_zlib_legacy_flag", legacy);

        Rec b6 = rec();
        b6.born = new InetSocketAddress(ip("2001:db8::1"), 54321);
        stored("stored_ipv6_born", b6);
        Rec s6 = rec();
        s6.store = new InetSocketAddress(ip("2001:db8::10"), 10911);
        stored("stored_ipv6_store", s6);
        Rec both = rec();
        both.born = b6.born;
        both.store = s6.store;
        stored("stored_ipv6_both", both);

        if (!Rmq.V4) {
            Rec v2 = rec();
            StringBuilder t = new StringBuilder("TopicLong");
            while (t.length() < 130) t.append('-').append(t.length() % 10);
            v2.topic = t.toString();
            stored("stored_v2_long_topic", v2);
        }

        Rec r1 = rec(), r2 = rec(), r3 = rec();
        r2.body = "é中😀".getBytes(StandardCharsets.UTF_8);
        r2.props.put("UNIQ_KEY", "7F0000010D2A18B4AAC23B9ACA000002");
        r3.body = "x".getBytes(StandardCharsets.UTF_8);
        r3.queueId = 3;
        r3.props.put("UNIQ_KEY", "7F0000010D2A18B4AAC23B9ACA000003");
        stored("stored_three_ipv4", r1, r2, r3);

        // What a consumer's sendMessageBack leaves in the retry topic.
        Rec retry = rec();
        retry.topic = "%RETRY%ConsumerGroupA";
        retry.queueId = 0;
        retry.reconsumeTimes = 3;
        retry.props.put("RETRY_TOPIC", "TopicTest");
        retry.props.put("ORIGIN_MESSAGE_ID", "C0A8000A00002A9F0000000000001234");
        retry.props.put("DELAY", "5");
        stored("stored_retry", retry);

        Rec txn = rec();
        txn.sysFlag = MessageSysFlag.TRANSACTION_COMMIT_TYPE;
        txn.preparedTransactionOffset = 0x123456789AL;
        txn.props.put("TRAN_MSG", "true");
        txn.props.put("PGROUP", "ProducerGroupA");
        stored("stored_txn_commit", txn);

        Rec u = rec();
        u.props.put("城市", "北京");
        u.props.put("emoji😀", "値 😀 \u00e9");
        u.props.put("TAGS", "标签");
        stored("stored_unicode_props", u);

        // The store writes a record with an empty body (bodyLength 0); the
        // Java producer never sends one.
        Rec e = rec();
        e.body = new byte[0];
        stored("stored_no_body", e);

        storedBroken();
    }

    /** Deliberately broken records: `error` is the index of the first bad one. */
    private void storedBroken() throws Exception {
        byte[] a = store(rec(), 100, 0x10000);
        byte[] b = store(rec(), 101, 0x10000 + a.length);

        // The second record cut in the middle of its body.
        byte[] cut = Arrays.copyOf(concat(a, b), a.length + 130);
        writeBroken("stored_wrong_cut_short", cut, 1);

        // The second record says it is longer than the bytes that follow
        // (its fields are intact: Java's decoder, which never reads totalSize,
        // still returns it).
        byte[] big = concat(a, b);
        ByteBuffer.wrap(big).putInt(a.length, b.length + 1000);
        writeBroken("stored_wrong_totalsize", big, 1);

        // The first record with an unknown magic code (5.x's decoder rejects
        // it; 4.9's never reads the magic and returns the record).
        byte[] bad = concat(a, b);
        ByteBuffer.wrap(bad).putInt(4, 0x12345678);
        writeBroken("stored_wrong_magic", bad, 0);
    }

    private void writeBroken(String name, byte[] bin, int error) throws Exception {
        Kv kv = Decode.stored(bin);
        check(String.valueOf(error).equals(kv.get("error")), name + ": error at " + kv.get("error"));
        write(name, bin, kv);
    }

    private static byte[] concat(byte[] a, byte[] b) {
        byte[] r = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, r, a.length, b.length);
        return r;
    }

    // ---- props ------------------------------------------------------------------

    private void props() throws Exception {
        LinkedHashMap<String, String> m = new LinkedHashMap<>();
        m.put("TAGS", "TagA");
        m.put("KEYS", "k1 k2");
        m.put("UNIQ_KEY", UNIQ);
        m.put("WAIT", "true");
        m.put("城市", "北京 😀");
        writeProps("props_encoded", MessageDecoder.messageProperties2String(m), true);
        LinkedHashMap<String, String> one = new LinkedHashMap<>();
        one.put("a", "b");
        writeProps("props_encoded_one", MessageDecoder.messageProperties2String(one), true);
        LinkedHashMap<String, String> cjk = new LinkedHashMap<>();
        cjk.put("标签", "值");
        cjk.put("TAGS", "中文");
        writeProps("props_cjk", MessageDecoder.messageProperties2String(cjk), true);

        // Parser edge cases: string2messageProperties keeps an entry only when
        // its name and its value are both non-empty, splits the value at
        // nothing (0x01 inside a value stays), and finds the 0x01 by searching
        // from the entry start, possibly past the entry's end.
        String[][] edge = {
            {"props_no_trailing_sep", "A\u0001x\u0002B\u0001y"},
            {"props_empty_value", "A\u0001\u0002B\u0001y\u0002"},
            {"props_empty_name", "\u0001x\u0002B\u0001y\u0002"},
            {"props_duplicate", "A\u0001x\u0002A\u0001z\u0002"},
            {"props_lone_sep", "\u0001"},
            {"props_lone_prop_sep", "\u0002"},
            {"props_value_with_kv_sep", "A\u0001x\u0001y\u0002B\u0001z\u0002"},
            {"props_entry_without_kv_sep", "ABC\u0002D\u0001e\u0002"},
            {"props_empty_entries", "\u0002\u0002A\u0001x\u0002\u0002"},
            {"props_cjk_short", "名\u0001值"},
        };
        for (String[] e : edge) writeProps(e[0], e[1], false);
    }

    private void writeProps(String name, String s, boolean encoded) throws Exception {
        byte[] bin = s.getBytes(StandardCharsets.UTF_8);
        Kv kv = Decode.props(bin);
        if (encoded) check("true".equals(kv.get("encoded")), name + " re-encodes");
        write(name, bin, kv);
    }

    // ---- msgid / taghash ------------------------------------------------------------

    private void msgids() throws Exception {
        // Whatever this JVM makes: differs on every run (time, pid, counter).
        Kv u = new Kv("msgid");
        for (int i = 0; i < 5; i++) {
            String id = MessageClientIDSetter.createUniqID();
            u.add("uniq." + i, id);
            u.add("uniq." + i + ".ip", MessageClientIDSetter.getIPStrFromID(id));
            u.add("uniq." + i + ".pid", MessageClientIDSetter.getPidFromID(id));
        }
        write("msgid_uniq", null, u);

        Kv o = new Kv("msgid");
        InetSocketAddress[] hosts = {new InetSocketAddress(ip("192.168.0.10"), 10911), new InetSocketAddress(ip("2001:db8::10"), 10911)};
        long[] offsets = {0x1234L, 0x7FFFFFFF12345678L};
        for (int i = 0; i < hosts.length; i++) {
            MessageExt m = new MessageExt();
            m.setStoreHost(hosts[i]);
            ByteBuffer addr = m.getStoreHostBytes();
            String id = MessageDecoder.createMessageId(ByteBuffer.allocate(addr.limit() + 8), addr, offsets[i]);
            MessageId back = MessageDecoder.decodeMessageId(id);
            check(back.getOffset() == offsets[i], "offset id");
            o.add("offset." + i, id);
            o.add("offset." + i + ".addr", Decode.host(back.getAddress()));
            o.add("offset." + i + ".commitLogOffset", back.getOffset());
        }
        write("msgid_offset", null, o);
    }

    private void taghash() throws Exception {
        String[] tags = {"TagA", "a", "", "标签", "😀", "Tag-中文-😀-x",
            "a-very-long-tag-used-to-check-that-the-hash-wraps-around-0123456789-abcdefghijklmnopqrstuvwxyz"};
        Kv kv = new Kv("taghash");
        for (int i = 0; i < tags.length; i++) {
            kv.add("tag." + i, tags[i]);
            kv.add("hash." + i, tags[i].hashCode());
        }
        write("taghash", null, kv);
    }

    /** The client's queue allocation strategies (FORMAT.md `alloc`), on a few shapes. */
    private void alloc() throws Exception {
        Object[][] strategies = {
            {"averagely", new org.apache.rocketmq.client.consumer.rebalance.AllocateMessageQueueAveragely()},
            {"circle", new org.apache.rocketmq.client.consumer.rebalance.AllocateMessageQueueAveragelyByCircle()},
            {"consistent_hash", new org.apache.rocketmq.client.consumer.rebalance.AllocateMessageQueueConsistentHash()}};
        int[][] shapes = {{8, 2, 1}, {8, 2, 3}, {8, 2, 5}, {3, 1, 5}, {16, 3, 4}}; // queues, brokers, clients
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
                Kv kv = new Kv("alloc");
                kv.add("strategy", st[0]);
                kv.add("queues", mqs.size());
                for (int i = 0; i < mqs.size(); i++)
                    kv.add("queue." + i, mqs.get(i).getTopic() + "|" + mqs.get(i).getBrokerName() + "|" + mqs.get(i).getQueueId());
                kv.add("cids", cids.size());
                for (int j = 0; j < cids.size(); j++) {
                    kv.add("cid." + j, cids.get(j));
                    StringBuilder b = new StringBuilder();
                    for (org.apache.rocketmq.common.message.MessageQueue m : s.allocate("G", cids.get(j), mqs, cids))
                        b.append(b.length() > 0 ? "," : "").append(mqs.indexOf(m));
                    kv.add("alloc." + j, b);
                }
                write("alloc_" + st[0] + "_" + sh[0] + "q_" + sh[2] + "c", null, kv);
            }
        }
    }
}
