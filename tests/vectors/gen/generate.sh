#!/usr/bin/env bash
# Regenerates tests/vectors/<version>/ with the official Java library, for the
# client versions matching the brokers under test. Deterministic: running it
# twice leaves no diff.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
for v in 4.9.8 5.4.0; do
  mvn -B -q -f "$here/pom.xml" -Drmq.version=$v package -DskipTests >/dev/null
  rm -rf "$here/../$v"
  java -cp "$here/target/vectors-gen-$v.jar:$here/target/lib-$v/*" librmq.vectors.Gen "$here/../$v"
  echo "tests/vectors/$v: $(ls "$here/../$v" | wc -l) files"
done
