#!/usr/bin/env bash
# Does Java read what C writes? The C codec encodes SEND_MESSAGE_V2 requests
# and responses in both header serializations, a heartbeat body (alone and
# in a request), a batch body and property strings (java_decodes); the
# official Java library of each version reads them back in one JVM
# (tests/vectors/gen/decode.sh --dir); every case must give exactly the
# lines the C side meant, no more, no fewer.
#
#   test_java_decodes.sh <java_decodes executable> [version...]
#
# Without Java or Maven it skips (77), or fails under RMQ_REQUIRE_BROKER=1
# (CI), like the broker tests.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
gen=$here/../vectors/gen
writer=$1
shift
versions=("$@")
[ ${#versions[@]} -gt 0 ] || versions=(4.9.8 5.4.0)

bail() {
  if [ "${RMQ_REQUIRE_BROKER:-}" = 1 ]; then
    echo "FAIL: $1 (RMQ_REQUIRE_BROKER=1)" >&2
    exit 1
  fi
  echo "SKIP: $1" >&2
  exit 77
}
command -v java >/dev/null || bail "no java on PATH"
command -v mvn >/dev/null || [ -f "$gen/target/${versions[0]}/vectors-gen.jar" ] ||
  bail "no mvn on PATH to build tests/vectors/gen"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
for v in "${versions[@]}"; do
  d=$tmp/$v
  mkdir -p "$d"
  "$writer" "$d" "$v" || { echo "FAIL $v: the C writer failed"; fails=$((fails + 1)); continue; }
  t0=$(date +%s%N)
  if ! "$gen/decode.sh" "$v" --dir "$d"; then
    echo "FAIL $v: decode.sh --dir failed"
    fails=$((fails + 1))
    continue
  fi
  ms=$((($(date +%s%N) - t0) / 1000000))
  n=0
  while read -r kind name; do
    n=$((n + 1))
    if [ -f "$d/$name.err" ]; then
      echo "FAIL $v $name ($kind): $(cat "$d/$name.err")"
      fails=$((fails + 1))
    elif ! diff <(LC_ALL=C sort "$d/$name.want") <(LC_ALL=C sort "$d/$name.got") >"$d/$name.diff"; then
      echo "FAIL $v $name ($kind): < C put in, > Java read"
      cat "$d/$name.diff"
      fails=$((fails + 1))
    else
      echo "ok   $v $name ($kind, $(wc -l <"$d/$name.want") lines)"
    fi
  done <"$d/manifest"
  [ "$n" -ge 10 ] || { echo "FAIL $v: only $n cases"; fails=$((fails + 1)); }
  echo "$v: $n cases, Java decoded them in $ms ms (one JVM)"
done
[ "$fails" -eq 0 ] || { echo "$fails failures"; exit 1; }
