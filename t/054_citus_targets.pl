# 054_citus_targets.pl -- distributed targets (issue 15, first slice): a
# Citus coordinator with two workers; a full+cdc job from a PostgreSQL
# source into a distributed and a reference table, written through the
# engine (never into the coordinator's own heap of those tables, which no
# query reads).  A writer runs during the snapshot and the stream; keys
# move between shards; deletes and a TRUNCATE; kill -9 of the coordinator's
# processes and of a worker's during streaming.  Every comparison is made
# through the coordinator against the source.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use FindBin;
use lib $FindBin::RealBin;
use TributaryTest;

my $libdir = `pg_config --pkglibdir`;
chomp $libdir;
ok(-f "$libdir/citus.so", 'Citus is installed (scripts/test.sh builds it from ../shared/vendor)')
  or BAIL_OUT('citus.so is missing: run bash ../shared/vendor/build-citus.sh');

my ($coord, $w1, $w2) = citus_cluster();
is($coord->safe_psql('postgres', q{SELECT count(*) FROM citus_get_active_worker_nodes()}), '2', 'a coordinator with two workers');

my $source = source_node('source', 1);
citus_targets($source, $coord, 10000, 50);

my $conn = pg_conninfo($source);
$coord->safe_psql('postgres', qq{
	SELECT tributary.create_source('pg', 'postgresql', '$conn');
	SELECT tributary.create_job('dist', 'pg', 'full+cdc',
		'{"snapshot_chunk_rows": 2000, "restart-strategy.type": "fixed-delay", "restart-strategy.fixed-delay.delay": "500 ms"}');
	SELECT tributary.add_table('dist', 'public.orders');
	SELECT tributary.add_table('dist', 'public.region');
});
is($coord->safe_psql('postgres', q{SELECT string_agg(source_table || ': ' || write_path, '; ' ORDER BY source_table) FROM tributary.tables}),
	'public.orders: citus distributed table, through the engine; public.region: citus reference table, through the engine',
	'tributary.tables shows the write path of each target');

# a writer during the snapshot and the stream: inserts, updates, key moves
# between shards, deletes; one transaction per step
my $writer_sql = q{DO $$ DECLARE i int := 0; BEGIN
	LOOP
		i := i + 1;
		EXIT WHEN (SELECT stop FROM public.ctl);
		INSERT INTO public.orders VALUES (100000 + i, i % 13, i, 'written ' || i);
		UPDATE public.orders SET amount = amount + 1 WHERE id = 1 + (i * 37) % 10000;
		IF i % 5 = 0 THEN UPDATE public.orders SET id = id + 500000 WHERE id = 100000 + i - 2; END IF;
		IF i % 7 = 0 THEN DELETE FROM public.orders WHERE id = 100000 + i - 3; END IF;
		IF i % 50 = 0 THEN UPDATE public.region SET name = name || '+' WHERE code = 'r' || (i / 50) % 50; END IF;
		COMMIT;
	END LOOP;
END $$;};
my $writer = IPC::Run::start(['psql', '-XAtq', '-d', $source->connstr('postgres'), '-c', $writer_sql],
	'>', \my $wout, '2>', \my $werr);
$coord->safe_psql('postgres', q{SELECT tributary.start_job('dist')});
$coord->poll_query_until('postgres', q{SELECT (state = 'running' AND phase = 'streaming')
	OR EXISTS (SELECT FROM tributary.errors WHERE job_name = 'dist') FROM tributary.jobs WHERE job_name = 'dist'});
is($coord->safe_psql('postgres', q{SELECT state || ' ' || phase || ' ' || (SELECT count(*) FROM tributary.errors WHERE job_name = 'dist')
	FROM tributary.jobs WHERE job_name = 'dist'}), 'running streaming 0', 'the job copies both tables and streams, without errors')
  or BAIL_OUT('the job does not stream: ' . $coord->safe_psql('postgres', q{SELECT string_agg(message, E'\n') FROM tributary.errors}));

my $orders = q{SELECT id, customer, amount, note FROM public.orders};
my $region = q{SELECT code, name FROM public.region};

# kill -9 of the coordinator's processes while it streams
ok($coord->poll_query_until('postgres', q{SELECT count(*) > 100 FROM public.orders WHERE id > 100000}),
	'streamed rows reach the shards');
my $run_before = $coord->safe_psql('postgres', q{SELECT run_id FROM tributary.jobs WHERE job_name = 'dist'});
ok(crash_instance($coord) > 0, 'kill -9 of the coordinator during streaming');
ok($coord->poll_query_until('postgres', qq{SELECT run_id > $run_before AND pid IS NOT NULL AND state = 'running'
	FROM tributary.jobs WHERE job_name = 'dist'}),
	'a new run of the job starts after the coordinator\'s crash recovery');
# and of one worker's
ok($coord->poll_query_until('postgres', q{SELECT count(*) > 300 FROM public.orders WHERE id > 100000}),
	'rows the writer inserted after the crash reach the shards');
