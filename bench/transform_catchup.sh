#!/usr/bin/env bash
# transform_catchup.sh -- what transforms cost in the change stream: the
# apply-only catch-up of a PostgreSQL-source job with two expression
# columns and a filter, against the same job without transforms, measured
# in one run on the same clusters and the same source changes.
#
#   ROWS=1000000 bash bench/transform_catchup.sh   (run as root or with sudo)
#
# Build and install pg_tributary first (make && make install): this script
# does not install anything.  Two throwaway clusters in $BENCH_DIR
# (default /tmp/pg_tributary_xbench), on ports $BENCH_PORT and
# $BENCH_PORT + 1 (default 55451, 55452): a source with one table
# public.bench (id bigint PRIMARY KEY, n int, v text) and a target with
# three full+cdc jobs on it (each empty copy done, so each applies strictly,
# as pg_vs_native.sh's catch-up job does), each into a target table of its
# own:
#   plain   every column by its name                     -> public.t_plain (id, n, v)
#   xform   {"id": "id", "v": "v", "v_up": "upper(v)", "n2": "n * 2"},
#           filter n >= 0 (true for every row)           -> public.t_xform (id, v, v_up, n2)
#   half    the same columns, filter n % 2 = 0 (half)    -> public.t_half
# A round: the jobs are stopped; ROWS rows are inserted on the source in
# TXNS transactions (default 10); then each job alone is started and timed
# until wait_for_sync returns, its target rows are checked, and it is
# stopped again; both clusters are checkpointed before each timed
# catch-up and run without autovacuum, so that no job is timed while the
# writes of another are flushed or vacuumed.  ROUNDS rounds (default 3),
# the jobs' order rotated each round.  Prints, per round and in total:
# source rows, target rows, seconds, rows/s (source rows per second) and
# the job worker's CPU time per row; then ratio transforms/plain (the
# xform job's rate over the plain job's, over all rounds, and per round)
# and the same for the half-filtered job.
#
# Environment: ROWS (1000000), TXNS (10), ROUNDS (3), VARIANTS ("plain
# xform half"; the plain job is always measured), BENCH_DIR, BENCH_PORT.
set -euo pipefail

ROWS=${ROWS:-1000000}
TXNS=${TXNS:-10}
ROUNDS=${ROUNDS:-3}
VARIANTS=${VARIANTS:-plain xform half}
BIN=/usr/lib/postgresql/15/bin
DIR=${BENCH_DIR:-/tmp/pg_tributary_xbench}
BASE=${BENCH_PORT:-55451}
SRC=$BASE; TRB=$((BASE + 1))
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"

case " $VARIANTS " in *" plain "*) ;; *) VARIANTS="plain $VARIANTS" ;; esac
[ $((ROWS % TXNS)) -eq 0 ] || { echo "ROWS ($ROWS) must be a multiple of TXNS ($TXNS)" >&2; exit 2; }
[ -f "$($BIN/pg_config --pkglibdir 2>/dev/null || pg_config --pkglibdir)/pg_tributary.so" ] ||
  { echo "pg_tributary is not installed: make && make install first" >&2; exit 2; }

as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else sudo -u postgres "$@"; fi; }
q() { local port=$1; shift; as_pg $BIN/psql -X -q -At -v ON_ERROR_STOP=1 -h $DIR -p "$port" -d postgres "$@"; }
now() { date +%s.%N; }
rate() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.0f", n / s }'; }
ratio() { awk -v x="$1" -v y="$2" 'BEGIN { printf "%.2f", x / y }'; }
add() { awk -v x="$1" -v y="$2" 'BEGIN { printf "%.6f", x + y }'; }
# pid_cpu_us PID: CPU time (user + system, microseconds) a process has used
pid_cpu_us() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.0f", ($14 + $15) * 1000000 / hz }' /proc/$1/stat; }
wait_sql() {  # port, query returning t when done
  until [ "$(q "$1" -c "$2")" = "t" ]; do sleep 0.05; done
}

cleanup() {
  for c in source trib; do as_pg $BIN/pg_ctl -D $DIR/$c -m immediate stop >/dev/null 2>&1 || true; done
  $SUDO rm -rf $DIR
}
trap cleanup EXIT

