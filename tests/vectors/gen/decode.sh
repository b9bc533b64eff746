#!/usr/bin/env bash
# Java reads bytes made elsewhere (e.g. by librmq) and prints the .txt lines of
# tests/vectors/FORMAT.md for them, so a test can diff them against what it
# meant to write.
#
#   tests/vectors/gen/decode.sh <version> <kind> <file|->
#     version  4.9.8, 5.4.0, ... (built on first use, quietly)
#     kind     cmd | batch | heartbeat | stored | props | route | cluster
#   tests/vectors/gen/decode.sh <version> --dir <dir>
#     every "kind NAME" line of <dir>/manifest in one JVM: NAME.bin is read
#     into NAME.got (NAME.err when Java cannot read it)
#
# Exit status 1 (and a message on stderr) when Java cannot read the bytes at
# all; broken stored records are data instead (`error`, see FORMAT.md).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
if [ $# -ne 3 ]; then
  sed -n '2,15p' "$0" >&2
  exit 2
fi
v=$1
jar="$here/target/$v/vectors-gen.jar"
# Built on first use, and again when the generator's source is newer.
if [ ! -f "$jar" ] || [ ! -d "$here/target/$v/lib" ] ||
  [ -n "$(find "$here/src" "$here/pom.xml" -newer "$jar" -print -quit)" ]; then
  mvn -B -q -Dstyle.color=never -f "$here/pom.xml" -Pv"${v%%.*}" -Drmq.version="$v" package -DskipTests >/dev/null 2>&1 ||
    { echo "decode.sh: cannot build the generator for $v (mvn -f $here/pom.xml -Pv${v%%.*} -Drmq.version=$v package)" >&2; exit 2; }
fi
if [ "$2" = --dir ]; then
  exec java -cp "$jar:$here/target/$v/lib/*" librmq.vectors.Gen decode-dir "$3"
fi
exec java -cp "$jar:$here/target/$v/lib/*" librmq.vectors.Gen decode "$2" "$3"
