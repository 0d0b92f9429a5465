#!/usr/bin/env bash
# chaos.sh -- N random faults under a steady mixed workload, for both source
# kinds at once, with the target compared to its sources after each.
#
#   bash bench/chaos.sh [N]        (default 100; run as root or with sudo)
#
# Throwaway servers in /tmp/pg_tributary_chaos: a PostgreSQL source, a
# MariaDB source and a target with two full+cdc jobs (restart strategy
# fixed-delay, reconnect_timeout 120 s).  Writers change both sources all
# the time (transactions of inserts, updates that move keys, deletes).
# Each round picks one fault at random:
#   target      kill -9 of every process of the target but the postmaster
#               (PostgreSQL restarts the server: crash recovery)
#   pgsource    kill -9 of the PostgreSQL source's postmaster, then a restart
#   walsender   pg_terminate_backend of the job's walsender on the source
#   maria       kill -9 of mariadbd, then a restart
#   binlogconn  KILL of the job's binlog dump connection on MariaDB
# lets the writers run on for 1-3 s, pauses them, waits for both jobs to
# catch up, and compares row counts and checksums of every table.  A job
# that the crash guard failed (3 server crashes in a row, docs/operations.md)
# is counted and started again.  Prints one line per round and a summary;
# exits 1 at the first difference.  Not part of the test suite (it takes
# about 15 s a round).
set -euo pipefail

N=${1:-100}
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/scripts/mariadb-throwaway.sh"
BIN=/usr/lib/postgresql/15/bin
DIR=/tmp/pg_tributary_chaos
SRC=55461; TGT=55462; MY=55463
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"

as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else sudo -u postgres "$@"; fi; }
q() { local port=$1; shift; as_pg $BIN/psql -X -q -At -h $DIR -p "$port" -d postgres "$@"; }
my() { mariadb --no-defaults -h127.0.0.1 -P$MY -uroot -N -B "$@"; }

cleanup() {
  touch $DIR/stop 2>/dev/null || true
  sleep 1
  for c in source target; do as_pg $BIN/pg_ctl -D $DIR/$c -m immediate stop >/dev/null 2>&1 || true; done
  mariadb_throwaway_stop $DIR/maria
  $SUDO rm -rf $DIR
}
trap cleanup EXIT

(cd "$here" && make -s -j2 >/dev/null 2>&1 && $SUDO make -s install >/dev/null)
cleanup
$SUDO mkdir -p $DIR && $SUDO chown postgres $DIR
for c in source target; do as_pg $BIN/initdb -D $DIR/$c -A trust >/dev/null; done
common="unix_socket_directories = '$DIR'
listen_addresses = ''
wal_level = logical
max_replication_slots = 10
max_wal_senders = 10
restart_after_crash = on
output_plugin_libraries = 'pgoutput, test_decoding, tributary_decoder'"
echo "$common
port = $SRC" | as_pg tee -a $DIR/source/postgresql.conf >/dev/null
echo "$common
port = $TGT
shared_preload_libraries = 'pg_tributary'" | as_pg tee -a $DIR/target/postgresql.conf >/dev/null
for c in source target; do as_pg $BIN/pg_ctl -D $DIR/$c -l $DIR/$c.log -w start >/dev/null; done
mariadb_throwaway_start $DIR/maria $MY

q $SRC -c "CREATE TABLE public.acc (id int PRIMARY KEY, n int, v text); ALTER TABLE public.acc REPLICA IDENTITY FULL;
           INSERT INTO public.acc SELECT g, 0, md5(g::text) FROM generate_series(1, 20000) g;"
my -e "CREATE DATABASE shop; USE shop; CREATE TABLE shop.acc (id INT PRIMARY KEY, n INT, v VARCHAR(40));
       INSERT INTO shop.acc SELECT seq, 0, MD5(seq) FROM seq_1_to_20000;"
q $TGT -c "CREATE EXTENSION pg_tributary;
  SELECT tributary.create_source('pg', 'postgresql', 'host=$DIR port=$SRC dbname=postgres',
    '{\"reconnect_timeout\": 120, \"heartbeat_interval\": 1}');
  SELECT tributary.create_source('maria', 'mysql', 'host=127.0.0.1 port=$MY user=root dbname=shop',
    '{\"reconnect_timeout\": 120, \"heartbeat_interval\": 1}');
  SELECT tributary.create_job('pgjob', 'pg', 'full+cdc', '{\"target_schema\": \"p\", \"restart-strategy.type\": \"fixed-delay\"}');
  SELECT tributary.add_table('pgjob', 'public.acc');
  SELECT tributary.create_job('myjob', 'maria', 'full+cdc', '{\"target_schema\": \"m\", \"restart-strategy.type\": \"fixed-delay\"}');
  SELECT tributary.add_table('myjob', 'shop.acc');
  SELECT tributary.start_job('pgjob'); SELECT tributary.start_job('myjob');" >/dev/null

