#!/usr/bin/env bash
# citus_targets.sh -- what a distributed (Citus) target costs pg_tributary
# (issue 15, speed): the snapshot and the apply-only catch-up of a
# PostgreSQL-source job into a Citus distributed table, against what a user
# would do by hand (psql COPY through the coordinator) and against the same
# job into a plain local table of the coordinator; and the stream's scaling
# with the number of Citus workers.  Every ratio is computed from times
# measured in the same run, on the same clusters and the same source rows.
#
#   ROWS=1000000 bash bench/citus_targets.sh   (run as root or with sudo)
#
# Build and install pg_tributary first (make && make install, with the
# PG_CONFIG of $PG_BIN): this script does not install anything.  Citus must
# be installed in the same PostgreSQL (citus.so in its pkglibdir): if it is
# not, build it with `bash ../shared/vendor/build-citus.sh`.
#
# Throwaway clusters in $BENCH_DIR (default /tmp/pg_tributary_citus_bench),
# ports from $BENCH_PORT (default 55461): the source on BENCH_PORT, the Citus
# coordinator (shared_preload_libraries = 'citus, pg_tributary') on
# BENCH_PORT + 1, WORKERS Citus workers (default 2) on BENCH_PORT + 2 ...
# All run without autovacuum; every cluster is checkpointed before each
# timed measurement.  Source tables public.bench (snapshot) and
# public.stream (catch-up), both (id bigint PRIMARY KEY, n int, v text)
# with REPLICA IDENTITY FULL; rows: n = id % 1000, v = md5(id).
#
# Target tables on the coordinator:
#   dist_copy   distributed on id, shards on all WORKERS workers (psql COPY)
#   dist_snap   distributed on id, shards on all workers (snapshot job)
#   local_snap  a plain table of the coordinator (snapshot job)
#   cu_dist     distributed on id, shards on all workers (catch-up job)
#   cu_dist1    distributed on id, every shard on worker 1 (catch-up job):
#               created (colocate_with => 'none') while worker 1 was the
#               only worker; the other workers are added after it, and the
#               tables that follow are created with colocate_with => 'none'
#               too, so their shards spread over every worker.  The shard
#               placements of each table are printed.
#   cu_local    a plain table of the coordinator (catch-up job)
# Distributed tables have Citus's default shard count (32).
#
# A round:
#  1. snapshot of the ROWS rows of public.bench (the targets emptied
#     first, outside the timing):
#     a. psql COPY through the coordinator, timed from start to end of
#          psql source -c "COPY public.bench TO STDOUT" |
#            psql coordinator -c "COPY public.dist_copy FROM STDIN"
#     b. a `full` job (mode full: copies once, then finished; options
#        default: snapshot_chunk_rows 100000, parallelism.default 1) into
#        dist_snap, timed from start_job until wait_for_sync returns (the
#        job is created and its table added before the timing; the job is
#        dropped and created again each round);
#     c. the same job into local_snap.
#     The three in rotated order each round.
#  2. catch-up: three full+cdc jobs on public.stream (each empty copy done,
#     so each applies strictly), into cu_dist, cu_local and cu_dist1, are
#     stopped; ROWS rows are inserted on the source in TXNS transactions;
#     then each job alone is started and timed until wait_for_sync returns,
#     its target rows checked, and it is stopped again (rotated order).
# After each measurement the target is checked against the source over the
# round's ids: count(*), sum(id), sum(n), sum(hashtext(v)) must be equal
# (read through the coordinator); a distributed target's own coordinator
# heap must stay empty.  Any difference stops the bench (exit 1).
#
# Prints per round and in total: rows, seconds, rows/s (source rows per
# second), the CPU time per row of the Citus workers' clusters (all their
# processes, user + system, during the timed interval) and, for the
# catch-up, of the job
# worker (from its start: its start-up is in it); then
# the ratios (of rates, i.e. the inverse ratio of the times; > 1 means the
# first is faster):
#   snapshot  job-distributed / psql-COPY-distributed
#   snapshot  job-distributed / job-local
#   catch-up  distributed / local
#   catch-up  distributed on WORKERS workers / distributed on 1 worker
#
# Environment: ROWS (1000000), TXNS (10), ROUNDS (1), WORKERS (2),
# PG_BIN (/usr/lib/postgresql/15/bin), BENCH_DIR, BENCH_PORT,
# SHARED_BUFFERS (512MB, each cluster).
set -euo pipefail

