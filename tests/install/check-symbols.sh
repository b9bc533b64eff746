#!/bin/sh
# The shared library exports only rmq_ symbols, under a versioned SONAME.
# Arguments: the shared library, the expected SONAME, the public headers.
set -eu
lib=$1 soname=$2
syms=$(nm -D --defined-only "$lib" | awk '{print $NF}' | sed 's/@.*//')
n=$(printf '%s\n' "$syms" | grep -c '^rmq_' || true)
[ "$n" -ge 50 ] || { echo "FAIL: only $n rmq_ symbols exported"; exit 1; }
bad=$(printf '%s\n' "$syms" | grep -v '^rmq_' | grep -v '^LIBRMQ_[0-9]*$' || true)
if [ -n "$bad" ]; then
  echo "FAIL: exported symbols without the rmq_ prefix:"; echo "$bad"; exit 1
fi
got=$(readelf -d "$lib" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[ "$got" = "$soname" ] || { echo "FAIL: SONAME \"$got\", want \"$soname\""; exit 1; }
# every function the header declares is exported (none lost to the map)
shift 2
hdr=$(sed -n 's/.*RMQ_API[^(]*[ *]\(rmq_[a-z0-9_]*\)(.*/\1/p' "$@" | sort -u)
for f in $hdr; do
  printf '%s\n' "$syms" | grep -qx "$f" || { echo "FAIL: $f is declared but not exported"; exit 1; }
done
echo "ok: $n symbols, all rmq_, SONAME $got, $(printf '%s\n' "$hdr" | wc -l) declared functions exported"
