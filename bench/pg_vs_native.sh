#!/usr/bin/env bash
# pg_vs_native.sh -- pg_tributary against PostgreSQL's native logical
# replication, measured in one run on the same machine and clusters.
#
#   bash bench/pg_vs_native.sh [rows]        (default 1000000; run as root or with sudo)
#
# Three throwaway clusters in /tmp/pg_tributary_bench: a source, a target
# for a native subscription and a target for pg_tributary.  Each
# measurement runs one side at a time.  Data: rows of (bigint, int,
# text(40), timestamptz, numeric).
#   1. initial copy of the table (native: CREATE SUBSCRIPTION until the
#      table is ready; pg_tributary: a full job until it finished), then
#      pg_tributary again with parallelism.default = 2
#   2. apply-only catch-up: the changes are made while the subscriber/job is
#      stopped, then it is started and timed until it has applied them all:
#        a. inserts of `rows` rows in 10 transactions
#        b. updates of rows/5 rows in 100-row transactions
#        c. rows/10 single-row insert transactions
#   3. end-to-end lag under a steady load of LAG_RATE (2000) single-row
#      transactions/s for LAG_SECONDS (20) s from pgbench, measured per row
#      (a target column default stamps its arrival): p50, p99, max
# Prints rows/s for both and the ratio pg_tributary / native.
set -euo pipefail

ROWS=${1:-1000000}
here=$(cd "$(dirname "$0")/.." && pwd)
BIN=/usr/lib/postgresql/15/bin
DIR=/tmp/pg_tributary_bench
SRC=55431; NAT=55432; TRB=55433
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"

as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else sudo -u postgres "$@"; fi; }
q() { local port=$1; shift; as_pg $BIN/psql -X -q -At -h $DIR -p "$port" -d postgres "$@"; }
now() { date +%s.%N; }
rate() { awk -v n="$1" -v a="$2" -v b="$3" 'BEGIN { printf "%.0f", n / (b - a) }'; }
ratio() { awk -v x="$1" -v y="$2" 'BEGIN { printf "%.2f", x / y }'; }
# pid_cpu_us PID: CPU time (user + system, microseconds) a process has used
pid_cpu_us() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.0f", ($14 + $15) * 1000000 / hz }' /proc/$1/stat; }
wait_sql() {  # port, query returning t when done
  until [ "$(q "$1" -c "$2")" = "t" ]; do sleep 0.05; done
}

cleanup() {
  for c in source native trib; do as_pg $BIN/pg_ctl -D $DIR/$c -m immediate stop >/dev/null 2>&1 || true; done
  $SUDO rm -rf $DIR
}
trap cleanup EXIT

(cd "$here" && make -s -j2 >/dev/null 2>&1 && $SUDO make -s install >/dev/null)
cleanup
$SUDO mkdir -p $DIR && $SUDO chown postgres $DIR
for c in source native trib; do as_pg $BIN/initdb -D $DIR/$c -A trust >/dev/null; done
common="unix_socket_directories = '$DIR'
listen_addresses = ''
shared_buffers = 1GB
max_wal_size = 8GB
checkpoint_timeout = 30min
wal_level = logical
max_replication_slots = 10
max_wal_senders = 10
# the native launcher restarts a re-enabled subscription after this; keep it from skewing the timing
wal_retrieve_retry_interval = 100ms
output_plugin_libraries = 'pgoutput, test_decoding, tributary_decoder'"
echo "$common
port = $SRC" | as_pg tee -a $DIR/source/postgresql.conf >/dev/null
echo "$common
port = $NAT" | as_pg tee -a $DIR/native/postgresql.conf >/dev/null
echo "$common
port = $TRB
shared_preload_libraries = 'pg_tributary'" | as_pg tee -a $DIR/trib/postgresql.conf >/dev/null
for c in source native trib; do as_pg $BIN/pg_ctl -D $DIR/$c -l $DIR/$c.log -w start >/dev/null; done

