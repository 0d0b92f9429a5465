# 004_full_copy.pl -- 'full' jobs from a PostgreSQL source: chunked
# snapshot through COPY, many types, composite keys, column mappings and
# filters, and resume chunk by chunk after kill -9 of the target.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use TributaryTest;

my $source = PostgreSQL::Test::Cluster->new('source');
$source->init(allows_streaming => 'logical');
$source->start;
$source->safe_psql('postgres', q{
	CREATE TABLE public.types (
		id bigint PRIMARY KEY, i int, n numeric(30,10), f8 double precision, r real,
		t text, vc varchar(20), b bytea, ts timestamp(3), tz timestamptz, d date,
		iv interval, j jsonb, arr int[], tarr text[], u uuid, flag boolean, big text);
	INSERT INTO public.types
	SELECT g, g % 1000 - 500, g * 1.0000000001, g / 7.0, g / 3.0,
	       CASE g % 5 WHEN 0 THEN NULL WHEN 1 THEN E'tab\there\nnewline \\ back' WHEN 2 THEN 'ünïcødé ✓ ' || g
	                  WHEN 3 THEN '' ELSE 'plain ' || g END,
	       'vc' || g, decode(md5(g::text), 'hex'), '2024-02-29 12:00:00.123'::timestamp + g * interval '1 min',
	       '2024-01-01 00:00:00+00'::timestamptz + g * interval '1 s', '2000-01-01'::date + g % 10000,
	       g * interval '1 h 1 s', jsonb_build_object('g', g, 'a', jsonb_build_array(g, 'x', null)),
	       ARRAY[g, NULL, -g], ARRAY['a b', NULL, 'c"d'], md5(g::text)::uuid, g % 2 = 0,
	       CASE WHEN g % 1000 = 0 THEN repeat(md5(g::text), 1000) END
	  FROM generate_series(1, 5000) g;
	CREATE TABLE public.comp (region text, id int, v text, PRIMARY KEY (region, id));
	INSERT INTO public.comp SELECT (ARRAY['eu', 'us', 'ap', 'Äsien'])[g % 4 + 1], g, 'v' || g FROM generate_series(1, 3001) g;
	CREATE TABLE public.wide (id int PRIMARY KEY, price numeric, qty int, note text, hidden text);
	INSERT INTO public.wide SELECT g, g * 1.5, g % 7, 'note ' || g, 'secret' FROM generate_series(1, 2000) g;
	CREATE TABLE public.empty (id int PRIMARY KEY, v text);
	CREATE TABLE public.big (id int PRIMARY KEY, v text);
	INSERT INTO public.big SELECT g, md5(g::text) FROM generate_series(1, 50000) g;
});

my $target = target_node('target');
my $src_conn = pg_conninfo($source);
$target->safe_psql('postgres', qq{
	SELECT tributary.create_source('src', 'postgresql', '$src_conn');
	CREATE SCHEMA mirror;
	CREATE TABLE mirror.wide_slim (id int PRIMARY KEY, total numeric, note_upper text, note_masked text);
	SELECT tributary.create_job('copy', 'src', 'full', '{"snapshot_chunk_rows": 700, "target_schema": "mirror"}');
	SELECT tributary.add_table('copy', 'public.types');
	SELECT tributary.add_table('copy', 'public.comp');
	SELECT tributary.add_table('copy', 'public.empty');
	SELECT tributary.add_table('copy', 'public.wide', 'mirror.wide_slim',
		'{"id": "id", "total": "price * qty", "note_upper": "upper(note)", "note_masked": "tributary.mask(note, 2, 1)"}', 'qty > 2');
});

$target->safe_psql('postgres', "SELECT tributary.start_job('copy')");
is($target->safe_psql('postgres', "SELECT tributary.wait_for_sync('copy', '120 s')"), 't',
	'wait_for_sync returns when the full job finished');
is($target->safe_psql('postgres', "SELECT state FROM tributary.jobs WHERE job_name = 'copy'"),
	'finished', 'the job is finished');
is($target->safe_psql('postgres', "SELECT status || ': ' || message FROM tributary.runs WHERE job_name = 'copy'"),
	'finished: all tables copied', 'the run ended as finished');

is(digest($target, 'SELECT * FROM mirror.types'), digest($source, 'SELECT * FROM public.types'),
	'every type copied exactly (5000 rows, NULLs, unicode, escapes, bytea, TOASTed text)');
