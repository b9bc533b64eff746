package librmq.interop;

import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.jar.Manifest;

/**
 * Entry point of the interop peer: {@code peer <subcommand> [options]}.
 *
 * stdout carries only JSON lines (one object per line, UTF-8); everything the client library or the JVM prints
 * goes to the log file (System.out/System.err are redirected there before any RocketMQ class is loaded).
 * Fatal errors of the peer itself are one line on the real stderr starting with "peer: ".
 *
 * Exit codes: 0 ok, 1 some message failed / fewer messages than expected, 2 usage or setup error.
 */
public final class Peer {
    static final long START_NANOS = System.nanoTime();
    private static PrintStream realOut;
    private static PrintStream realErr;

    /** Options that never take a value. */
    private static final Set<String> FLAGS = new HashSet<String>();

    static {
        for (String f : new String[] {"tls", "broadcast", "orderly", "help", "no-commit", "unit-mode", "stdin-eof"}) {
            FLAGS.add(f);
        }
    }

    private Peer() {
    }

    /** Parsed command line: options by name (without "--"), positional arguments in order. */
    static final class Args {
        final Map<String, String> opts = new HashMap<String, String>();
        final List<String> pos = new ArrayList<String>();

        String get(String k) {
            return opts.get(k);
        }

        String get(String k, String def) {
            String v = opts.get(k);
            return v == null ? def : v;
        }

        String need(String k) {
            String v = opts.get(k);
            if (v == null || v.isEmpty()) {
                throw new Usage("missing --" + k);
            }
            return v;
        }

        boolean flag(String k) {
            return opts.containsKey(k);
        }

        long num(String k, long def) {
            String v = opts.get(k);
            if (v == null) {
                return def;
            }
            try {
                return Long.parseLong(v.trim());
            } catch (NumberFormatException e) {
                throw new Usage("--" + k + " wants a number, got '" + v + "'");
            }
        }
    }

    static final class Usage extends RuntimeException {
        private static final long serialVersionUID = 1L;

        Usage(String m) {
            super(m);
        }
    }

    static Args parse(String[] argv, int from) {
        Args a = new Args();
        for (int i = from; i < argv.length; i++) {
            String s = argv[i];
            if (s.startsWith("--") && s.length() > 2) {
                String k = s.substring(2);
                String v = null;
                int eq = k.indexOf('=');
                if (eq >= 0) {
                    v = k.substring(eq + 1);
                    k = k.substring(0, eq);
                } else if (!FLAGS.contains(k)) {
                    if (i + 1 >= argv.length) {
                        throw new Usage("option --" + k + " needs a value");
                    }
                    v = argv[++i];
                }
                a.opts.put(k, v == null ? "" : v);
            } else {
                a.pos.add(s);
            }
        }
        return a;
    }

    /** One JSON line on the real stdout, flushed at once. Thread-safe. */
    static synchronized void emit(Map<String, Object> obj) {
        realOut.println(Json.write(obj));
        realOut.flush();
    }

    static Map<String, Object> obj() {
        return new LinkedHashMap<String, Object>();
    }

    /** A line on the real stderr (diagnostics for the test that runs the peer). */
    static synchronized void diag(String msg) {
        realErr.println("peer: " + msg);
        realErr.flush();
    }

    /** Time since JVM start, for the startup measurements. */
    static long uptimeMs() {
        try {
            return ManagementFactory.getRuntimeMXBean().getUptime();
        } catch (Throwable t) {
            return (System.nanoTime() - START_NANOS) / 1000000L;
        }
    }

    static String clientVersion() {
        try {
            java.util.Enumeration<java.net.URL> en = Peer.class.getClassLoader().getResources("META-INF/MANIFEST.MF");
            while (en.hasMoreElements()) {
                java.io.InputStream in = en.nextElement().openStream();
                try {
                    String v = new Manifest(in).getMainAttributes().getValue("Peer-RocketMQ-Version");
                    if (v != null) {
                        return v;
                    }
                } finally {
                    in.close();
                }
            }
        } catch (IOException ignore) {
            // fall through
        }
        return "unknown";
    }

    private static void redirectStdio() {
        try {
            realOut = new PrintStream(new FileOutputStream(FileDescriptor.out), false, utf8());
            realErr = new PrintStream(new FileOutputStream(FileDescriptor.err), true, utf8());
        } catch (java.io.UnsupportedEncodingException e) {
            throw new IllegalStateException(e);
        }
        String log = System.getProperty("peer.log");
        OutputStream sink;
        if (log == null || log.isEmpty()) {
            sink = new OutputStream() {
                @Override
                public void write(int b) {
                }

                @Override
                public void write(byte[] b, int off, int len) {
                }
            };
        } else {
            try {
                sink = new FileOutputStream(log, true);
            } catch (IOException e) {
                realErr.println("peer: cannot open log " + log + ": " + e);
                sink = System.err;
            }
        }
        PrintStream ps = new PrintStream(sink, true);
        System.setOut(ps);
        System.setErr(ps);
    }

