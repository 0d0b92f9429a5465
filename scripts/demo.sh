#!/usr/bin/env bash
# demo.sh -- a live look at pg_tributary on throwaway servers.
#
# Builds and installs the extension, starts a source and a target
# PostgreSQL 15 on local ports (54321, 54322) in /tmp/pg_tributary_demo,
# defines a source and a full+cdc job, checks the source's prerequisites,
# starts the job while a writer inserts rows on the source and shows the
# table syncing live in the status views, compares source and target,
# stops the job.  Then the same from a throwaway MariaDB (port 54323):
# a full+cdc job from its binlog while a writer runs, and a schema change
# handled by the job's ddl policy.  Removes everything at the end.  Run
# as root or with sudo.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
. scripts/mariadb-throwaway.sh
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"

bash scripts/install-deps.sh >/dev/null
make -s -j2 >/dev/null
$SUDO make -s install >/dev/null

BIN=/usr/lib/postgresql/15/bin
DIR=/tmp/pg_tributary_demo
SRC_PORT=54321
TGT_PORT=54322
MY_PORT=54323

as_pg() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else sudo -u postgres "$@"; fi
}
src() { as_pg $BIN/psql -X -q -h $DIR -p $SRC_PORT -d postgres "$@"; }
tgt() { as_pg $BIN/psql -X -h $DIR -p $TGT_PORT -d postgres "$@"; }
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

my() { mariadb --no-defaults -h127.0.0.1 -P$MY_PORT -uroot -N -B "$@"; }

cleanup() {
  [ -n "${writer:-}" ] && kill "$writer" 2>/dev/null || true
  mariadb_throwaway_stop $DIR/maria
  as_pg $BIN/pg_ctl -D $DIR/target -m fast stop >/dev/null 2>&1 || true
  as_pg $BIN/pg_ctl -D $DIR/source -m fast stop >/dev/null 2>&1 || true
  $SUDO rm -rf $DIR
}
trap cleanup EXIT

cleanup
$SUDO mkdir -p $DIR && $SUDO chown postgres $DIR
as_pg $BIN/initdb -D $DIR/source -A trust >/dev/null
as_pg $BIN/initdb -D $DIR/target -A trust >/dev/null
as_pg tee -a $DIR/source/postgresql.conf >/dev/null <<EOC
port = $SRC_PORT
unix_socket_directories = '$DIR'
listen_addresses = ''
wal_level = logical
output_plugin_libraries = 'pgoutput, test_decoding, tributary_decoder'
EOC
as_pg tee -a $DIR/target/postgresql.conf >/dev/null <<EOC
port = $TGT_PORT
unix_socket_directories = '$DIR'
listen_addresses = ''
shared_preload_libraries = 'pg_tributary'
tributary.database = 'postgres'
EOC
as_pg $BIN/pg_ctl -D $DIR/source -l $DIR/source.log -w start >/dev/null
as_pg $BIN/pg_ctl -D $DIR/target -l $DIR/target.log -w start >/dev/null

say "source: a table of orders, and a writer inserting into it"
src <<'SQL'
CREATE TABLE public.orders (id bigserial PRIMARY KEY, customer text NOT NULL,
                            amount numeric(12,2), created timestamptz DEFAULT now());
ALTER TABLE public.orders REPLICA IDENTITY FULL;
CREATE TABLE public.audit (at timestamptz, note text);
INSERT INTO public.orders (customer, amount)
SELECT 'customer ' || g, g * 1.25 FROM generate_series(1, 1000) g;
SQL
( while true; do
    src -c "INSERT INTO public.orders (customer, amount) SELECT 'live ' || g, g FROM generate_series(1, 20) g" >/dev/null 2>&1 || exit 0
    sleep 0.2
  done ) &
writer=$!

say "target: CREATE EXTENSION, a source, a job, a table"
tgt -v ON_ERROR_STOP=1 <<SQL
CREATE EXTENSION pg_tributary;
SELECT tributary.create_source('shop', 'postgresql', 'host=$DIR port=$SRC_PORT dbname=postgres',
                               '{"heartbeat_interval": 2}');
SELECT tributary.create_job('shop_sync', 'shop', 'full+cdc',
                            '{"execution.checkpointing.interval": 500, "restart-strategy.type": "fixed-delay"}');
SELECT tributary.add_table('shop_sync', 'public.orders', 'mirror.orders');
\d mirror.orders
SQL

say "check_source: the source's prerequisites, one row each"
tgt -c "SELECT check_name, ok, detail FROM tributary.check_source('shop')"
say "a table without a primary key is refused with the seed's message"
tgt -c "SELECT tributary.add_table('shop_sync', 'public.audit')" 2>&1 || true

say "start_job: position first (a slot on the source), a chunked snapshot, then the change stream"
tgt -c "SELECT tributary.start_job('shop_sync')" >/dev/null
for i in 1 2 3 4 5 6; do
  sleep 1
  printf 'source rows: %s   target rows: %s\n' \
    "$(src -Atc 'SELECT count(*) FROM public.orders')" "$(tgt -Atc 'SELECT count(*) FROM mirror.orders')"
  tgt -Atc "SELECT format('  job %s: state=%s phase=%s applied=%s source=%s lag=%s bytes, %s s, rows=%s',
                   job_name, state, phase, applied_position, source_position, lag_bytes,
                   round(lag_seconds::numeric, 3), rows_applied) FROM tributary.jobs"
done
tgt -c "SELECT job_name, source_table, target_table, state, rows_copied, chunks_done, chunks_total, rows_applied FROM tributary.tables"