TABLE="(id bigint PRIMARY KEY, n int, t text, ts timestamptz, v numeric)"
q $SRC -c "SET client_min_messages = warning; CREATE TABLE public.bench $TABLE; ALTER TABLE public.bench REPLICA IDENTITY FULL;
           CREATE TABLE public.stream $TABLE; ALTER TABLE public.stream REPLICA IDENTITY FULL;
           CREATE PUBLICATION bench_pub FOR TABLE public.bench; CREATE PUBLICATION stream_pub FOR TABLE public.stream;"
q $SRC -c "INSERT INTO public.bench SELECT g, g % 100000, md5(g::text) || repeat('x', 8), now() - g * interval '1 s', g * 1.01
           FROM generate_series(1, $ROWS) g;"
q $SRC -c "VACUUM ANALYZE public.bench"
q $NAT -c "CREATE TABLE public.bench $TABLE; CREATE TABLE public.stream $TABLE;"
q $TRB -c "CREATE EXTENSION pg_tributary;
           SELECT tributary.create_source('src', 'postgresql', 'host=$DIR port=$SRC dbname=postgres', '{\"heartbeat_interval\": 1}');" >/dev/null
echo "pg_tributary bench: $ROWS rows of (bigint, int, text(40), timestamptz, numeric), PostgreSQL $(q $SRC -c 'SHOW server_version')"
echo

# --- 1. initial copy
t0=$(now)
q $NAT -c "SET client_min_messages = warning" -c "CREATE SUBSCRIPTION bench_sub CONNECTION 'host=$DIR port=$SRC dbname=postgres' PUBLICATION bench_pub"
wait_sql $NAT "SELECT count(*) = 1 FROM pg_subscription_rel WHERE srsubstate = 'r'"
t1=$(now)
native_copy=$(rate "$ROWS" "$t0" "$t1")
q $NAT -c "SET client_min_messages = warning" -c "DROP SUBSCRIPTION bench_sub"

# trib_copy OPTIONS: rows/s of a full job copying public.bench
trib_copy() {
  local t0 t1
  q $TRB -c "SELECT tributary.drop_job(job_name) FROM tributary.jobs WHERE job_name = 'copy'" >/dev/null
  t0=$(now)
  q $TRB -c "SELECT tributary.create_job('copy', 'src', 'full', '$1');
             SELECT tributary.add_table('copy', 'public.bench');" >/dev/null 2>&1
  q $TRB -c "SELECT tributary.start_job('copy')" >/dev/null
  q $TRB -c "SELECT tributary.wait_for_sync('copy', '30 min')" >/dev/null
  t1=$(now)
  [ "$(q $TRB -c 'SELECT count(*) FROM public.bench')" = "$ROWS" ] || { echo "pg_tributary copied the wrong number of rows" >&2; exit 1; }
  rate "$ROWS" "$t0" "$t1"
}
trib_copy=$(trib_copy '{"snapshot_chunk_rows": 200000}')
printf '%-44s native %9s rows/s   pg_tributary %9s rows/s   ratio %s\n' "initial copy ($ROWS rows)" "$native_copy" "$trib_copy" "$(ratio "$trib_copy" "$native_copy")"
# the same copy with parallelism.default = 2 (a helper reads chunks alongside the worker)
trib_copy2=$(trib_copy '{"snapshot_chunk_rows": 200000, "parallelism.default": 2}')
printf '%-44s native %9s rows/s   pg_tributary %9s rows/s   ratio %s\n' "initial copy, parallelism.default = 2" "$native_copy" "$trib_copy2" "$(ratio "$trib_copy2" "$native_copy")"

# --- 2. apply-only catch-up on table public.stream
q $NAT -c "SET client_min_messages = warning" -c "CREATE SUBSCRIPTION stream_sub CONNECTION 'host=$DIR port=$SRC dbname=postgres' PUBLICATION stream_pub WITH (copy_data = false)"
wait_sql $NAT "SELECT count(*) = 1 FROM pg_subscription_rel WHERE srsubstate = 'r'"
# a full+cdc job on the empty table: after its (empty) copy it applies strictly, as native does
q $TRB -c "SELECT tributary.create_job('cdc', 'src', 'full+cdc');
           SELECT tributary.add_table('cdc', 'public.stream');
           SELECT tributary.start_job('cdc');" >/dev/null 2>&1