is(digest($target, 'SELECT * FROM mirror.comp'), digest($source, 'SELECT * FROM public.comp'),
	'composite-key table copied exactly across chunk boundaries');
is(digest($target, 'SELECT * FROM mirror.empty'), '0:', 'an empty table is copied as empty');
ok($target->log_contains('copies source table \[public.types\] into mirror.types in binary format'),
	'same types on both sides: binary COPY');
ok($target->log_contains('copies source table \[public.wide\] into mirror.wide_slim in text format'),
	'expression columns: text COPY');
is(digest($target, 'SELECT * FROM mirror.wide_slim'),
	digest($source, q{SELECT id, price * qty, upper(note), left(note, 2) || repeat('*', length(note) - 3) || right(note, 1) FROM public.wide WHERE qty > 2}),
	'column mapping with expressions (a masked one) and a row filter');

is($target->safe_psql('postgres', q{
	SELECT string_agg(format('%s %s %s/%s %s', source_table, state, chunks_done, chunks_total, rows_copied), ', ' ORDER BY source_table)
	  FROM tributary.tables WHERE job_name = 'copy'}),
	'public.comp done 5/5 3001, public.empty done 1/1 0, public.types done 8/8 5000, public.wide done 3/3 1143',
	'tables view: state, chunks and rows per table');
is($target->safe_psql('postgres', q{
	SELECT count(*) FILTER (WHERE ts_rows > 700) || ' ' || count(DISTINCT (ts_jt_id, ts_chunk_no)) || ' ' || count(*)
	  FROM tributary.table_state}),
	'0 17 17', 'chunks hold at most snapshot_chunk_rows rows, each recorded once');
is($target->safe_psql('postgres', "SELECT rows_applied FROM tributary.jobs WHERE job_name = 'copy'"), '0',
	'a finished job shows no live counters');

# --- kill -9 of the target during a snapshot: resume chunk by chunk
$target->safe_psql('postgres', q{
	CREATE TABLE public.big (id int PRIMARY KEY, v text);
	-- a gate: the insert of row 20001 waits for advisory lock 42
	CREATE FUNCTION public.gate() RETURNS trigger LANGUAGE plpgsql AS $$
	BEGIN
		IF NEW.id = 20001 THEN PERFORM pg_advisory_xact_lock_shared(42); END IF;
		RETURN NEW;
	END $$;
	CREATE TRIGGER gate BEFORE INSERT ON public.big FOR EACH ROW EXECUTE FUNCTION public.gate();
	-- jobs apply as replicas (session_replication_role): this one must fire there
	ALTER TABLE public.big ENABLE ALWAYS TRIGGER gate;
	SELECT tributary.create_job('bigcopy', 'src', 'full', '{"snapshot_chunk_rows": 5000, "restart-strategy.type": "fixed-delay"}');
	SELECT tributary.add_table('bigcopy', 'public.big');
});
my $holder = $target->background_psql('postgres');
$holder->query_safe('SELECT pg_advisory_lock(42)');
$target->safe_psql('postgres', "SELECT tributary.start_job('bigcopy')");
ok( $target->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM pg_locks WHERE locktype = 'advisory' AND objid = 42 AND NOT granted"),
	'the snapshot is blocked in its fifth chunk');
is($target->safe_psql('postgres', "SELECT chunks_done || ' ' || rows_copied FROM tributary.tables WHERE job_name = 'bigcopy'"),
	'4 20000', 'four chunks are committed');
is($target->safe_psql('postgres', 'SELECT count(*) FROM public.big'), '20000', 'with their rows');

ok(crash_instance($target) > 0, 'kill -9 of every process of the target instance');
$holder->{run}->kill_kill;
# after crash recovery the job resumes from its catalog state; open the gate
$target->safe_psql('postgres', 'DROP TRIGGER gate ON public.big');
is($target->safe_psql('postgres', "SELECT tributary.wait_for_sync('bigcopy', '120 s')"), 't',
	'the job resumes after kill -9 and finishes');
is(digest($target, 'SELECT * FROM public.big'), digest($source, 'SELECT * FROM public.big'),
	'source and target digests are equal after the crash');
is($target->safe_psql('postgres', q{
	SELECT count(*) || ' ' || sum(ts_rows) || ' ' || count(DISTINCT ts_chunk_no)
	  FROM tributary.table_state s JOIN tributary.job_table t ON t.jt_id = s.ts_jt_id
	  JOIN tributary.job j ON j.job_id = t.jt_job_id WHERE j.job_name = 'bigcopy'}),
	'11 50000 11', 'no chunk was copied twice');