say "the writer stops; wait_for_sync waits until everything committed on the source is applied"
kill "$writer" 2>/dev/null || true; wait "$writer" 2>/dev/null || true; writer=""
src -c "UPDATE public.orders SET amount = amount + 1 WHERE id % 10 = 0" >/dev/null
src -c "DELETE FROM public.orders WHERE id % 17 = 0" >/dev/null
tgt -c "SELECT tributary.wait_for_sync('shop_sync', '60 s')"
digest="SELECT count(*) || ' rows, md5 ' || md5(string_agg(o::text, ',' ORDER BY id))"
printf 'source: %s\ntarget: %s\n' "$(src -Atc "$digest FROM public.orders o")" "$(tgt -Atc "$digest FROM mirror.orders o")"
tgt -x -c "SELECT job_name, state, phase, applied_position, lag_bytes, rows_applied, run_id, last_error FROM tributary.jobs"
tgt -c "SELECT job_name, position, committed_at, source_commit_at FROM tributary.checkpoints"
say "the slot on the source follows what the target has durably applied"
src -c "SELECT slot_name, plugin, active, confirmed_flush_lsn FROM pg_replication_slots"

say "stop_job: graceful stop, the run ends as stopped"
tgt -c "SELECT tributary.stop_job('shop_sync')" >/dev/null
for i in $(seq 1 50); do
  [ "$(tgt -Atc "SELECT state FROM tributary.jobs")" = "stopped" ] && break
  sleep 0.1
done
tgt -c "SELECT job_name, run_id, status, message, ended_at IS NOT NULL AS ended FROM tributary.runs"
say "job versions record every definition change"
tgt -c "SELECT job_name, version, change, at FROM tributary.job_versions"

say "MariaDB: a throwaway server with a ROW binlog, a table, and a writer"
mariadb_throwaway_start $DIR/maria $MY_PORT
my -e "CREATE DATABASE shop; USE shop;
  CREATE TABLE shop.orders (id BIGINT AUTO_INCREMENT PRIMARY KEY, customer VARCHAR(40) NOT NULL,
                            amount DECIMAL(12,2), status ENUM('new','paid'), created DATETIME(3) DEFAULT NOW(3));
  INSERT INTO shop.orders (customer, amount, status) SELECT CONCAT('customer ', seq), seq * 1.25, 'new' FROM seq_1_to_5000;"
( while true; do
    my -e "INSERT INTO shop.orders (customer, amount, status) VALUES ('live', 1, 'new'), ('live', 2, 'paid');
           UPDATE shop.orders SET status = 'paid' WHERE id = FLOOR(1 + RAND() * 5000)" >/dev/null 2>&1 || exit 0
    sleep 0.2
  done ) &
writer=$!

say "target: a MySQL source and a full+cdc job; MySQL types follow the design's mapping"
tgt -v ON_ERROR_STOP=1 <<SQL
SELECT tributary.create_source('maria', 'mysql', 'host=127.0.0.1 port=$MY_PORT user=root dbname=shop');
SELECT check_name, ok, detail FROM tributary.check_source('maria', ARRAY['shop.orders']);
SELECT tributary.create_job('maria_sync', 'maria', 'full+cdc', '{"execution.checkpointing.interval": 500}');
SELECT tributary.add_table('maria_sync', 'shop.orders');
\d shop.orders
SELECT tributary.start_job('maria_sync');
SQL
for i in 1 2 3 4; do
  sleep 1
  printf 'MariaDB rows: %s   target rows: %s\n' "$(my -e 'SELECT COUNT(*) FROM shop.orders')" \
    "$(tgt -Atc 'SELECT count(*) FROM shop.orders')"
  tgt -Atc "SELECT format('  job %s: state=%s phase=%s applied=%s lag=%s bytes, %s s, rows=%s', job_name, state, phase,
                   applied_position, lag_bytes, round(lag_seconds::numeric, 3), rows_applied)
              FROM tributary.jobs WHERE job_name = 'maria_sync'"
done
kill "$writer" 2>/dev/null || true; wait "$writer" 2>/dev/null || true; writer=""
tgt -c "SELECT tributary.wait_for_sync('maria_sync', '60 s')"
printf 'MariaDB: %s\ntarget:  %s\n' \
  "$(my -e "SELECT CONCAT(COUNT(*), ' rows, amount ', SUM(amount), ', paid ', SUM(status = 'paid')) FROM shop.orders")" \
  "$(tgt -Atc "SELECT count(*) || ' rows, amount ' || sum(amount) || ', paid ' || count(*) FILTER (WHERE status = 'paid') FROM shop.orders")"
tgt -c "SELECT job_name, position, committed_at FROM tributary.checkpoints WHERE job_name = 'maria_sync'"

say "a schema change on MariaDB stops the job (ddl policy error, the default)"
my -e "ALTER TABLE shop.orders ADD COLUMN note VARCHAR(20) DEFAULT 'none'; INSERT INTO shop.orders (customer, note) VALUES ('after alter', 'hello')"
for i in $(seq 1 50); do
  [ "$(tgt -Atc "SELECT state FROM tributary.jobs WHERE job_name = 'maria_sync'")" = "failed" ] && break
  sleep 0.1
done
tgt -x -c "SELECT job_name, sqlstate, message, detail FROM tributary.errors WHERE job_name = 'maria_sync'"
say "alter_job: apply ADD COLUMN; the job resumes from its checkpoint and the target gets the column"
tgt -c "SELECT tributary.alter_job('maria_sync', '{\"ddl\": {\"add_column\": \"apply\"}}')" >/dev/null
tgt -c "SELECT tributary.start_job('maria_sync')" >/dev/null
tgt -c "SELECT tributary.wait_for_sync('maria_sync', '60 s')"
tgt -c "SELECT id, customer, note FROM shop.orders ORDER BY id DESC LIMIT 3"
tgt -c "SELECT tributary.stop_job('maria_sync')" >/dev/null
say "done; servers stopped and removed"
