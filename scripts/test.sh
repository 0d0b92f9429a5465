#!/usr/bin/env bash
# test.sh -- the test command: install what the build and tests need, build,
# install, and run every test (pg_regress, then TAP).
#
# Run it as root on a fresh Debian 12 machine (CI does) or as a user with
# sudo.  PostgreSQL refuses to run as root, so the tests run as the
# unprivileged "postgres" account on a copy of the tree that it owns.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"

bash scripts/install-deps.sh

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"

make -s clean >/dev/null
make -s -j2
$SUDO make -s install

if [ "$(id -u)" -eq 0 ]; then
  work=$(mktemp -d /tmp/pg_tributary_test.XXXXXX)
  cp -a "$here"/. "$work"/
  chown -R postgres:postgres "$work"
  run() { runuser -u postgres -- env PATH="/usr/lib/postgresql/15/bin:$PATH" "$@"; }
  cd "$work"
else
  run() { env PATH="/usr/lib/postgresql/15/bin:$PATH" "$@"; }
fi

status=0
run make -s installcheck PROVE_FLAGS="--timer" || status=$?

# the binlog decoders under libFuzzer: a fixed seed and number of inputs
# (about a minute), so a crash found here is found again on every run
fuzz_status=0
make -s -C "$here/fuzz" run PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config \
  > "$here/fuzz/fuzz.log" 2>&1 || fuzz_status=$?
grep -E "^stat::(number_of_executed_units|new_units_added)|ERROR|SUMMARY" "$here/fuzz/fuzz.log" || true
if [ $fuzz_status -ne 0 ]; then
  echo "==== fuzz/fuzz.log (tail)"; tail -60 "$here/fuzz/fuzz.log"
  status=$fuzz_status
fi

if [ $status -ne 0 ]; then
  for f in regression.diffs; do
    [ -f "$f" ] && { echo "==== $f"; head -300 "$f"; }
  done
  for f in tmp_check/log/regress_log_*; do
    [ -f "$f" ] && { echo "==== $f (tail)"; tail -60 "$f"; }
  done
fi

# the plain closing line CI reads
regress_total=$(ls sql/*.sql | grep -vc 'pg_tributary--' || true)
tap_total=$(ls t/*.pl 2>/dev/null | wc -l)
if [ $status -eq 0 ]; then
  echo "$((regress_total + tap_total + 1)) passed, 0 failed"
else
  echo "0 passed, 1 failed"
fi
exit $status