    private static String utf8() {
        return StandardCharsets.UTF_8.name();
    }

    static final String USAGE =
        "usage: peer [--version 4|5|<full>] <subcommand> [options]\n"
            + "  produce --group G [--spec FILE|-] [--topic T]\n"
            + "  consume --group G --topic T [--mode push|pull|lite] [--tag-expr E | --sql S] [--broadcast]\n"
            + "          [--from first|last|timestamp:<ms>] [--count N [--quiet-ms Q]] [--idle-ms M] [--timeout-ms T]\n"
            + "          [--orderly] [--threads 4] [--process-us U] [--assign-ms M]   (the last two: push)\n"
            + "  consume-lite --group G --topic T [--tag-expr E | --sql S] [--from first|last|timestamp:<ms>]\n"
            + "          [--count N] [--idle-ms M] [--timeout-ms T] [--stop-file F] [--stdin-eof] [--assign-ms 200]\n"
            + "          [--process-us U]\n"
            + "  trace-decode [--topic RMQ_SYS_TRACE_TOPIC] [--msg-ids ID,ID,...] [--count N] [--timeout-ms 30000]\n"
            + "  reply --group G --topic T [--tag-expr E] [--count N] [--timeout-ms T]     (answers requests)\n"
            + "  request --group G --topic T [--tags TAG] [--count N] [--body B] [--timeout-ms T]\n"
            + "  bench-produce --topic T [--count N] [--size B] [--mode async|sync|batch|tx] [--threads N] [--window W]\n"
            + "          [--batch 64] [--warmup 2000] [--compress-over BYTES] [--auto-batch true]\n"
            + "          [--topics N] [--producers P]   (T_0..T_{N-1}; P producers on one client instance)\n"
            + "  bench-consume --topic T [--count N] [--group G] [--pull-batch 32] [--timeout-ms T]\n"
            + "  route --topic T | queues --topic T | create-topic --topic T [--queues N]\n"
            + "  consumer-status --group G --topic T [--client-id ID]   (the clients' offsets, asked through the broker)\n"
            + "  hash [--queues N] STRING...\n"
            + "  version\n"
            + "common: --namesrv ADDR (or RMQ_NAMESRV) --ak AK --sk SK (or RMQ_ACL_AK/RMQ_ACL_SK) --tls (or RMQ_TLS=1)\n";

    public static void main(String[] argv) {
        try {
            redirectStdio();
        } catch (RuntimeException e) {
            System.err.println("peer: " + e);
            System.exit(2);
        }
        int rc;
        try {
            rc = run(argv);
        } catch (Usage u) {
            diag(u.getMessage());
            realErr.print(USAGE);
            rc = 2;
        } catch (Throwable t) {
            Map<String, Object> o = obj();
            o.put("fatal", true);
            o.put("error", Util.describe(t));
            o.put("code", Util.responseCode(t));
            emit(o);
            diag("fatal: " + Util.describe(t));
            t.printStackTrace(System.err);
            rc = 2;
        }
        realOut.flush();
        realErr.flush();
        // the client keeps non-daemon threads on some paths; do not wait for them
        Runtime.getRuntime().halt(rc);
    }

    private static int run(String[] argv) throws Exception {
        if (argv.length == 0) {
            throw new Usage("no subcommand");
        }
        String cmd = argv[0];
        Args a = parse(argv, 1);
        if (a.flag("help") || "help".equals(cmd) || "--help".equals(cmd)) {
            realOut.print(USAGE);
            return 0;
        }
        switch (cmd) {
            case "version": {
                Map<String, Object> o = obj();
                o.put("clientVersion", clientVersion());
                o.put("java", System.getProperty("java.version"));
                emit(o);
                return 0;
            }
            case "hash":
                return Info.hash(a);
            case "produce":
                return new Produce(a).run();
            case "consume":
                return new Consume(a).run();
            case "route":
                return Info.route(a);
            case "queues":
                return Info.queues(a);
            case "create-topic":
                return Info.createTopic(a);
            case "consumer-status":
                return Info.consumerStatus(a);
            case "consume-lite":
                return new ConsumeLite(a).run();
            case "trace-decode":
                return TraceDecode.run(a);
            case "reply":
                return ReqReply.reply(a);
            case "request":
                return ReqReply.request(a);
            case "bench-produce":
                return Bench.produce(a);
            case "bench-consume":
                return Bench.consume(a);
            default:
                throw new Usage("unknown subcommand '" + cmd + "'");
        }
    }
}
