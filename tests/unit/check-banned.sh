#!/usr/bin/env bash
# Library code must not call what keeps hidden global state or is not
# thread-safe (rand, strerror, strtok, localtime, ...), nor end or print
# from inside the process (abort, exit, printf): design.md, "API
# principles". Comments are skipped; a hit names the file and line.
set -u
root=${RMQ_SOURCE_ROOT:-$(dirname "$0")/../..}
banned='\b(rand|srand|strerror|strtok|asctime|ctime|gmtime|localtime|gets|sprintf|vsprintf|abort|exit|printf|puts|putchar|system)[[:space:]]*\('
status=0
while IFS= read -r f; do
  # drop comments (block comments may span lines), then look
  out=$(awk '
    { line = $0
      while (1) {
        if (inc) { e = index(line, "*/"); if (!e) { line = ""; break }
                   line = substr(line, e + 2); inc = 0 }
        s = index(line, "/*"); if (!s) break
        pre = substr(line, 1, s - 1); rest = substr(line, s + 2)
        e = index(rest, "*/")
        if (e) line = pre substr(rest, e + 2); else { line = pre; inc = 1; break }
      }
      print FNR ":" line }' "$f" |
    sed -E 's/\b(snprintf|vsnprintf|fprintf|strerror_r|localtime_r|gmtime_r|_exit)[[:space:]]*\(/allowed(/g' |
    grep -E "$banned")
  if [ -n "$out" ]; then
    echo "$out" | sed "s@^@$f:@"
    status=1
  fi
done < <(find "$root/lib" -name '*.[ch]' | sort)
[ $status = 0 ] && echo "no banned call in lib/"
exit $status
