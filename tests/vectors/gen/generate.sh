#!/usr/bin/env bash
# Regenerates tests/vectors/<version>/ with the official RocketMQ Java library
# (see ../FORMAT.md and ../README.md).
#
#   tests/vectors/gen/generate.sh [version...]     default: 4.9.8 5.4.0
#
# Needs Java 8+ and Maven (artifacts from Maven Central). Deterministic: a
# second run changes nothing but msgid_uniq.txt (fresh UNIQ_KEYs by design).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
vectors=$(dirname "$here")
versions=("$@")
[ ${#versions[@]} -gt 0 ] || versions=(4.9.8 5.4.0)

for v in "${versions[@]}"; do
  # Profile v4 or v5 picks the source of the protocol classes; the version
  # itself can be any release of that line.
  if ! log=$(mvn -B -q -Dstyle.color=never -f "$here/pom.xml" -Pv"${v%%.*}" -Drmq.version="$v" package -DskipTests 2>&1); then
    printf '%s\n' "$log" >&2
    exit 1
  fi
  out="$vectors/$v"
  rm -rf "$out.tmp"
  java -cp "$here/target/$v/vectors-gen.jar:$here/target/$v/lib/*" librmq.vectors.Gen gen "$out.tmp"
  rm -rf "$out"
  mv "$out.tmp" "$out"
  # The decode mode must give every .txt back from its .bin (one per kind).
  for k in cmd batch heartbeat stored props route cluster; do
    f=$(ls "$out"/${k}_*.bin 2>/dev/null | head -n 1 || true)
    [ -n "$f" ] || continue
    if ! "$here/decode.sh" "$v" "$k" "$f" | cmp -s - "${f%.bin}.txt"; then
      echo "decode.sh $v $k $(basename "$f") does not give its .txt back" >&2
      exit 1
    fi
  done
done