is($target->safe_psql('postgres', q{SELECT string_agg(status, ',' ORDER BY run_id) FROM tributary.runs WHERE job_name = 'bigcopy'}),
	'failed,finished', 'the crashed run is failed, the resumed one finished');

# --- restart_job(from_checkpoint => false) copies again from scratch
$source->safe_psql('postgres', 'UPDATE public.comp SET v = v || \'!\' WHERE id % 10 = 0');
$target->safe_psql('postgres', "SELECT tributary.restart_job('copy', false)");
is($target->safe_psql('postgres', "SELECT tributary.wait_for_sync('copy', '120 s')"), 't', 'a full job can be run again');
is(digest($target, 'SELECT * FROM mirror.comp'), digest($source, 'SELECT * FROM public.comp'),
	'the second copy has the new data');

# --- parallelism.default: helpers copy chunks alongside the worker
$source->safe_psql('postgres', q{
	CREATE TABLE public.par (id int PRIMARY KEY, v text);
	INSERT INTO public.par SELECT g, md5(g::text) FROM generate_series(1, 20000) g;
});
$target->safe_psql('postgres', q{
	CREATE TABLE public.par (id int PRIMARY KEY, v text);
	-- a gate: the first chunk waits for advisory lock 43
	CREATE FUNCTION public.par_gate() RETURNS trigger LANGUAGE plpgsql AS $$
	BEGIN
		IF NEW.id = 1 THEN PERFORM pg_advisory_xact_lock_shared(43); END IF;
		RETURN NEW;
	END $$;
	CREATE TRIGGER gate BEFORE INSERT ON public.par FOR EACH ROW EXECUTE FUNCTION public.par_gate();
	ALTER TABLE public.par ENABLE ALWAYS TRIGGER gate;
	SELECT tributary.create_job('parcopy', 'src', 'full',
		'{"snapshot_chunk_rows": 2000, "parallelism.default": 3}');
	SELECT tributary.add_table('parcopy', 'public.par');
});
my $gate = $target->background_psql('postgres');
$gate->query_safe('SELECT pg_advisory_lock(43)');
my $log_offset = -s $target->logfile;
$target->safe_psql('postgres', "SELECT tributary.start_job('parcopy')");
ok( $target->poll_query_until('postgres',
		"SELECT chunks_done = 10 AND chunks_total = 11 FROM tributary.tables WHERE job_name = 'parcopy'"),
	'while one process waits in the first chunk, the other chunks are copied by other processes');
is($target->safe_psql('postgres', 'SELECT count(*) FROM public.par'), '18000', 'with their rows');
ok($target->log_contains(qr/job "parcopy" copies with 2 snapshot helpers/, $log_offset),
	'two snapshot helpers were started');
is($target->safe_psql('postgres', q{
	SELECT count(*) FILTER (WHERE wait_event = 'advisory') || ' ' ||
	       count(*) FILTER (WHERE backend_type = 'pg_tributary snapshot helper'
	                          AND wait_event IS DISTINCT FROM 'advisory')
	  FROM pg_stat_activity WHERE backend_type IN ('pg_tributary worker', 'pg_tributary snapshot helper')}),
	'1 0', 'one process waits at the gate; the helpers with nothing left to copy have exited');
$gate->query_safe('SELECT pg_advisory_unlock(43)');
$gate->quit;
is($target->safe_psql('postgres', "SELECT tributary.wait_for_sync('parcopy', '120 s')"), 't',
	'the parallel snapshot finishes');
is(digest($target, 'SELECT * FROM public.par'), digest($source, 'SELECT * FROM public.par'),
	'source and target digests are equal after a parallel copy');
is($target->safe_psql('postgres', q{
	SELECT count(*) || ' ' || sum(ts_rows) || ' ' || count(*) FILTER (WHERE ts_done)
	  FROM tributary.table_state s JOIN tributary.job_table t ON t.jt_id = s.ts_jt_id
	  JOIN tributary.job j ON j.job_id = t.jt_job_id WHERE j.job_name = 'parcopy'}),
	'11 20000 11', 'every chunk copied exactly once');
is($target->safe_psql('postgres', q{
	SELECT state || ' ' || rows_copied FROM tributary.tables WHERE job_name = 'parcopy'}),
	'done 20000', 'the table is done');

$target->stop;
$source->stop;
done_testing();
