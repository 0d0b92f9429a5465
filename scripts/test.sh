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

# the tests need room: a 1M-row table and its WAL, logical decoding's
# spill files, a dozen MariaDB data directories; a full disk makes
# mariadbd wait forever, so say so at once instead
need_kb=$((4 * 1024 * 1024))
avail_kb=$(df -Pk /tmp | awk 'NR == 2 { print $4 }')
if [ "${avail_kb:-0}" -lt "$need_kb" ]; then
  df -h /tmp
  echo "test.sh: /tmp has $((avail_kb / 1024)) MB free; the tests need about $((need_kb / 1024)) MB" >&2
  echo "0 passed, 1 failed"
  exit 1
fi

bash scripts/install-deps.sh

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"

make -s clean >/dev/null
make -s -j2
$SUDO make -s install

# Citus, the distributed target t/054 syncs into: built from the source
# archive the project keeps beside its repository (../shared/vendor; a
# few minutes, once per machine)
citus_vendor=""
for d in "$here/../shared/vendor" /work/shared/vendor; do
  if [ -f "$d/build-citus.sh" ]; then citus_vendor=$d; break; fi
done
if [ -n "$citus_vendor" ]; then
  $SUDO bash "$citus_vendor/build-citus.sh" /tmp/pg_tributary_citus_build
else
  echo "test.sh: ../shared/vendor/build-citus.sh not found: t/054 (Citus targets) will fail" >&2
fi

if [ "$(id -u)" -eq 0 ]; then
  work=$(mktemp -d /tmp/pg_tributary_test.XXXXXX)
  cp -a "$here"/. "$work"/
  chown -R postgres:postgres "$work"
  run() { runuser -u postgres -- env PATH="/usr/lib/postgresql/15/bin:$PATH" "$@"; }
  cd "$work"
else
  run() { env PATH="/usr/lib/postgresql/15/bin:$PATH" "$@"; }
fi

# every TAP file has a deadline of its own (t/TestDeadline.pm); the whole
# installcheck has one too, so a hang ends in a failure with logs printed
status=0
run timeout --kill-after=60 1800 make -s installcheck PROVE_FLAGS="--timer" 2>&1 \
  | tee installcheck.out || status=$?

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
  # the failed TAP files (prove's summary), or the one running when the
  # deadline struck: their test log and their servers' logs
  failed=$(sed -n 's|^t/\([^ ]*\)\.pl (Wstat.*|\1|p' installcheck.out | sort -u)
  if [ -z "$failed" ]; then
    last=$(ls -t tmp_check/log/regress_log_* 2>/dev/null | head -1 || true)
    failed=${last#tmp_check/log/regress_log_}
  fi
  for t in $failed; do
    f=tmp_check/log/regress_log_$t
    [ -f "$f" ] && { echo "==== $f (tail)"; tail -80 "$f"; }
    for f in tmp_check/log/${t}_*.log; do
      [ -f "$f" ] && { echo "==== $f (tail)"; tail -30 "$f"; }
    done
  done
  df -h /tmp
fi

# keep the logs (in tmp_check_logs/ of the tree tested), drop the rest of
# the copy: its data directories take gigabytes
if [ -n "${work:-}" ] && [ "$work" != "$here" ]; then
  rm -rf "$here/tmp_check_logs"
  mkdir -p "$here/tmp_check_logs"
  cp -a tmp_check/log/. installcheck.out "$here/tmp_check_logs/" 2>/dev/null || true
  [ -f regression.diffs ] && cp regression.diffs "$here/tmp_check_logs/"
  cd "$here"
  # servers a killed test left running (their command lines name the copy)
  pkill -KILL -f "$work" 2>/dev/null || true
  rm -rf "$work"
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