wait_sql $TRB "SELECT phase = 'streaming' FROM tributary.jobs WHERE job_name = 'cdc'"

# catchup NAME CHANGES SQL-ON-SOURCE CHECK-SQL: stop both, change, time each alone
catchup() {
  local name=$1 changes=$2 sql=$3 check=$4
  q $NAT -c "ALTER SUBSCRIPTION stream_sub DISABLE"
  q $TRB -c "SELECT tributary.stop_job('cdc')" >/dev/null
  wait_sql $TRB "SELECT state = 'stopped' FROM tributary.jobs WHERE job_name = 'cdc'"
  wait_sql $SRC "SELECT count(*) = 0 FROM pg_stat_replication"
  q $SRC -c "$sql"
  local t0 t1 n t
  t0=$(now); q $NAT -c "ALTER SUBSCRIPTION stream_sub ENABLE"; wait_sql $NAT "$check"; t1=$(now)
  n=$(rate "$changes" "$t0" "$t1")
  ncpu=$(pid_cpu_us "$(q $NAT -c "SELECT pid FROM pg_stat_subscription WHERE subname = 'stream_sub' AND relid IS NULL")")
  t0=$(now); q $TRB -c "SELECT tributary.start_job('cdc')" >/dev/null; wait_sql $TRB "$check"; t1=$(now)
  t=$(rate "$changes" "$t0" "$t1")
  tcpu=$(pid_cpu_us "$(q $TRB -c "SELECT pid FROM tributary.jobs WHERE job_name = 'cdc'")")
  printf '%-44s native %9s changes/s pg_tributary %9s changes/s ratio %s\n' "$name" "$n" "$t" "$(ratio "$t" "$n")"
  printf '%-44s worker CPU per change: native %.2f us, pg_tributary %.2f us\n' "" "$(ratio "$ncpu" "$changes")" "$(ratio "$tcpu" "$changes")"
}

INS=$ROWS; PER=$((ROWS / 10))
catchup "catch-up: $INS inserts in 10 transactions" "$INS" \
  "DO \$\$ BEGIN FOR i IN 0..9 LOOP
     INSERT INTO public.stream SELECT g, g % 1000, md5(g::text) || repeat('x', 8), now(), g * 1.01
       FROM generate_series(i * $PER + 1, (i + 1) * $PER) g; COMMIT; END LOOP; END \$\$;" \
  "SELECT count(*) = $INS FROM public.stream"

UPD=$((ROWS / 5))
catchup "catch-up: $UPD updates in 100-row transactions" "$UPD" \
  "DO \$\$ BEGIN FOR i IN 0..$((UPD / 100 - 1)) LOOP
     UPDATE public.stream SET n = -1 WHERE id > i * 100 AND id <= (i + 1) * 100; COMMIT; END LOOP; END \$\$;" \
  "SELECT count(*) = $UPD FROM public.stream WHERE n = -1"

ONE=$((ROWS / 10))
catchup "catch-up: $ONE single-row transactions" "$ONE" \
  "DO \$\$ BEGIN FOR i IN 1..$ONE LOOP
     INSERT INTO public.stream VALUES ($((ROWS * 10)) + i, i, 'one', now(), i); COMMIT; END LOOP; END \$\$;" \
  "SELECT count(*) = $ONE FROM public.stream WHERE id > $((ROWS * 10))"

# --- 3. end-to-end lag under a steady load of single-row transactions
RATE=${LAG_RATE:-2000}; SECS=${LAG_SECONDS:-20}
# only the measured consumers run: drop the catch-up ones (and their slots)
q $NAT -c "SET client_min_messages = warning" -c "DROP SUBSCRIPTION stream_sub"
q $TRB -c "SELECT tributary.drop_job('cdc'); SELECT tributary.drop_job('copy');" >/dev/null
q $SRC -c "SET client_min_messages = warning;
           CREATE TABLE public.lag_n (id bigserial PRIMARY KEY, ts timestamptz); ALTER TABLE public.lag_n REPLICA IDENTITY FULL;
           CREATE TABLE public.lag_t (id bigserial PRIMARY KEY, ts timestamptz); ALTER TABLE public.lag_t REPLICA IDENTITY FULL;
           CREATE PUBLICATION lag_pub FOR TABLE public.lag_n;"