ROWS=${ROWS:-1000000}
TXNS=${TXNS:-10}
ROUNDS=${ROUNDS:-1}
WORKERS=${WORKERS:-2}
BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
DIR=${BENCH_DIR:-/tmp/pg_tributary_citus_bench}
BASE=${BENCH_PORT:-55461}
SB=${SHARED_BUFFERS:-512MB}
SRC=$BASE; CRD=$((BASE + 1))
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"

[ $((ROWS % TXNS)) -eq 0 ] || { echo "ROWS ($ROWS) must be a multiple of TXNS ($TXNS)" >&2; exit 2; }
[ "$WORKERS" -ge 1 ] || { echo "WORKERS must be at least 1" >&2; exit 2; }
[ -x "$BIN/pg_config" ] || { echo "no pg_config in PG_BIN ($BIN)" >&2; exit 2; }
LIBDIR=$("$BIN/pg_config" --pkglibdir)
[ -f "$LIBDIR/pg_tributary.so" ] ||
  { echo "pg_tributary is not installed in $LIBDIR: make && make install (PG_CONFIG=$BIN/pg_config) first" >&2; exit 2; }
[ -f "$LIBDIR/citus.so" ] ||
  { echo "Citus is not installed in $LIBDIR (no citus.so): build it with bash ../shared/vendor/build-citus.sh" >&2; exit 2; }

as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else sudo -u postgres "$@"; fi; }
q() { local port=$1; shift; as_pg "$BIN/psql" -X -q -At -v ON_ERROR_STOP=1 -h "$DIR" -p "$port" -d postgres "$@"; }
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.6f", b - a }'; }
rate() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.0f", n / s }'; }
ratio() { awk -v x="$1" -v y="$2" 'BEGIN { printf "%.2f", x / y }'; }
add() { awk -v x="$1" -v y="$2" 'BEGIN { printf "%.6f", x + y }'; }
# pid_cpu_us PID: CPU time (user + system, microseconds) a process has used
pid_cpu_us() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.0f", ($14 + $15) * 1000000 / hz }' /proc/$1/stat; }
# workers_cpu: CPU time (user + system, microseconds) the Citus workers'
# clusters have used: each postmaster's own and its exited children's
# (cutime, cstime: the postmaster waits for every child), plus its live
# children's; a difference of two readings is the time used in between
workers_cpu() {
  local w pm c t=0 hz
  hz=$(getconf CLK_TCK)
  for ((w = 1; w <= WORKERS; w++)); do
    pm=$($SUDO head -1 "$DIR/worker$w/postmaster.pid")
    t=$((t + $(awk -v hz="$hz" '{ printf "%.0f", ($14 + $15 + $16 + $17) * 1000000 / hz }' /proc/$pm/stat)))
    for c in $(ps -o pid= --ppid "$pm"); do
      t=$((t + $(pid_cpu_us "$c" 2>/dev/null || echo 0)))
    done
  done
  echo $t
}
wait_sql() {  # port, query returning t when done
  until [ "$(q "$1" -c "$2")" = "t" ]; do sleep 0.05; done
}

CLUSTERS="source coord"
WPORTS=()
for ((w = 1; w <= WORKERS; w++)); do CLUSTERS="$CLUSTERS worker$w"; WPORTS+=($((BASE + 1 + w))); done
PORTS="$SRC $CRD ${WPORTS[*]}"

