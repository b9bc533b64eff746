#!/usr/bin/env bash
# The harness proves itself: the official Java client produces and consumes
# 1,000 messages (plus delay, transaction and filter checks) on the broker
# target named by RMQ_IT_TARGET (tests/interop/selftest.sh).
set -euo pipefail
root=${RMQ_SOURCE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=target-env.sh
. "$(dirname "$0")/target-env.sh"
export RMQ_NAMESRV
exec "$root/tests/interop/selftest.sh" --version "${RMQ_VERSION%%.*}"
