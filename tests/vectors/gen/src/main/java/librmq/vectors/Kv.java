package librmq.vectors;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/** The lines of a `.txt` (tests/vectors/FORMAT.md): `key<TAB>value`, escaped. */
final class Kv {
    final List<String[]> rows = new ArrayList<>();

    Kv(String kind) {
        add("kind", kind);
    }

    /** Adds a line; a null value (absent in Java) adds nothing. */
    Kv add(String key, Object value) {
        if (value != null) rows.add(new String[] {key, String.valueOf(value)});
        return this;
    }

    /** Adds a `.hex` line; null adds nothing, an empty array an empty value. */
    Kv hex(String key, byte[] b) {
        if (b != null) rows.add(new String[] {key, hex(b)});
        return this;
    }

    String get(String key) {
        for (String[] r : rows) if (r[0].equals(key)) return r[1];
        return null;
    }

    byte[] bytes() {
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        for (String[] r : rows) {
            escape(o, r[0]);
            o.write('\t');
            escape(o, r[1]);
            o.write('\n');
        }
        return o.toByteArray();
    }

    static String hex(byte[] b) {
        StringBuilder s = new StringBuilder(b.length * 2);
        for (byte x : b) s.append(Character.forDigit((x >> 4) & 0xF, 16)).append(Character.forDigit(x & 0xF, 16));
        return s.toString().toUpperCase();
    }

    /** UTF-8; `\\`, `\t`, `\n`, `\r` and `\xHH` for other bytes below 0x20 and 0x7F. */
    private static void escape(ByteArrayOutputStream o, String s) {
        for (byte x : s.getBytes(StandardCharsets.UTF_8)) {
            int c = x & 0xFF;
            if (c == '\\') {
                o.write('\\');
                o.write('\\');
            } else if (c == '\t') {
                o.write('\\');
                o.write('t');
            } else if (c == '\n') {
                o.write('\\');
                o.write('n');
            } else if (c == '\r') {
                o.write('\\');
                o.write('r');
            } else if (c < 0x20 || c == 0x7F) {
                byte[] h = String.format("\\x%02X", c).getBytes(StandardCharsets.US_ASCII);
                o.write(h, 0, h.length);
            } else {
                o.write(c);
            }
        }
    }
}