cleanup() {
  for c in $CLUSTERS; do
    [ -d "$DIR/$c" ] && as_pg "$BIN/pg_ctl" -D "$DIR/$c" -m immediate stop >/dev/null 2>&1 || true
  done
  $SUDO rm -rf "$DIR"
}
trap cleanup EXIT

cleanup
$SUDO mkdir -p "$DIR" && $SUDO chown postgres "$DIR"
for c in $CLUSTERS; do as_pg "$BIN/initdb" -D "$DIR/$c" -A trust >/dev/null; done
common="unix_socket_directories = '$DIR'
listen_addresses = ''
shared_buffers = $SB
max_wal_size = 8GB
checkpoint_timeout = 30min
# no autovacuum of the tables just written while the next one is timed
autovacuum = off"
echo "$common
port = $SRC
wal_level = logical
max_replication_slots = 10
max_wal_senders = 10
output_plugin_libraries = 'pgoutput, test_decoding, tributary_decoder'" | as_pg tee -a "$DIR/source/postgresql.conf" >/dev/null
citus_conf="max_worker_processes = 20
max_prepared_transactions = 100"
echo "$common
$citus_conf
port = $CRD
shared_preload_libraries = 'citus, pg_tributary'" | as_pg tee -a "$DIR/coord/postgresql.conf" >/dev/null
for ((w = 1; w <= WORKERS; w++)); do
  echo "$common
$citus_conf
port = ${WPORTS[$((w - 1))]}
shared_preload_libraries = 'citus'" | as_pg tee -a "$DIR/worker$w/postgresql.conf" >/dev/null
done
for c in $CLUSTERS; do as_pg "$BIN/pg_ctl" -D "$DIR/$c" -l "$DIR/$c.log" -w start >/dev/null; done

checkpoint_all() { for p in $PORTS; do q "$p" -c "CHECKPOINT"; done; }

TABLE="(id bigint PRIMARY KEY, n int, v text)"
q $SRC -c "CREATE TABLE public.bench $TABLE; ALTER TABLE public.bench REPLICA IDENTITY FULL;
           CREATE TABLE public.stream $TABLE; ALTER TABLE public.stream REPLICA IDENTITY FULL;"
q $SRC -c "INSERT INTO public.bench SELECT g, g % 1000, md5(g::text) FROM generate_series(1, $ROWS) g"
q $SRC -c "VACUUM ANALYZE public.bench"
for ((w = 1; w <= WORKERS; w++)); do q "${WPORTS[$((w - 1))]}" -c "CREATE EXTENSION citus"; done
q $CRD -c "SET client_min_messages = warning; CREATE EXTENSION citus; CREATE EXTENSION pg_tributary;"
q $CRD -c "SELECT citus_set_coordinator_host('$DIR', $CRD)" >/dev/null
# worker 1 alone first: cu_dist1's shards all go to it
q $CRD -c "SELECT citus_add_node('$DIR', ${WPORTS[0]})" >/dev/null
q $CRD -c "CREATE TABLE public.cu_dist1 $TABLE; SELECT create_distributed_table('public.cu_dist1', 'id', colocate_with => 'none');" >/dev/null
for ((w = 2; w <= WORKERS; w++)); do q $CRD -c "SELECT citus_add_node('$DIR', ${WPORTS[$((w - 1))]})" >/dev/null; done
[ "$(q $CRD -c "SELECT count(*) FROM citus_get_active_worker_nodes()")" = "$WORKERS" ] ||
  { echo "the coordinator does not have $WORKERS active workers" >&2; exit 1; }
for t in dist_copy dist_snap cu_dist; do
  q $CRD -c "CREATE TABLE public.$t $TABLE; SELECT create_distributed_table('public.$t', 'id', colocate_with => 'none');" >/dev/null
done
for t in local_snap cu_local; do q $CRD -c "CREATE TABLE public.$t $TABLE"; done
q $CRD -c "SELECT tributary.create_source('src', 'postgresql', 'host=$DIR port=$SRC dbname=postgres', '{\"heartbeat_interval\": 1}')" >/dev/null

