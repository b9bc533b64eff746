#!/usr/bin/env bash
# The harness proves itself: the official Java client produces and consumes
# 1,000 messages (plus delay, transaction and filter checks) on the broker
# target named by RMQ_IT_TARGET (tests/interop/selftest.sh).
set -euo pipefail
root=${RMQ_SOURCE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
envf=${RMQ_RUN_ROOT:-/tmp/librmq-run}/${RMQ_IT_TARGET:?}/env
if [ ! -f "$envf" ]; then
  [ "${RMQ_REQUIRE_BROKER:-0}" = 1 ] && { echo "FAIL: $RMQ_IT_TARGET not running"; exit 1; }
  echo "SKIP: $RMQ_IT_TARGET not running"; exit 77
fi
# shellcheck disable=SC1090
. "$envf"
export RMQ_NAMESRV
exec "$root/tests/interop/selftest.sh" --version "${RMQ_VERSION%%.*}"