cleanup
$SUDO mkdir -p $DIR && $SUDO chown postgres $DIR
for c in source trib; do as_pg $BIN/initdb -D $DIR/$c -A trust >/dev/null; done
common="unix_socket_directories = '$DIR'
listen_addresses = ''
shared_buffers = 1GB
max_wal_size = 8GB
checkpoint_timeout = 30min
# no autovacuum of the tables just written while the next job is timed
autovacuum = off
wal_level = logical
max_replication_slots = 10
max_wal_senders = 10
output_plugin_libraries = 'pgoutput, test_decoding, tributary_decoder'"
echo "$common
port = $SRC" | as_pg tee -a $DIR/source/postgresql.conf >/dev/null
echo "$common
port = $TRB
shared_preload_libraries = 'pg_tributary'" | as_pg tee -a $DIR/trib/postgresql.conf >/dev/null
for c in source trib; do as_pg $BIN/pg_ctl -D $DIR/$c -l $DIR/$c.log -w start >/dev/null; done

q $SRC -c "CREATE TABLE public.bench (id bigint PRIMARY KEY, n int, v text); ALTER TABLE public.bench REPLICA IDENTITY FULL;"
q $TRB -c "CREATE EXTENSION pg_tributary;
           SELECT tributary.create_source('src', 'postgresql', 'host=$DIR port=$SRC dbname=postgres', '{\"heartbeat_interval\": 1}');" >/dev/null

XCOLS='{"id": "id", "v": "v", "v_up": "upper(v)", "n2": "n * 2"}'
declare -A FILTER=([plain]="" [xform]="n >= 0" [half]="n % 2 = 0")
declare -A SECS ROWS_IN ROWS_OUT CPU RSECS
for v in $VARIANTS; do
  [ -n "${FILTER[$v]+x}" ] || { echo "unknown variant $v (plain, xform, half)" >&2; exit 2; }
  if [ "$v" = plain ]; then
    add_sql="SELECT tributary.add_table('$v', 'public.bench', 'public.t_$v')"
  else
    add_sql="SELECT tributary.add_table('$v', 'public.bench', 'public.t_$v', '$XCOLS', '${FILTER[$v]}')"
  fi
  if ! err=$(q $TRB -c "SET client_min_messages = warning" \
                    -c "SELECT tributary.create_job('$v', 'src', 'full+cdc')" -c "$add_sql" 2>&1 >/dev/null); then
    echo "job $v: add_table refused by this build:" >&2
    echo "$err" >&2
    exit 1
  fi
  q $TRB -c "SELECT tributary.start_job('$v')" >/dev/null
  SECS[$v]=0; ROWS_IN[$v]=0; ROWS_OUT[$v]=0; CPU[$v]=0
done
for v in $VARIANTS; do
  [ "$(q $TRB -c "SELECT tributary.wait_for_sync('$v', '5 min')")" = t ] || { echo "job $v did not sync" >&2; exit 1; }
  wait_sql $TRB "SELECT phase = 'streaming' FROM tributary.jobs WHERE job_name = '$v'"
done

echo "pg_tributary transform catch-up bench: $ROWS inserts per round in $TXNS transactions, $ROUNDS rounds, PostgreSQL $(q $SRC -c 'SHOW server_version')"
echo "source public.bench (id bigint PRIMARY KEY, n int, v text), n = id % 1000, v = md5(id)"
echo "  plain: every column by name; xform: columns $XCOLS, filter ${FILTER[xform]}; half: the same columns, filter ${FILTER[half]}"
echo

stop_all() {
  for v in $VARIANTS; do q $TRB -c "SET client_min_messages = warning" -c "SELECT tributary.stop_job('$v')" >/dev/null; done
  wait_sql $TRB "SELECT bool_and(state = 'stopped') FROM tributary.jobs"
  wait_sql $SRC "SELECT count(*) = 0 FROM pg_stat_replication"
}