nodes_of() {  # distributed table: number of worker nodes holding its shards
  q $CRD -c "SELECT count(DISTINCT nodeport) FROM citus_shards WHERE table_name = 'public.$1'::regclass"
}
for t in dist_copy dist_snap cu_dist; do
  [ "$(nodes_of $t)" = "$WORKERS" ] || { echo "$t: shards are not on all $WORKERS workers" >&2; exit 1; }
done
[ "$(nodes_of cu_dist1)" = 1 ] || { echo "cu_dist1: shards are not on one worker" >&2; exit 1; }

# sums TABLE PORT LO HI: the checksum of the rows with ids LO..HI
sums() {
  q "$2" -c "SELECT count(*) || ' ' || coalesce(sum(id), 0) || ' ' || coalesce(sum(n), 0) || ' ' || coalesce(sum(hashtext(v)::bigint), 0)
             FROM public.$1 WHERE id BETWEEN $3 AND $4"
}
# verify WHAT SOURCE-TABLE TARGET-TABLE LO HI: fail unless the target equals the source over LO..HI
verify() {
  local what=$1 s t
  s=$(sums "$2" $SRC "$4" "$5"); t=$(sums "$3" $CRD "$4" "$5")
  if [ "$s" != "$t" ]; then
    echo "$what: WRONG target rows in public.$3 (ids $4..$5): count sum(id) sum(n) sum(hashtext(v)) source '$s', target '$t'" >&2
    exit 1
  fi
  case $3 in
    *dist*|*copy*)
      [ "$(q $CRD -c "SELECT pg_relation_size('public.$3')")" = 0 ] ||
        { echo "$what: the coordinator's own heap of the distributed table public.$3 is not empty" >&2; exit 1; } ;;
  esac
}

jobq() { q $CRD -c "SET client_min_messages = warning" -c "$1"; }
fail_job() {
  echo "job $1: $2" >&2
  q $CRD -c "SELECT state, phase, last_error FROM tributary.jobs WHERE job_name = '$1'" >&2 || true
  q $CRD -c "SELECT sqlstate || ' ' || message FROM tributary.errors WHERE job_name = '$1'" >&2 || true
  exit 1
}

# --- catch-up jobs: full+cdc on the empty public.stream, streaming, then stopped
CU_VARIANTS="dist local"; [ "$WORKERS" -ge 2 ] && CU_VARIANTS="dist local dist1"
for v in $CU_VARIANTS; do
  jobq "SELECT tributary.create_job('cu_$v', 'src', 'full+cdc')" >/dev/null
  jobq "SELECT tributary.add_table('cu_$v', 'public.stream', 'public.cu_$v')" >/dev/null
  jobq "SELECT tributary.start_job('cu_$v')" >/dev/null
done
for v in $CU_VARIANTS; do
  [ "$(jobq "SELECT tributary.wait_for_sync('cu_$v', '5 min')")" = t ] || fail_job "cu_$v" "did not sync"
  wait_sql $CRD "SELECT phase = 'streaming' FROM tributary.jobs WHERE job_name = 'cu_$v'"
  jobq "SELECT tributary.stop_job('cu_$v')" >/dev/null
done
wait_sql $CRD "SELECT bool_and(state = 'stopped') FROM tributary.jobs"
wait_sql $SRC "SELECT count(*) = 0 FROM pg_stat_replication"