# the targets stamp each row's arrival with a column default
q $NAT -c "CREATE TABLE public.lag_n (id bigint PRIMARY KEY, ts timestamptz, arrived timestamptz DEFAULT clock_timestamp())"
q $TRB -c "CREATE TABLE public.lag_t (id bigint PRIMARY KEY, ts timestamptz, arrived timestamptz DEFAULT clock_timestamp())"
q $NAT -c "SET client_min_messages = warning" -c "CREATE SUBSCRIPTION lag_sub CONNECTION 'host=$DIR port=$SRC dbname=postgres' PUBLICATION lag_pub"
wait_sql $NAT "SELECT bool_and(srsubstate = 'r') FROM pg_subscription_rel r JOIN pg_subscription s ON s.oid = r.srsubid WHERE s.subname = 'lag_sub'"
q $TRB -c "SELECT tributary.create_job('lag', 'src', 'full+cdc');
           SELECT tributary.add_table('lag', 'public.lag_t');
           SELECT tributary.start_job('lag');" >/dev/null 2>&1
wait_sql $TRB "SELECT phase = 'streaming' FROM tributary.jobs WHERE job_name = 'lag'"
lag() {  # port, table: p50 / p99 / max lag in ms, rows/s
  q "$1" -c "SELECT format('p50 %s ms, p99 %s ms, max %s ms over %s rows',
               round(percentile_cont(0.5) WITHIN GROUP (ORDER BY l)::numeric, 1),
               round(percentile_cont(0.99) WITHIN GROUP (ORDER BY l)::numeric, 1),
               round(max(l)::numeric, 1), count(*))
             FROM (SELECT extract(epoch FROM arrived - ts) * 1000 AS l FROM public.$2) x"
}
echo "INSERT INTO public.lag_n (ts) VALUES (clock_timestamp());" | as_pg tee $DIR/lag_n.sql >/dev/null
echo "INSERT INTO public.lag_t (ts) VALUES (clock_timestamp());" | as_pg tee $DIR/lag_t.sql >/dev/null
# native alone (the job stopped), then pg_tributary alone (the subscription disabled)
q $TRB -c "SELECT tributary.stop_job('lag')" >/dev/null
as_pg $BIN/pgbench -n -h $DIR -p $SRC -c 4 -j 2 -R "$RATE" -T "$SECS" -f $DIR/lag_n.sql postgres >/dev/null 2>&1
n=$(q $SRC -c "SELECT count(*) FROM public.lag_n")
wait_sql $NAT "SELECT count(*) = $n FROM public.lag_n"
q $NAT -c "ALTER SUBSCRIPTION lag_sub DISABLE"
q $TRB -c "SELECT tributary.start_job('lag')" >/dev/null
# past what the source wrote while the job was stopped (the native run)
q $TRB -c "SELECT tributary.wait_for_sync('lag', '10 min')" >/dev/null
as_pg $BIN/pgbench -n -h $DIR -p $SRC -c 4 -j 2 -R "$RATE" -T "$SECS" -f $DIR/lag_t.sql postgres >/dev/null 2>&1
n=$(q $SRC -c "SELECT count(*) FROM public.lag_t")
wait_sql $TRB "SELECT count(*) = $n FROM public.lag_t"
printf '%-44s native: %s\n' "lag at $RATE single-row transactions/s (${SECS}s)" "$(lag $NAT lag_n)"
printf '%-44s pg_tributary: %s\n' "" "$(lag $TRB lag_t)"

echo
echo "same source, same machine, one side at a time; native = CREATE SUBSCRIPTION (pgoutput, PostgreSQL 15 apply worker)"