# writers: until $DIR/pause or $DIR/stop exists, transactions of 5 changes
pg_writer() {
  local i=0
  while [ ! -e $DIR/stop ]; do
    if [ -e $DIR/pause ]; then sleep 0.1; continue; fi
    i=$((i + 1))
    q $SRC -c "BEGIN;
      UPDATE public.acc SET n = n + 1 WHERE id = (random() * 20000)::int + 1;
      UPDATE public.acc SET id = id + 1000000 WHERE id = (random() * 20000)::int + 1;
      DELETE FROM public.acc WHERE id = (random() * 20000)::int + 1;
      INSERT INTO public.acc VALUES (2000000 + $i, $i, 'w') ON CONFLICT DO NOTHING;
      UPDATE public.acc SET v = v || '.' WHERE id = (random() * 20000)::int + 1;
      COMMIT;" >/dev/null 2>&1 || sleep 0.2
  done
}
my_writer() {
  local i=0
  while [ ! -e $DIR/stop ]; do
    if [ -e $DIR/pause ]; then sleep 0.1; continue; fi
    i=$((i + 1))
    my shop -e "START TRANSACTION;
      UPDATE acc SET n = n + 1 WHERE id = FLOOR(RAND() * 20000) + 1;
      UPDATE acc SET id = id + 1000000 WHERE id = FLOOR(RAND() * 20000) + 1;
      DELETE FROM acc WHERE id = FLOOR(RAND() * 20000) + 1;
      INSERT IGNORE INTO acc VALUES (2000000 + $i, $i, 'w');
      UPDATE acc SET v = CONCAT(v, '.') WHERE id = FLOOR(RAND() * 20000) + 1;
      COMMIT;" >/dev/null 2>&1 || sleep 0.2
  done
}
pg_writer & my_writer &

faults=(target pgsource walsender maria binlogconn)
declare -A count
restarts=0
for round in $(seq 1 "$N"); do
  fault=${faults[$((RANDOM % ${#faults[@]}))]}
  count[$fault]=$(( ${count[$fault]:-0} + 1 ))
  case $fault in
    target)
      pm=$(head -1 $DIR/target/postmaster.pid)
      pkill -9 -P "$pm" || true
      until q $TGT -c "SELECT 1" >/dev/null 2>&1; do sleep 0.2; done ;;
    pgsource)
      pm=$(head -1 $DIR/source/postmaster.pid)
      kids=$(pgrep -P "$pm" || true)
      kill -9 "$pm" $kids 2>/dev/null || true
      # the old processes must be gone before the data directory can start again
      for pid in $pm $kids; do while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done; done
      until as_pg $BIN/pg_ctl -D $DIR/source -l $DIR/source.log -w start >/dev/null 2>&1; do sleep 0.5; done ;;
    walsender)
      q $SRC -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE backend_type = 'walsender'" >/dev/null || true ;;
    maria)
      mpid=$(cat $DIR/maria/mysqld.pid)
      kill -9 "$mpid" || true
      while kill -0 "$mpid" 2>/dev/null; do sleep 0.1; done
      as_pg bash -c "mariadbd --defaults-file='$DIR/maria/my.cnf' > '$DIR/maria/stdout.log' 2>&1 &"
      until my -e "SELECT 1" >/dev/null 2>&1; do sleep 0.2; done ;;
    binlogconn)
      for id in $(my -e "SELECT id FROM information_schema.processlist WHERE command LIKE 'Binlog Dump%'"); do
        my -e "KILL $id" >/dev/null 2>&1 || true
      done ;;
  esac
  sleep $((1 + RANDOM % 3))
  touch $DIR/pause; sleep 0.5
  for job in pgjob myjob; do
    state=$(q $TGT -c "SELECT state FROM tributary.jobs WHERE job_name = '$job'" 2>/dev/null || echo unknown)
    if [ "$state" = "failed" ]; then
      restarts=$((restarts + 1))
      q $TGT -c "SELECT tributary.start_job('$job')" >/dev/null
    fi
    until [ "$(q $TGT -c "SELECT tributary.wait_for_sync('$job', '300 s')" 2>/dev/null)" = "t" ]; do
      state=$(q $TGT -c "SELECT state FROM tributary.jobs WHERE job_name = '$job'" 2>/dev/null || echo unknown)
      if [ "$state" = "failed" ]; then restarts=$((restarts + 1)); q $TGT -c "SELECT tributary.start_job('$job')" >/dev/null; fi
      sleep 1
    done
  done
  pgsrc=$(q $SRC -c "SELECT count(*) || ':' || sum(id) || ':' || sum(n) || ':' || md5(string_agg(id || v, ',' ORDER BY id)) FROM public.acc")
  pgtgt=$(q $TGT -c "SELECT count(*) || ':' || sum(id) || ':' || sum(n) || ':' || md5(string_agg(id || v, ',' ORDER BY id)) FROM p.acc")
  mysrc=$(my -e "SET SESSION group_concat_max_len = 1000000000; SELECT CONCAT(COUNT(*), ':', SUM(id), ':', SUM(n), ':', MD5(GROUP_CONCAT(CONCAT(id, v) ORDER BY id SEPARATOR ','))) FROM shop.acc")
  mytgt=$(q $TGT -c "SELECT count(*) || ':' || sum(id) || ':' || sum(n) || ':' || md5(string_agg(id || v, ',' ORDER BY id)) FROM m.acc")
  rm -f $DIR/pause
  if [ "$pgsrc" != "$pgtgt" ] || [ "$mysrc" != "$mytgt" ]; then
    echo "round $round ($fault): DIFFERENT  pg $pgsrc / $pgtgt  mysql $mysrc / $mytgt"
    exit 1
  fi
  echo "round $round: $fault; both jobs equal their sources (pg ${pgsrc%%:*} rows, mysql ${mysrc%%:*} rows)"
done
touch $DIR/stop; wait 2>/dev/null || true
echo
echo "$N rounds, every one ending with both targets equal to their sources"
for f in "${faults[@]}"; do printf '  %-11s %s\n' "$f" "${count[$f]:-0}"; done
echo "  jobs started again after the crash guard failed them: $restarts"
