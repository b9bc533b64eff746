package librmq.interop;

import java.lang.management.ManagementFactory;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;

import org.apache.rocketmq.acl.common.AclClientRPCHook;
import org.apache.rocketmq.acl.common.SessionCredentials;
import org.apache.rocketmq.client.ClientConfig;
import org.apache.rocketmq.client.exception.MQBrokerException;
import org.apache.rocketmq.client.exception.MQClientException;
import org.apache.rocketmq.remoting.RPCHook;

/** Shared helpers: client configuration from options/environment, hex/sha256/UTF-8, error text. */
final class Util {
    private Util() {
    }

    static String env(String k) {
        String v = System.getenv(k);
        return v == null || v.isEmpty() ? null : v;
    }

    /**
     * RMQ_TEST_SLOWDOWN (set by .ci/run under a sanitizer, and by the valgrind scripts): how many times
     * slower the machine runs than in a plain run. The peer's own timeouts that bound speed, not logic,
     * scale by it, as the library's tests' do: a name-server call and a send's budget of 3 s timed out at
     * start under a sanitizer suite's load.
     */
    static int slowdown() {
        return Math.max(factor("RMQ_TEST_SLOWDOWN"), factor("RMQ_PEER_SLOWDOWN"));
    }

    /**
     * RMQ_PEER_SLOWDOWN scales the peer's timeouts alone, not the library tests' bounds: .ci/run sets 3 (a
     * Java consumer's name-server call ran out of 3 s three starts in a row under CI's load, a load of 11).
     */
    private static int factor(String name) {
        String v = env(name);
        try {
            int s = v == null ? 1 : Integer.parseInt(v.trim());
            return s < 1 ? 1 : Math.min(s, 20);
        } catch (NumberFormatException e) {
            return 1;
        }
    }

    /** Name server address: --namesrv, else RMQ_NAMESRV. */
    static String namesrv(Peer.Args a) {
        String ns = a.get("namesrv");
        if (ns == null || ns.isEmpty()) {
            ns = env("RMQ_NAMESRV");
        }
        if (ns == null) {
            throw new Peer.Usage("no name server: pass --namesrv HOST:PORT or set RMQ_NAMESRV");
        }
        return ns;
    }

    /** ACL signing hook from --ak/--sk or RMQ_ACL_AK/RMQ_ACL_SK; null when neither is set. */
    static RPCHook rpcHook(Peer.Args a) {
        String ak = a.get("ak");
        String sk = a.get("sk");
        if (ak == null) {
            ak = env("RMQ_ACL_AK");
        }
        if (sk == null) {
            sk = env("RMQ_ACL_SK");
        }
        if (ak == null && sk == null) {
            return null;
        }
        if (ak == null || sk == null) {
            throw new Peer.Usage("ACL needs both an access key and a secret key");
        }
        return new AclClientRPCHook(new SessionCredentials(ak, sk));
    }

    static boolean tls(Peer.Args a) {
        if (a.flag("tls")) {
            return true;
        }
        String v = env("RMQ_TLS");
        return v != null && !"0".equals(v) && !"false".equalsIgnoreCase(v);
    }

    static String pid() {
        String n = ManagementFactory.getRuntimeMXBean().getName();
        int at = n.indexOf('@');
        return at > 0 ? n.substring(0, at) : n;
    }

    /** Settings every client of the peer gets. */
    static void configure(ClientConfig c, Peer.Args a) {
        c.setNamesrvAddr(namesrv(a));
        c.setUseTLS(tls(a));
        c.setInstanceName(a.get("instance", "peer-" + pid()));
        c.setVipChannelEnabled(false);
        c.setMqClientApiTimeout(c.getMqClientApiTimeout() * slowdown());
        String ns = a.get("namespace");
        if (ns != null && !ns.isEmpty()) {
            // The client-side namespace (wraps topics and groups as "N%name"), the one librmq's nameSpace
            // matches. 5.x deprecates it for setNamespaceV2, but V2 only sends the namespace in a request
            // header for a proxy to apply; a broker without a proxy ignores it.
            namespace(c, ns);
        }
    }

    @SuppressWarnings("deprecation")
    private static void namespace(ClientConfig c, String ns) {
        c.setNamespace(ns);
    }

    static String hex(byte[] b) {
        if (b == null) {
            return "";
        }
        char[] d = "0123456789abcdef".toCharArray();
        StringBuilder s = new StringBuilder(b.length * 2);
        for (byte x : b) {
            s.append(d[(x >> 4) & 15]).append(d[x & 15]);
        }
        return s.toString();
    }

