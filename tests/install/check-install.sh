#!/bin/sh
# meson install --destdir into a temporary directory, then builds user.c out
# of tree with `pkg-config --cflags --libs librmq` (shared) and with
# `pkg-config --static` against librmq.a, and runs both.
# Arguments: build dir, this directory; $CC (may hold arguments), $CFLAGS.
set -eu
build=$1 here=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
dest=$work/dest
meson install -C "$build" --no-rebuild --quiet --destdir "$dest" >"$work/install.log" 2>&1 ||
  { cat "$work/install.log"; exit 1; }
pc=$(find "$dest" -name librmq.pc | head -1)
[ -n "$pc" ] || { echo "FAIL: no librmq.pc installed"; exit 1; }
hdr=$(find "$dest" -name rmq.h | head -1)
[ -n "$hdr" ] || { echo "FAIL: no rmq.h installed"; exit 1; }
[ -n "$(find "$dest" -name rmq_mock.h)" ] || { echo "FAIL: no rmq_mock.h installed"; exit 1; }
for lib in librmq.a librmq.so librmq.so.0; do
  [ -n "$(find "$dest" -name "$lib")" ] || { echo "FAIL: no $lib installed"; exit 1; }
done
grep -q '^Requires.private:.*openssl' "$pc" && grep -q '^Requires.private:.*zlib' "$pc" ||
  { echo "FAIL: librmq.pc lacks openssl/zlib in Requires.private:"; cat "$pc"; exit 1; }
# the .pc names the final prefix; the sysroot prefixes its -I and -L paths
export PKG_CONFIG_PATH="${pc%/*}${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
export PKG_CONFIG_SYSROOT_DIR=$dest
cflags=$(pkg-config --cflags librmq)
libs=$(pkg-config --libs librmq)
case "$cflags" in *"$dest"*) ;; *) echo "FAIL: cflags $cflags do not point into $dest"; exit 1;; esac
libdir=$(pkg-config --variable=libdir librmq)
case "$libdir" in "$dest"*) ;; *) libdir=$dest$libdir;; esac # pkgconf adds the sysroot
# shared: must load the installed librmq.so.0, not the build tree's
# shellcheck disable=SC2086
${CC:-cc} ${CFLAGS:-} -o "$work/user" "$here/user.c" $cflags $libs
LD_LIBRARY_PATH="$libdir" ldd "$work/user" | grep -q "librmq.so.0 => $dest" ||
  { echo "FAIL: user does not load the installed librmq.so.0"; LD_LIBRARY_PATH="$libdir" ldd "$work/user"; exit 1; }
LD_LIBRARY_PATH="$libdir" "$work/user"
# static: librmq.a with the private dependencies that --static adds
slibs=$(pkg-config --static --libs librmq | sed 's/-lrmq\b/-l:librmq.a/')
# shellcheck disable=SC2086
${CC:-cc} ${CFLAGS:-} -o "$work/user_static" "$here/user.c" $cflags $slibs
if ldd "$work/user_static" | grep -q librmq; then
  echo "FAIL: user_static links librmq.so"; exit 1
fi
"$work/user_static"
echo "ok: installed shared and static librmq build and run ($libs | $slibs)"
