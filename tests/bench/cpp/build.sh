#!/usr/bin/env bash
# Builds the C++ benchmark peer: apache/rocketmq-client-cpp at a pinned
# commit of its master branch (the remoting-protocol client, 2.2.0 and 52
# later commits; it still calls itself 2.2.0) against Debian's packages, and
# tests/bench/cpp/bench.cpp against it. The release 2.2.0 itself does not
# compile against Debian 12's boost 1.74: src/common/ByteOrder.h includes
# boost/detail/endian.hpp, which boost removed in 1.73; master replaced it
# with boost/endian/arithmetic.hpp (c64df6a, PR #401) and made the remaining
# boost headers current (874d66a, PR #417), and no release followed.
#
# Usage: tests/bench/cpp/build.sh [DIR]   (default build/tests/bench/cpp-build)
#   DIR/src       the client's source, cloned and checked out at COMMIT
#   DIR/cpp-bench the benchmark program (what peers.sh and consumer.sh run)
# env: CPP_CLIENT_REPO (https://github.com/apache/rocketmq-client-cpp.git;
#      any git URL or path holding the commit), JOBS (make -j, 2),
#      CPP_NO_APT=1 (do not install missing packages; fail instead)
#
# The client's own build.sh downloads and builds boost 1.58, libevent,
# jsoncpp and openssl into its bin/ folder, and its CMakeLists.txt takes every
# dependency from there on Linux. Debian's packages replace all of them: only
# the static library target (rocketmq_static and its Signature library) is
# built, its bin/include holds nothing but a link to Debian's jsoncpp headers
# (the sources include "json/json.h"), and bench.cpp is linked here against
# Debian's static boost libraries (the client's objects are compiled for
# static boost, as its CMakeLists.txt intends: boost.log's v2s namespace)
# and its shared libevent, jsoncpp, OpenSSL and zlib.
set -euo pipefail
cd "$(dirname "$0")/../../.."
DIR=${1:-build/tests/bench/cpp-build}
REPO=${CPP_CLIENT_REPO:-https://github.com/apache/rocketmq-client-cpp.git}
COMMIT=7c8b7f8bf52ba753bb305faa926fe40a4a9c1969 # master, 17 March 2026 (2.2.0 + 52)
JOBS=${JOBS:-2}
pkgs=(cmake g++ make git libboost-dev libboost-atomic-dev libboost-thread-dev
      libboost-system-dev libboost-chrono-dev libboost-date-time-dev
      libboost-log-dev libboost-regex-dev libboost-serialization-dev
      libboost-filesystem-dev libboost-locale-dev libboost-iostreams-dev
      libevent-dev libjsoncpp-dev libssl-dev zlib1g-dev)

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  [ "${CPP_NO_APT:-0}" != 1 ] || { echo "build.sh: missing packages: ${missing[*]}" >&2; exit 2; }
  echo "build.sh: installing ${missing[*]}" >&2
  s=; [ "$(id -u)" = 0 ] || s=sudo
  $s apt-get update -q >&2
  DEBIAN_FRONTEND=noninteractive $s apt-get install -y -q "${missing[@]}" >&2
fi

mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
src=$DIR/src
if [ ! -d "$src/.git" ]; then
  git clone -q "$REPO" "$src"
fi
if [ "$(git -C "$src" rev-parse HEAD)" != "$COMMIT" ]; then
  git -C "$src" checkout -q -f "$COMMIT" 2>/dev/null ||
    { git -C "$src" fetch -q origin "$COMMIT" && git -C "$src" checkout -q -f "$COMMIT"; }
  rm -f "$src/bin/librocketmq.a"
fi

# Debian's jsoncpp 1.9.5 has Json::Value constructors for (unsigned) long
# but not long long, so assigning the client's uint64 (unsigned long long)
# is ambiguous: the one line that does so gets an explicit conversion.
f=$src/src/status/ConsumeStats.cpp
grep -q 'static_cast<Json::UInt64>(consumeFailedMsgs)' "$f" ||
  sed -i 's/= consumeFailedMsgs;/= static_cast<Json::UInt64>(consumeFailedMsgs);/' "$f"

lib=$src/bin/librocketmq.a
if [ ! -f "$lib" ]; then
  mkdir -p "$src/bin/include"
  ln -sfn /usr/include/jsoncpp "$src/bin/include/jsoncpp"
  cmake -S "$src" -B "$DIR/obj" -DCMAKE_BUILD_TYPE=Release -DBUILD_ROCKETMQ_SHARED=OFF >"$DIR/cmake.log" 2>&1 ||
    { tail -20 "$DIR/cmake.log" >&2; exit 1; }
  t=$(date +%s)
  make -C "$DIR/obj" -j"$JOBS" rocketmq_static >"$DIR/make.log" 2>&1 ||
    { grep -m5 -A3 'error' "$DIR/make.log" >&2; exit 1; }
  echo "build.sh: librocketmq.a (${COMMIT:0:7}) built in $(( $(date +%s) - t )) s" >&2
fi

g++ -std=c++11 -O2 -Wall -Wextra -pthread -I"$src/include" -o "$DIR/cpp-bench.new" tests/bench/cpp/bench.cpp \
  "$lib" "$src/libs/signature/lib/libSignature.a" \
  -Wl,-Bstatic -lboost_log_setup -lboost_log -lboost_thread -lboost_filesystem -lboost_regex -lboost_serialization \
  -lboost_locale -lboost_iostreams -lboost_date_time -lboost_chrono -lboost_atomic -lboost_system -Wl,-Bdynamic \
  -levent -levent_pthreads -levent_openssl -ljsoncpp -lssl -lcrypto -lz -ldl -lrt
mv "$DIR/cpp-bench.new" "$DIR/cpp-bench"
echo "$DIR/cpp-bench"
