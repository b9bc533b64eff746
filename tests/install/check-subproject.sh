#!/bin/sh
# librmq as a meson subproject: a tiny project with subprojects/librmq
# linking to this source tree gets it with dependency('librmq') (the
# override the library declares) and through get_variable('rmq_dep'),
# builds user.c against each and runs them.
# Arguments: the source root, this directory.
set -eu
src=$1 here=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/proj/subprojects"
ln -s "$src" "$work/proj/subprojects/librmq"
cp "$here/user.c" "$work/proj/"
cat >"$work/proj/meson.build" <<'MESON'
project('rmquser', 'c', default_options: ['default_library=static'])
rmq = dependency('librmq', fallback: ['librmq', 'rmq_dep'])
executable('user', 'user.c', dependencies: rmq)
sub = subproject('librmq')
executable('user_var', 'user.c', dependencies: sub.get_variable('rmq_dep'))
MESON
cd "$work/proj"
meson setup build --force-fallback-for=librmq >"$work/setup.log" 2>&1 ||
  { cat "$work/setup.log"; exit 1; }
ninja -C build -j2 >"$work/build.log" 2>&1 || { tail -40 "$work/build.log"; exit 1; }
grep -q "Subproject librmq" "$work/setup.log" ||
  { echo "FAIL: librmq was not built as a subproject"; cat "$work/setup.log"; exit 1; }
build/user
build/user_var
echo "ok: librmq builds and links as a meson subproject"
