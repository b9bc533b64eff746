#!/bin/sh
# The header's RMQ_VERSION_* macros equal the meson project version.
# Arguments: rmq.h, the project version.
set -eu
hdr=$1 want=$2
get() { sed -n "s/^#define RMQ_VERSION_$1 \([0-9]*\)\$/\1/p" "$hdr"; }
got="$(get MAJOR).$(get MINOR).$(get PATCH)"
[ "$got" = "$want" ] || { echo "FAIL: rmq.h says $got, meson.build $want"; exit 1; }
echo "ok: version $got"
