# Sourced by the shell IT tests: loads the harness env of the broker target
# RMQ_IT_TARGET (RMQ_NAMESRV, RMQ_VERSION, ...), or skips (exit 77) when it
# is not running; with RMQ_REQUIRE_BROKER=1 (CI) that is a failure.
envf=${RMQ_RUN_ROOT:-/tmp/librmq-run}/${RMQ_IT_TARGET:?}/env
if [ ! -f "$envf" ]; then
  [ "${RMQ_REQUIRE_BROKER:-0}" = 1 ] && { echo "FAIL: $RMQ_IT_TARGET not running"; exit 1; }
  echo "SKIP: $RMQ_IT_TARGET not running"; exit 77
fi
# shellcheck disable=SC1090
. "$envf"