    static byte[] unhex(String h) {
        String t = h.replaceAll("\\s+", "");
        if (t.length() % 2 != 0) {
            throw new IllegalArgumentException("odd-length hex");
        }
        byte[] b = new byte[t.length() / 2];
        for (int i = 0; i < b.length; i++) {
            int hi = Character.digit(t.charAt(2 * i), 16);
            int lo = Character.digit(t.charAt(2 * i + 1), 16);
            if (hi < 0 || lo < 0) {
                throw new IllegalArgumentException("bad hex digit");
            }
            b[i] = (byte) (hi << 4 | lo);
        }
        return b;
    }

    static String sha256(byte[] b) {
        try {
            return hex(MessageDigest.getInstance("SHA-256").digest(b == null ? new byte[0] : b));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The text if b is valid UTF-8 (strict decoder), else null. */
    static String utf8OrNull(byte[] b) {
        if (b == null) {
            return null;
        }
        try {
            return StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(CodingErrorAction.REPORT)
                .onUnmappableCharacter(CodingErrorAction.REPORT)
                .decode(ByteBuffer.wrap(b)).toString();
        } catch (CharacterCodingException e) {
            return null;
        }
    }

    /** "ip:port" of a socket address (no DNS lookup), or null. */
    static String hostPort(SocketAddress sa) {
        if (sa == null) {
            return null;
        }
        if (sa instanceof InetSocketAddress) {
            InetSocketAddress i = (InetSocketAddress) sa;
            String h = i.getAddress() != null ? i.getAddress().getHostAddress() : i.getHostString();
            if (h.indexOf(':') >= 0) {
                h = "[" + h + "]";
            }
            return h + ":" + i.getPort();
        }
        return sa.toString();
    }

    /** One line of error text: class, response code when the client gives one, message, root cause. */
    static String describe(Throwable t) {
        StringBuilder b = new StringBuilder();
        b.append(t.getClass().getSimpleName());
        if (t instanceof MQClientException) {
            b.append("(code ").append(((MQClientException) t).getResponseCode()).append(')');
        } else if (t instanceof MQBrokerException) {
            b.append("(code ").append(((MQBrokerException) t).getResponseCode()).append(')');
        }
        String m = t.getMessage();
        if (m != null) {
            int cut = m.indexOf("\nSee ");
            if (cut > 0) {
                m = m.substring(0, cut);
            }
            b.append(": ").append(m.replace('\n', ' ').trim());
        }
        Throwable c = t.getCause();
        int depth = 0;
        while (c != null && c != t && depth++ < 5) {
            if (c.getCause() == null || c.getCause() == c) {
                b.append(" [cause ").append(c.getClass().getSimpleName());
                if (c.getMessage() != null) {
                    b.append(": ").append(c.getMessage().replace('\n', ' ').trim());
                }
                b.append(']');
                break;
            }
            c = c.getCause();
        }
        return b.toString();
    }

    /** Calls a one-argument enum setter by the constant's name (for enums whose package differs by version). */
    @SuppressWarnings({"unchecked", "rawtypes"})
    static void setEnum(Object target, String setter, String constant) {
        for (java.lang.reflect.Method m : target.getClass().getMethods()) {
            if (m.getName().equals(setter) && m.getParameterTypes().length == 1
                && m.getParameterTypes()[0].isEnum()) {
                try {
                    m.invoke(target, Enum.valueOf((Class) m.getParameterTypes()[0], constant));
                    return;
                } catch (Exception e) {
                    throw new IllegalStateException(setter + "(" + constant + "): " + e, e);
                }
            }
        }
        throw new IllegalStateException("no " + setter + " on " + target.getClass().getName());
    }

    /**
     * The response code behind an exception: the innermost MQBrokerException's (the broker's answer), else the
     * outermost MQClientException's when it is not -1; null when there is none.
     */
    static Integer responseCode(Throwable t) {
        Integer client = null;
        Integer broker = null;
        int depth = 0;
        for (Throwable c = t; c != null && depth++ < 10; c = c.getCause() == c ? null : c.getCause()) {
            if (c instanceof MQBrokerException) {
                broker = ((MQBrokerException) c).getResponseCode();
            } else if (c instanceof MQClientException && client == null
                && ((MQClientException) c).getResponseCode() != -1) {
                client = ((MQClientException) c).getResponseCode();
            }
        }
        return broker != null ? broker : client;
    }

    static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
