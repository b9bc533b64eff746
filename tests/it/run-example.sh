#!/usr/bin/env bash
# Runs an example program against the broker target RMQ_IT_TARGET, on a
# topic of its own (auto-created by the broker from TBW102).
set -euo pipefail
exe=$1
envf=${RMQ_RUN_ROOT:-/tmp/librmq-run}/${RMQ_IT_TARGET:?}/env
if [ ! -f "$envf" ]; then
  [ "${RMQ_REQUIRE_BROKER:-0}" = 1 ] && { echo "FAIL: $RMQ_IT_TARGET not running"; exit 1; }
  echo "SKIP: $RMQ_IT_TARGET not running"; exit 77
fi
# shellcheck disable=SC1090
. "$envf"
topic="Example_$(basename "$exe")_${RMQ_IT_TARGET//-/_}_$$"
exec "$exe" "$RMQ_NAMESRV" "$topic"
