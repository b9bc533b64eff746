package librmq.interop;

import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Minimal JSON reader/writer (no dependency on the client's own JSON library, which differs between versions).
 * Objects parse to LinkedHashMap, arrays to ArrayList, numbers to Long or BigDecimal, plus String, Boolean, null.
 * The writer emits UTF-8 text as is and escapes only '"', '\\' and control characters.
 */
final class Json {
    private final String s;
    private int p;

    private Json(String s) {
        this.s = s;
    }

    static Object parse(String text) {
        Json j = new Json(text);
        j.ws();
        Object v = j.value();
        j.ws();
        if (j.p != j.s.length()) {
            throw j.err("trailing characters");
        }
        return v;
    }

    private IllegalArgumentException err(String what) {
        return new IllegalArgumentException("bad JSON at char " + p + ": " + what);
    }

    private void ws() {
        while (p < s.length()) {
            char c = s.charAt(p);
            if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
                p++;
            } else {
                break;
            }
        }
    }

    private Object value() {
        if (p >= s.length()) {
            throw err("unexpected end");
        }
        char c = s.charAt(p);
        switch (c) {
            case '{': return object();
            case '[': return array();
            case '"': return string();
            case 't': lit("true"); return Boolean.TRUE;
            case 'f': lit("false"); return Boolean.FALSE;
            case 'n': lit("null"); return null;
            default:
                if (c == '-' || (c >= '0' && c <= '9')) {
                    return number();
                }
                throw err("unexpected '" + c + "'");
        }
    }

    private void lit(String w) {
        if (!s.startsWith(w, p)) {
            throw err("expected " + w);
        }
        p += w.length();
    }

    private Map<String, Object> object() {
        Map<String, Object> m = new LinkedHashMap<String, Object>();
        p++;
        ws();
        if (p < s.length() && s.charAt(p) == '}') {
            p++;
            return m;
        }
        while (true) {
            ws();
            String k;
            if (p < s.length() && s.charAt(p) == '"') {
                k = string();
            } else {
                // fastjson (the clients' own JSON) writes integer map keys bare: {0:"addr"}
                int st = p;
                while (p < s.length() && (Character.isLetterOrDigit(s.charAt(p)) || s.charAt(p) == '-'
                    || s.charAt(p) == '_')) {
                    p++;
                }
                if (st == p) {
                    throw err("expected key");
                }
                k = s.substring(st, p);
            }
            ws();
            if (p >= s.length() || s.charAt(p) != ':') {
                throw err("expected ':'");
            }
            p++;
            ws();
            m.put(k, value());
            ws();
            if (p >= s.length()) {
                throw err("unterminated object");
            }
            char c = s.charAt(p++);
            if (c == '}') {
                return m;
            }
            if (c != ',') {
                throw err("expected ',' or '}'");
            }
        }
    }

    private List<Object> array() {
        List<Object> a = new ArrayList<Object>();
        p++;
        ws();
        if (p < s.length() && s.charAt(p) == ']') {
            p++;
            return a;
        }
        while (true) {
            ws();
            a.add(value());
            ws();
            if (p >= s.length()) {
                throw err("unterminated array");
            }
            char c = s.charAt(p++);
            if (c == ']') {
                return a;
            }
            if (c != ',') {
                throw err("expected ',' or ']'");
            }
        }
    }

    private String string() {
        p++;
        StringBuilder b = new StringBuilder();
        while (true) {
            if (p >= s.length()) {
                throw err("unterminated string");
            }
            char c = s.charAt(p++);
            if (c == '"') {
                return b.toString();
            }
            if (c != '\\') {
                b.append(c);
                continue;
            }
            if (p >= s.length()) {
                throw err("bad escape");
            }
            char e = s.charAt(p++);
            switch (e) {
                case '"': b.append('"'); break;
                case '\\': b.append('\\'); break;
                case '/': b.append('/'); break;
                case 'b': b.append('\b'); break;
                case 'f': b.append('\f'); break;
                case 'n': b.append('\n'); break;
                case 'r': b.append('\r'); break;
                case 't': b.append('\t'); break;
                case 'u':
                    if (p + 4 > s.length()) {
                        throw err("bad \\u escape");
                    }
                    b.append((char) Integer.parseInt(s.substring(p, p + 4), 16));
                    p += 4;
                    break;
                default:
                    throw err("bad escape \\" + e);
            }
        }
    }

    private Object number() {
        int st = p;
        if (s.charAt(p) == '-') {
            p++;
        }
        boolean frac = false;
        while (p < s.length()) {
            char c = s.charAt(p);
            if (c >= '0' && c <= '9') {
                p++;
            } else if (c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-') {
                frac = true;
                p++;
            } else {
                break;
            }
        }
        String n = s.substring(st, p);
        try {
            if (!frac) {
                return Long.valueOf(n);
            }
            return new BigDecimal(n);
        } catch (NumberFormatException ex) {
            throw err("bad number " + n);
        }
    }

    // ---------------------------------------------------------------- writer

    static String write(Object v) {
        StringBuilder b = new StringBuilder();
        write(b, v);
        return b.toString();
    }

    @SuppressWarnings("unchecked")
    static void write(StringBuilder b, Object v) {
        if (v == null) {
            b.append("null");
        } else if (v instanceof String) {
            str(b, (String) v);
        } else if (v instanceof Boolean || v instanceof Integer || v instanceof Long || v instanceof Short
            || v instanceof Byte || v instanceof BigDecimal) {
            b.append(v.toString());
        } else if (v instanceof Number) {
            double d = ((Number) v).doubleValue();
            if (Double.isNaN(d) || Double.isInfinite(d)) {
                b.append("null");
            } else {
                b.append(v.toString());
            }
        } else if (v instanceof Map) {
            b.append('{');
            boolean first = true;
            for (Map.Entry<Object, Object> e : ((Map<Object, Object>) v).entrySet()) {
                if (!first) {
                    b.append(',');
                }
                first = false;
                str(b, String.valueOf(e.getKey()));
                b.append(':');
                write(b, e.getValue());
            }
            b.append('}');
        } else if (v instanceof Iterable) {
            b.append('[');
            Iterator<Object> it = ((Iterable<Object>) v).iterator();
            boolean first = true;
            while (it.hasNext()) {
                if (!first) {
                    b.append(',');
                }
                first = false;
                write(b, it.next());
            }
            b.append(']');
        } else {
            str(b, v.toString());
        }
    }

    static void str(StringBuilder b, String s) {
        b.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"': b.append("\\\""); break;
                case '\\': b.append("\\\\"); break;
                case '\n': b.append("\\n"); break;
                case '\r': b.append("\\r"); break;
                case '\t': b.append("\\t"); break;
                case '\b': b.append("\\b"); break;
                case '\f': b.append("\\f"); break;
                default:
                    if (c < 0x20 || c == 0x7f || Character.isSurrogate(c) && !validPair(s, i)) {
                        b.append(String.format("\\u%04x", (int) c));
                    } else {
                        b.append(c);
                        if (Character.isHighSurrogate(c)) {
                            b.append(s.charAt(++i));
                        }
                    }
            }
        }
        b.append('"');
    }

    private static boolean validPair(String s, int i) {
        char c = s.charAt(i);
        return Character.isHighSurrogate(c) && i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1));
    }
}