echo "pg_tributary Citus targets bench: $ROWS rows, catch-up in $TXNS transactions, $ROUNDS round(s), $WORKERS Citus workers,"
echo "PostgreSQL $(q $SRC -c 'SHOW server_version'), Citus $(q $CRD -c "SELECT extversion FROM pg_extension WHERE extname = 'citus'"), pg_tributary $(q $CRD -c "SELECT extversion FROM pg_extension WHERE extname = 'pg_tributary'") from $LIBDIR"
echo "source (id bigint PRIMARY KEY, n int, v text), n = id % 1000, v = md5(id); distributed tables on id, $(q $CRD -c "SELECT count(*) FROM citus_shards WHERE table_name = 'public.cu_dist'::regclass") shards each"
for t in dist_copy dist_snap cu_dist cu_dist1; do
  echo "  $t: shards on $(nodes_of $t) worker(s)"
done
echo "write paths: $(q $CRD -c "SELECT string_agg(job_name || ' -> ' || target_table || ': ' || write_path, '; ' ORDER BY job_name) FROM tributary.tables")"
echo

declare -A SECS CPU WCPU RSECS
SNAP_VARIANTS="copy job_dist job_local"
for v in $SNAP_VARIANTS $CU_VARIANTS; do SECS[$v]=0; CPU[$v]=0; WCPU[$v]=0; done
declare -A SNAP_TARGET=([copy]=dist_copy [job_dist]=dist_snap [job_local]=local_snap)

# report ROUND-LABEL VARIANT ROWS SECONDS WORKERS-CPU-US [JOB-CPU-US]
report() {
  printf '%-8s %-24s %8d rows %9.3f s %8s rows/s  Citus workers CPU %6.2f us/row' "$1" "$2" "$3" "$4" "$(rate "$3" "$4")" "$(ratio "$5" "$3")"
  if [ -n "${6:-}" ]; then printf '  job worker CPU %6.2f us/row' "$(ratio "$6" "$3")"; fi
  echo
}
declare -A LABEL=([copy]="snapshot psql COPY dist" [job_dist]="snapshot job dist" [job_local]="snapshot job local"
                  [dist]="catch-up dist ($WORKERS w)" [local]="catch-up local" [dist1]="catch-up dist (1 w)")

