#!/usr/bin/env bash
# The case runner and the vectors reader refuse to pass by running or
# comparing nothing: a case filter that selects no case fails, and so does
# a vectors test without $RMQ_VECTORS or with an empty vectors directory.
#   runner-selftest.sh TEST_UTIL TEST_VECTORS_ALLOC
set -u
util=$1 vec=$2
fails=0
out=$(mktemp) empty=$(mktemp -d)
trap 'rm -rf "$out" "$empty"' EXIT

# expect WANT_STATUS PATTERN -- COMMAND...: exit status (0 or non-zero) and
# a line of stderr matching PATTERN.
expect() {
  local want=$1 pat=$2
  shift 3
  "$@" 2>"$out" >/dev/null
  local rc=$?
  if { [ "$want" = 0 ] && [ $rc -ne 0 ]; } || { [ "$want" != 0 ] && [ $rc -eq 0 ]; } ||
     ! grep -q -- "$pat" "$out"; then
    echo "FAIL: $* exited $rc (want $want), stderr:"; sed 's/^/  /' "$out"
    fails=$((fails + 1))
  else
    echo "ok: $want '$pat'"
  fi
}

expect 0 '1 cases, 0 failed' -- env RMQ_TEST_CASE=buf_appends_big_endian "$util"
expect 1 'RMQ_TEST_CASE=buf_appends_big_endain selects no case' -- \
  env RMQ_TEST_CASE=buf_appends_big_endain "$util"
expect 0 '1 cases, 0 failed' -- env RMQ_VECTORS="$RMQ_VECTORS" "$vec"
expect 1 'RMQ_VECTORS is not set' -- env -u RMQ_VECTORS "$vec"
expect 1 'RMQ_VECTORS is not set' -- env RMQ_VECTORS= "$vec"
expect 1 'has no version directories' -- env RMQ_VECTORS="$empty" "$vec"
expect 1 'has no version directories' -- env RMQ_VECTORS="$empty/missing" "$vec"
[ $fails -eq 0 ]
