package librmq.vectors;

import java.lang.reflect.Constructor;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.nio.ByteBuffer;
import org.apache.rocketmq.common.MQVersion;
import org.apache.rocketmq.common.message.MessageExt;

/**
 * The few places where 4.9 and 5.x differ, reached by name so that one source
 * builds against both: protocol classes moved from
 * org.apache.rocketmq.common.protocol (4.9) to
 * org.apache.rocketmq.remoting.protocol (5.x), and the store's encoder moved
 * out of CommitLog.
 */
final class Rmq {
    static final String VERSION_DESC = MQVersion.getVersionDesc(MQVersion.CURRENT_VERSION); // "V4_9_8"
    static final boolean V4 = VERSION_DESC.startsWith("V4");
    /** "4.9.8" / "5.4.0": the directory the vectors go to. */
    static final String VERSION = VERSION_DESC.substring(1).replace('_', '.');
    private static final String PROTO = V4 ? "org.apache.rocketmq.common.protocol." : "org.apache.rocketmq.remoting.protocol.";

    private Rmq() {
    }

    /** A protocol class by its name below the protocol package ("route.BrokerData"). */
    static Class<?> cls(String rel) throws ClassNotFoundException {
        return Class.forName(PROTO + rel);
    }

    static Object make(String rel) throws Exception {
        return cls(rel).getDeclaredConstructor().newInstance();
    }

    static Class<?> filterApi() throws ClassNotFoundException {
        return V4 ? Class.forName("org.apache.rocketmq.common.filter.FilterAPI") : cls("filter.FilterAPI");
    }

    @SuppressWarnings({"unchecked", "rawtypes"})
    static Object enumValue(String rel, String name) throws Exception {
        return Enum.valueOf((Class) cls(rel), name);
    }

    /** Calls the one-argument setter of {@code prop}. */
    static void set(Object o, String prop, Object v) throws Exception {
        Method m = find(o.getClass(), "set" + cap(prop), 1);
        if (m == null) throw new NoSuchMethodException(o.getClass().getName() + ".set" + cap(prop));
        m.invoke(o, v);
    }

    static boolean has(Object o, String prop) {
        return find(o.getClass(), "get" + cap(prop), 0) != null || find(o.getClass(), "is" + cap(prop), 0) != null;
    }

    static Object get(Object o, String prop) throws Exception {
        Method m = find(o.getClass(), "get" + cap(prop), 0);
        if (m == null) m = find(o.getClass(), "is" + cap(prop), 0);
        if (m == null) throw new NoSuchMethodException(o.getClass().getName() + ".get" + cap(prop));
        return m.invoke(o);
    }

    /** A public static method by name and argument count. */
    static Object callStatic(Class<?> c, String name, Object... args) throws Exception {
        for (Method m : c.getMethods())
            if (m.getName().equals(name) && Modifier.isStatic(m.getModifiers()) && m.getParameterCount() == args.length
                && accepts(m.getParameterTypes(), args))
                return m.invoke(null, args);
        throw new NoSuchMethodException(c.getName() + "." + name);
    }

    private static boolean accepts(Class<?>[] types, Object[] args) {
        for (int i = 0; i < types.length; i++)
            if (args[i] != null && !box(types[i]).isInstance(args[i])) return false;
        return true;
    }

    private static Class<?> box(Class<?> c) {
        if (!c.isPrimitive()) return c;
        if (c == int.class) return Integer.class;
        if (c == long.class) return Long.class;
        if (c == boolean.class) return Boolean.class;
        if (c == short.class) return Short.class;
        if (c == byte.class) return Byte.class;
        return Object.class;
    }

    private static Method find(Class<?> c, String name, int n) {
        for (Method m : c.getMethods())
            if (m.getName().equals(name) && m.getParameterCount() == n && !Modifier.isStatic(m.getModifiers())) return m;
        return null;
    }

    private static String cap(String s) {
        return Character.toUpperCase(s.charAt(0)) + s.substring(1);
    }

    /**
     * One commit-log record made by the broker store's own encoder
     * (4.9: CommitLog.MessageExtEncoder, 5.x: MessageExtEncoder with a default
     * MessageStoreConfig), before the append step patches offsets.
     */
    static byte[] storeEncode(MessageExt m) throws Exception {
        Object enc;
        if (V4) {
            Class<?> c = Class.forName("org.apache.rocketmq.store.CommitLog$MessageExtEncoder");
            Constructor<?> k = c.getDeclaredConstructor(int.class);
            k.setAccessible(true);
            enc = k.newInstance(4 * 1024 * 1024);
        } else {
            Class<?> conf = Class.forName("org.apache.rocketmq.store.config.MessageStoreConfig");
            enc = Class.forName("org.apache.rocketmq.store.MessageExtEncoder").getConstructor(conf)
                .newInstance(conf.getDeclaredConstructor().newInstance());
        }
        Method encode = enc.getClass().getDeclaredMethod("encode", brokerInnerClass());
        encode.setAccessible(true);
        Object failed = encode.invoke(enc, m);
        if (failed != null) throw new IllegalStateException("store encoder refused the message: " + failed);
        // 5.x hands out the whole buffer: doAppend limits it to the record's totalSize.
        ByteBuffer b = (ByteBuffer) enc.getClass().getMethod("getEncoderBuffer").invoke(enc);
        byte[] out = new byte[b.getInt(0)];
        b.get(out);
        return out;
    }

    /** MessageExtBrokerInner: in the store module in 4.9, in common.message in 5.x. */
    static Class<?> brokerInnerClass() throws ClassNotFoundException {
        return Class.forName(V4 ? "org.apache.rocketmq.store.MessageExtBrokerInner" : "org.apache.rocketmq.common.message.MessageExtBrokerInner");
    }

    static MessageExt newBrokerInner() throws Exception {
        return (MessageExt) brokerInnerClass().getDeclaredConstructor().newInstance();
    }

    /** 5.x: the store picks the V2 magic (2-byte topic length) for topics longer than 127 chars. */
    static void setMessageVersion(MessageExt m, boolean v2) throws Exception {
        Class<?> mv = Class.forName("org.apache.rocketmq.common.message.MessageVersion");
        Object v = mv.getField(v2 ? "MESSAGE_VERSION_V2" : "MESSAGE_VERSION_V1").get(null);
        m.getClass().getMethod("setVersion", mv).invoke(m, v);
    }
}