# expected JOB LO HI: the target rows the job must have among source ids LO..HI
expected() {
  case $1 in
    half) q $SRC -c "SELECT count(*) FROM public.bench WHERE id BETWEEN $2 AND $3 AND n % 2 = 0" ;;
    *) echo $(($3 - $2 + 1)) ;;
  esac
}
# check JOB LO HI: SQL on the target that is t when the job's rows are right
check() {
  case $1 in
    plain) echo "SELECT count(*) = $(expected "$@") FROM public.t_plain WHERE id BETWEEN $2 AND $3" ;;
    *) echo "SELECT count(*) = $(expected "$@") AND bool_and(v_up = upper(v) AND n2 = (id % 1000) * 2)
                FROM public.t_$1 WHERE id BETWEEN $2 AND $3" ;;
  esac
}

stop_all
order=($VARIANTS)
for ((r = 1; r <= ROUNDS; r++)); do
  lo=$(( (r - 1) * ROWS + 1 )); hi=$(( r * ROWS )); per=$((ROWS / TXNS))
  q $SRC -c "DO \$\$ BEGIN FOR i IN 0..$((TXNS - 1)) LOOP
               INSERT INTO public.bench SELECT g, g % 1000, md5(g::text)
                 FROM generate_series($lo + i * $per, $lo + (i + 1) * $per - 1) g; COMMIT; END LOOP; END \$\$;"
  for v in "${order[@]}"; do
    # no checkpoint of an earlier job's writes while this one is timed
    q $SRC -c "CHECKPOINT"; q $TRB -c "CHECKPOINT"
    t0=$(now)
    q $TRB -c "SELECT tributary.start_job('$v')" >/dev/null
    ok=$(q $TRB -c "SELECT tributary.wait_for_sync('$v', '30 min')")
    t1=$(now)
    [ "$ok" = t ] || { echo "job $v: wait_for_sync timed out" >&2; exit 1; }
    cpu=$(pid_cpu_us "$(q $TRB -c "SELECT pid FROM tributary.jobs WHERE job_name = '$v'")")
    q $TRB -c "SELECT tributary.stop_job('$v')" >/dev/null
    wait_sql $TRB "SELECT state = 'stopped' FROM tributary.jobs WHERE job_name = '$v'"
    [ "$(q $TRB -c "$(check $v $lo $hi)")" = t ] || { echo "job $v: wrong target rows after round $r" >&2; exit 1; }
    out=$(expected $v $lo $hi)
    s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.6f", b - a }')
    SECS[$v]=$(add "${SECS[$v]}" "$s"); ROWS_IN[$v]=$((ROWS_IN[$v] + ROWS)); ROWS_OUT[$v]=$((ROWS_OUT[$v] + out))
    CPU[$v]=$((CPU[$v] + cpu))
    RSECS[$r,$v]=$s
    printf 'round %d  %-6s %9d rows -> %9d target rows  %8.3f s  %9s rows/s  worker CPU %.2f us/row\n' \
      "$r" "$v" "$ROWS" "$out" "$s" "$(rate "$ROWS" "$s")" "$(ratio "$cpu" "$ROWS")"
  done
  wait_sql $SRC "SELECT count(*) = 0 FROM pg_stat_replication"
  order=("${order[@]:1}" "${order[0]}")
done

echo
for v in $VARIANTS; do
  printf 'total    %-6s %9d rows -> %9d target rows  %8.3f s  %9s rows/s  worker CPU %.2f us/row\n' \
    "$v" "${ROWS_IN[$v]}" "${ROWS_OUT[$v]}" "${SECS[$v]}" "$(rate "${ROWS_IN[$v]}" "${SECS[$v]}")" \
    "$(ratio "${CPU[$v]}" "${ROWS_IN[$v]}")"
done
# ratio of rates = plain seconds / variant seconds (the same source rows)
per_round() {
  local v=$1 out="" r
  for ((r = 1; r <= ROUNDS; r++)); do out="$out $(ratio "${RSECS[$r,plain]}" "${RSECS[$r,$v]}")"; done
  echo "$out"
}
for v in $VARIANTS; do
  case $v in
    xform) echo "ratio transforms/plain = $(ratio "${SECS[plain]}" "${SECS[$v]}")   (per round:$(per_round $v))" ;;
    half) echo "ratio transforms, half filtered out/plain = $(ratio "${SECS[plain]}" "${SECS[$v]}")   (per round:$(per_round $v))" ;;
  esac
done
echo "(time from start_job until wait_for_sync returns, one job at a time, the same source changes for each; worker CPU: the job worker's user + system time from its start)"