ok(crash_instance($w1) > 0, 'kill -9 of a worker during streaming');

$source->safe_psql('postgres', q{UPDATE public.ctl SET stop = true});
$writer->finish;
is($werr, '', 'the writer ran without errors');
$source->safe_psql('postgres', q{
	UPDATE public.orders SET id = id + 700000 WHERE id BETWEEN 1 AND 40;
	DELETE FROM public.orders WHERE id BETWEEN 41 AND 60;
	INSERT INTO public.region VALUES ('new', 'added last');
});
is($coord->safe_psql('postgres', q{SELECT tributary.wait_for_sync('dist', '120 s')}), 't', 'the job syncs');
is(digest($coord, $orders), digest($source, $orders), 'the distributed table equals the source, read through the coordinator');
is(digest($coord, $region), digest($source, $region), 'the reference table equals the source');
is($coord->safe_psql('postgres', q{SELECT pg_relation_size('public.orders') + pg_relation_size('public.region')}), '0',
	'the coordinator\'s own heaps of both tables stay empty');
ok($coord->safe_psql('postgres', q{SELECT count(DISTINCT nodeport) FROM citus_shards WHERE table_name = 'public.orders'::regclass}) eq '2',
	'the distributed table has shards on both workers');
is($w1->safe_psql('postgres', q{SELECT count(*) > 0 FROM pg_class WHERE relname LIKE 'orders\_%'}), 't',
	'and worker 1 holds some of them');

# a TRUNCATE on the source empties the distributed target through the engine
$source->safe_psql('postgres', q{TRUNCATE public.region; INSERT INTO public.region VALUES ('after', 'truncate');});
is($coord->safe_psql('postgres', q{SELECT tributary.wait_for_sync('dist', '60 s')}), 't', 'the job syncs a TRUNCATE');
is(digest($coord, $region), digest($source, $region), 'the reference table equals the source after TRUNCATE');
# many inserts in one source transaction go to the shards a buffer at a
# time (one INSERT ... SELECT through Citus), interleaved with updates and
# deletes of the rows just inserted and key moves between shards
$source->safe_psql('postgres', q{
	BEGIN;
	INSERT INTO public.orders SELECT g, g % 97, g, 'bulk ' || g FROM generate_series(2000001, 2030000) g;
	UPDATE public.orders SET note = note || ' updated' WHERE id BETWEEN 2000001 AND 2000100;
	INSERT INTO public.orders SELECT g, g % 97, g, 'bulk ' || g FROM generate_series(2030001, 2040000) g;
	DELETE FROM public.orders WHERE id BETWEEN 2030001 AND 2030050;
	UPDATE public.orders SET id = id + 100000 WHERE id BETWEEN 2000101 AND 2000200;
	INSERT INTO public.orders SELECT g, g % 97, g, 'few ' || g FROM generate_series(2050001, 2050005) g;
	COMMIT;
});
is($coord->safe_psql('postgres', q{SELECT tributary.wait_for_sync('dist', '120 s')}), 't', 'the job syncs a transaction of 40,000 inserts');
is(digest($coord, $orders), digest($source, $orders), 'the distributed table equals the source after the bulk transaction');
is($coord->safe_psql('postgres', q{SELECT pg_relation_size('public.orders')}), '0', 'the buffered inserts went to the shards, not the coordinator\'s heap');

# a row the target already has: the buffered insert fails in the engine,
# the job reports it and does not go on past it; once the row is gone
# from the target the job applies the transaction and syncs
$coord->safe_psql('postgres', q{INSERT INTO public.orders VALUES (3000010, 0, 0, 'in the way')});
my $errors_before = $coord->safe_psql('postgres', q{SELECT count(*) FROM tributary.errors WHERE job_name = 'dist'});
$source->safe_psql('postgres', q{INSERT INTO public.orders SELECT g, 1, g, 'conflict ' || g FROM generate_series(3000001, 3000100) g});
ok($coord->poll_query_until('postgres', qq{SELECT count(*) > $errors_before FROM tributary.errors
	WHERE job_name = 'dist' AND message LIKE '%duplicate key%'}), 'a duplicate key among buffered inserts is the job\'s error');
is($coord->safe_psql('postgres', q{SELECT count(*) FROM public.orders WHERE id BETWEEN 3000001 AND 3000100}), '1',
	'none of the failed transaction\'s rows is on the shards');
$coord->safe_psql('postgres', q{DELETE FROM public.orders WHERE id = 3000010});
is($coord->safe_psql('postgres', q{SELECT tributary.wait_for_sync('dist', '120 s')}), 't', 'the job syncs once the row is out of the way');
is(digest($coord, $orders), digest($source, $orders), 'the distributed table equals the source');

note('errors of the run (the crashes): ' . $coord->safe_psql('postgres', q{SELECT string_agg(sqlstate || ' ' || message, E'\n') FROM tributary.errors WHERE job_name = 'dist'}));

done_testing();