snap_order=($SNAP_VARIANTS)
cu_order=($CU_VARIANTS)
for ((r = 1; r <= ROUNDS; r++)); do
  # --- 1. snapshot
  for v in "${snap_order[@]}"; do
    t=${SNAP_TARGET[$v]}
    q $CRD -c "TRUNCATE public.$t"
    if [ "$v" != copy ]; then
      jobq "SELECT tributary.drop_job(job_name) FROM tributary.jobs WHERE job_name = 'snap_$v'" >/dev/null
      jobq "SELECT tributary.create_job('snap_$v', 'src', 'full')" >/dev/null
      jobq "SELECT tributary.add_table('snap_$v', 'public.bench', 'public.$t')" >/dev/null
    fi
    checkpoint_all
    w0=$(workers_cpu)
    t0=$(now)
    if [ "$v" = copy ]; then
      q $SRC -c "COPY public.bench TO STDOUT" | q $CRD -c "COPY public.dist_copy FROM STDIN"
    else
      jobq "SELECT tributary.start_job('snap_$v')" >/dev/null
      ok=$(jobq "SELECT tributary.wait_for_sync('snap_$v', '60 min')") || fail_job "snap_$v" "wait_for_sync failed"
      [ "$ok" = t ] || fail_job "snap_$v" "wait_for_sync timed out"
    fi
    t1=$(now)
    wcpu=$(($(workers_cpu) - w0))
    s=$(secs "$t0" "$t1")
    verify "round $r ${LABEL[$v]}" bench "$t" 1 "$ROWS"
    SECS[$v]=$(add "${SECS[$v]}" "$s"); WCPU[$v]=$((WCPU[$v] + wcpu)); RSECS[$r,$v]=$s
    report "round $r" "${LABEL[$v]}" "$ROWS" "$s" "$wcpu"
  done
  snap_order=("${snap_order[@]:1}" "${snap_order[0]}")

  # --- 2. catch-up
  lo=$(( (r - 1) * ROWS + 1 )); hi=$(( r * ROWS )); per=$((ROWS / TXNS))
  q $SRC -c "DO \$\$ BEGIN FOR i IN 0..$((TXNS - 1)) LOOP
               INSERT INTO public.stream SELECT g, g % 1000, md5(g::text)
                 FROM generate_series($lo + i * $per, $lo + (i + 1) * $per - 1) g; COMMIT; END LOOP; END \$\$;"
  for v in "${cu_order[@]}"; do
    checkpoint_all
    w0=$(workers_cpu)
    t0=$(now)
    jobq "SELECT tributary.start_job('cu_$v')" >/dev/null
    ok=$(jobq "SELECT tributary.wait_for_sync('cu_$v', '60 min')") || fail_job "cu_$v" "wait_for_sync failed"
    t1=$(now)
    wcpu=$(($(workers_cpu) - w0))
    [ "$ok" = t ] || fail_job "cu_$v" "wait_for_sync timed out"
    cpu=$(pid_cpu_us "$(q $CRD -c "SELECT pid FROM tributary.jobs WHERE job_name = 'cu_$v'")")
    jobq "SELECT tributary.stop_job('cu_$v')" >/dev/null
    wait_sql $CRD "SELECT state = 'stopped' FROM tributary.jobs WHERE job_name = 'cu_$v'"
    s=$(secs "$t0" "$t1")
    verify "round $r ${LABEL[$v]}" stream "cu_$v" "$lo" "$hi"
    [ "$(sums "cu_$v" $CRD 1 "$hi")" = "$(sums stream $SRC 1 "$hi")" ] ||
      { echo "round $r ${LABEL[$v]}: public.cu_$v differs from the source over all rounds" >&2; exit 1; }
    SECS[$v]=$(add "${SECS[$v]}" "$s"); CPU[$v]=$((CPU[$v] + cpu)); WCPU[$v]=$((WCPU[$v] + wcpu)); RSECS[$r,$v]=$s
    report "round $r" "${LABEL[$v]}" "$ROWS" "$s" "$wcpu" "$cpu"
  done
  wait_sql $SRC "SELECT count(*) = 0 FROM pg_stat_replication"
  cu_order=("${cu_order[@]:1}" "${cu_order[0]}")
done

echo
TOTAL=$((ROWS * ROUNDS))
for v in $SNAP_VARIANTS; do report total "${LABEL[$v]}" "$TOTAL" "${SECS[$v]}" "${WCPU[$v]}"; done
for v in $CU_VARIANTS; do report total "${LABEL[$v]}" "$TOTAL" "${SECS[$v]}" "${WCPU[$v]}" "${CPU[$v]}"; done
# ratio of rates of A over B = seconds of B / seconds of A (the same rows)
per_round() {
  local a=$1 b=$2 out="" r
  for ((r = 1; r <= ROUNDS; r++)); do out="$out $(ratio "${RSECS[$r,$b]}" "${RSECS[$r,$a]}")"; done
  echo "$out"
}
show_ratio() {  # label A B
  printf '%-52s = %s   (per round:%s)\n' "$1" "$(ratio "${SECS[$3]}" "${SECS[$2]}")" "$(per_round "$2" "$3")"
}
echo
show_ratio "ratio snapshot job-distributed / psql-COPY-distributed" job_dist copy
show_ratio "ratio snapshot job-distributed / job-local" job_dist job_local
show_ratio "ratio catch-up distributed / local" dist local
[ "$WORKERS" -ge 2 ] && show_ratio "ratio catch-up distributed $WORKERS workers / 1 worker" dist dist1
echo "(ratios of rates: > 1 means the first is faster.  Snapshot: psql COPY timed from start to end of the pipe, a job from
 start_job until wait_for_sync returns.  Catch-up: from start_job until wait_for_sync returns, one job at a time, the same
 source changes for each.  Citus workers CPU: user + system time of all the worker clusters' processes during the timed
 interval.  Job worker CPU (catch-up): the job worker's time from its start)"
