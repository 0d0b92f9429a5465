# 041_resync_nopause.pl -- resync_table on a running full+cdc job copies
# the table again while the job's other tables keep streaming (issue 13
# item 7), for a PostgreSQL source (tributary_decoder and pgoutput) and a
# MariaDB source: while the table's copy
# is in progress (a trigger on its target makes each chunk slow), rows
# written to another table arrive on the target; rows written to the
# table being copied arrive too; the worker is killed (PostgreSQL) or the
# job restarted (MariaDB) in the middle of the copy, which goes on in the
# next run; at the end every table equals its source.  add_table on the
# streaming job copies the new table the same way.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use TributaryTest;
use MariaDBNode;

my $target = target_node('target');

# slow_copy: a trigger on a target that sleeps on the last row of every
# chunk of 5,000 rows (the copy takes 40 x 0.25 s at least)
sub slow_copy
{
	my ($table) = @_;
	$target->safe_psql('postgres', qq{
		CREATE OR REPLACE FUNCTION public.slow_chunk() RETURNS trigger LANGUAGE plpgsql AS \$\$
		BEGIN
			IF NEW.id % 5000 = 0 AND NEW.id <= 200000 THEN PERFORM pg_sleep(0.25); END IF;
			RETURN NEW;
		END \$\$;
		CREATE TRIGGER slow BEFORE INSERT ON $table FOR EACH ROW EXECUTE FUNCTION public.slow_chunk();
		ALTER TABLE $table ENABLE ALWAYS TRIGGER slow;
	});
	return;
}

# copy_state: "state chunks_done<chunks_total" of a job's table
sub copy_state
{
	my ($job, $table) = @_;
	return $target->safe_psql('postgres', qq{
		SELECT state || ' ' || (coalesce(chunks_done, 0) < coalesce(chunks_total, 1))::text
		  FROM tributary.tables WHERE job_name = '$job' AND source_table = '$table'});
}

# in_copy: wait until the table's copy has committed at least n chunks
# and is not done
sub in_copy
{
	my ($job, $table, $n) = @_;
	return $target->poll_query_until('postgres', qq{
		SELECT state = 'sync' AND chunks_done >= $n AND chunks_done < chunks_total
		  FROM tributary.tables WHERE job_name = '$job' AND source_table = '$table'});
}

# start_synced: define source $src (kind, conninfo, extra source options)
# and job $job copying @tables into schema $nsp in chunks of 5,000 rows,
# start it and wait until it is in sync
sub start_synced
{
	my ($job, $src, $kind, $srcconn, $srcopts, $nsp, @tables) = @_;
	my $adds = join('', map { "SELECT tributary.add_table('$job', '$_');\n" } @tables);

	$target->safe_psql('postgres', qq{
		CREATE SCHEMA IF NOT EXISTS $nsp;
		SELECT tributary.create_source('$src', '$kind', '$srcconn', '{"heartbeat_interval": 1$srcopts}');
		SELECT tributary.create_job('$job', '$src', 'full+cdc',
			'{"snapshot_chunk_rows": 5000, "target_schema": "$nsp", "restart-strategy.type": "fixed-delay"}');
		$adds
		SELECT tributary.start_job('$job');
	});
	return $target->safe_psql('postgres', qq{SELECT tributary.wait_for_sync('$job', '180 s')});
}

# ---------------------------------------------------------------------
# PostgreSQL source, with tributary_decoder and with pgoutput
# ---------------------------------------------------------------------
my $source = source_node('source', 1);
$source->safe_psql('postgres', q{
	CREATE TABLE public.big (id int PRIMARY KEY, v text, n int);
	CREATE TABLE public.other (id int PRIMARY KEY, v text);
	CREATE TABLE public.third (id int PRIMARY KEY, v text);
	ALTER TABLE public.big REPLICA IDENTITY FULL;
	ALTER TABLE public.other REPLICA IDENTITY FULL;
	ALTER TABLE public.third REPLICA IDENTITY FULL;
	INSERT INTO public.big SELECT g, md5(g::text), 0 FROM generate_series(1, 200000) g;
	INSERT INTO public.other SELECT g, 'other ' || g FROM generate_series(1, 100) g;
	INSERT INTO public.third SELECT g, 'third ' || g FROM generate_series(1, 60000) g;
});
my $conn = pg_conninfo($source);

# pg_run: job $job of source $src (decoder $decoder) into schema $nsp:
# resync_table under writes with the worker killed in the middle, then
# add_table; $base is where this run's source rows begin
sub pg_run
{
	my ($job, $src, $decoder, $nsp, $base) = @_;
	my $p = "pg $decoder:";

	is(start_synced($job, $src, 'postgresql', $conn, qq{, "decoder": "$decoder"}, $nsp, 'public.big', 'public.other'),
		't', "$p the job syncs");
	is($target->safe_psql('postgres', qq{SELECT decoder FROM tributary.jobs WHERE job_name = '$job'}), $decoder,
		"$p the job uses $decoder");
	my $run_before = $target->safe_psql('postgres', qq{SELECT max(run_id) FROM tributary.runs WHERE job_name = '$job'});

	# the target drifted; resync_table copies the table again
	slow_copy("$nsp.big");
	$target->safe_psql('postgres', qq{
		DELETE FROM $nsp.big WHERE id % 1000 = 7;
		SELECT tributary.resync_table('$job', 'public.big');
	});
	ok(in_copy($job, 'public.big', 2), "$p the table is being copied again (state sync, chunks left)");

	# rows of the other table and of the table being copied, while it is copied
	$source->safe_psql('postgres', qq{
		INSERT INTO public.other SELECT g, 'during ' || g FROM generate_series($base + 1001, $base + 1050) g;
		UPDATE public.big SET n = n + 1 WHERE id % 997 = 0;
		DELETE FROM public.big WHERE id % (1009 + $base) = 0;
		INSERT INTO public.big SELECT g, 'new', 1 FROM generate_series($base + 300001, $base + 300100) g;
	});
	ok($target->poll_query_until('postgres', qq{SELECT count(*) = 50 FROM $nsp.other WHERE id > $base + 1000}),
		"$p rows written to another table during the copy arrive");
	is(copy_state($job, 'public.big'), 'sync true', "$p ... before the copy ended");
	is($target->safe_psql('postgres', qq{SELECT count(*) FROM tributary.runs WHERE job_name = '$job' AND run_id > $run_before}),
		'0', "$p by the same worker run (no restart)");

	# a writer on both tables, and the worker killed in the middle of the copy
	my $writer = start_writer($source, qq{
		FOR i IN 1 .. 300 LOOP
			INSERT INTO public.other VALUES ($base + 2000 + i, 'writer ' || i);
			UPDATE public.big SET n = n + 10 WHERE id = 1 + (i * 7919) % 200000;
			DELETE FROM public.big WHERE id = 100 + i * 613 + $base;
			INSERT INTO public.big VALUES ($base + 310000 + i, 'writer', i);
			COMMIT;
			PERFORM pg_sleep(0.01);
		END LOOP;});
	ok(in_copy($job, 'public.big', 6), "$p the copy goes on");
	is($target->safe_psql('postgres', qq{SELECT string_agg(pg_terminate_backend(pid)::text, ',')
			FROM (SELECT pid FROM pg_stat_activity WHERE application_name = 'pg_tributary job $job' OFFSET 0) w}),
		'true', "$p the job worker is killed during the copy");
	ok($target->poll_query_until('postgres', qq{SELECT count(*) > 0 FROM tributary.runs WHERE job_name = '$job'
			AND run_id > $run_before AND status = 'running'}), "$p a new run starts");
	is(copy_state($job, 'public.big'), 'sync true', "$p and goes on with the copy");
	$writer->quit;
	$source->safe_psql('postgres', q{UPDATE public.other SET v = v || ' after' WHERE id % 3 = 0});
	is($target->safe_psql('postgres', qq{SELECT tributary.wait_for_sync('$job', '300 s')}), 't',
		"$p the job syncs after the copy");
	is(copy_state($job, 'public.big'), 'streaming false', "$p the table streams again");
	for my $t ('big', 'other')
	{
		is(digest($target, "SELECT * FROM $nsp.$t"), digest($source, "SELECT * FROM public.$t"),
			"$p $t equals the source");
	}
	is($target->safe_psql('postgres', q{SELECT count(*) FROM tributary.sync_change}), '0', "$p no kept change is left");
	$source->safe_psql('postgres', qq{UPDATE public.big SET v = 'streams $job' WHERE id <= 10});
	is($target->safe_psql('postgres', qq{SELECT tributary.wait_for_sync('$job', '60 s')}), 't', "$p later changes");
	is(digest($target, "SELECT * FROM $nsp.big"), digest($source, 'SELECT * FROM public.big'), "$p stream as before");

	# add_table on the streaming job: the new table is copied the same way
	$target->safe_psql('postgres', qq{CREATE TABLE $nsp.third (id int PRIMARY KEY, v text)});
	slow_copy("$nsp.third");
	my $runs = $target->safe_psql('postgres', qq{SELECT count(*) FROM tributary.runs WHERE job_name = '$job'});
	$target->safe_psql('postgres', qq{SELECT tributary.add_table('$job', 'public.third')});
	ok(in_copy($job, 'public.third', 1), "$p add_table: the new table is copied while the job streams");
	$source->safe_psql('postgres', qq{
		INSERT INTO public.other VALUES ($base + 5001, 'during add_table');
		UPDATE public.third SET v = 'changed $job' WHERE id % 100 = 0;
		INSERT INTO public.third VALUES ($base + 70001, 'new');
	});
	ok($target->poll_query_until('postgres', qq{SELECT count(*) = 1 FROM $nsp.other WHERE id = $base + 5001}),
		"$p add_table: a row of another table arrives");
	is(copy_state($job, 'public.third'), 'sync true', "$p add_table: ... before the copy ended");
	is($target->safe_psql('postgres', qq{SELECT tributary.wait_for_sync('$job', '120 s')}), 't', "$p add_table: the job syncs");
	is($target->safe_psql('postgres', qq{SELECT count(*) FROM tributary.runs WHERE job_name = '$job'}), $runs,
		"$p add_table: the same worker run did it all");
	for my $t ('third', 'other')
	{
		is(digest($target, "SELECT * FROM $nsp.$t"), digest($source, "SELECT * FROM public.$t"),
			"$p add_table: $t equals the source");
	}
	$target->safe_psql('postgres', qq{SELECT tributary.stop_job('$job')});
	return;
}

pg_run('pgj', 'pg', 'tributary_decoder', 'public', 0);
pg_run('pgo', 'pgo', 'pgoutput', 'po', 100000);

# ---------------------------------------------------------------------
# MariaDB source
# ---------------------------------------------------------------------
my $my = MariaDBNode->new('nopause', 'binlog-row-metadata' => 'FULL');
$my->sql(q{
	CREATE DATABASE shop;
	USE shop;
	CREATE TABLE shop.big (id INT PRIMARY KEY, v VARCHAR(40), n INT);
	INSERT INTO shop.big SELECT seq, MD5(seq), 0 FROM seq_1_to_200000;
	CREATE TABLE shop.other (id INT PRIMARY KEY, v VARCHAR(40));
	INSERT INTO shop.other SELECT seq, CONCAT('other ', seq) FROM seq_1_to_100;
});
my $myconn = $my->conninfo(undef, 'root');
is(start_synced('mj', 'maria', 'mysql', $myconn, '', 'mirror', 'shop.big', 'shop.other'), 't', 'mariadb: the job syncs');

# my_digest / pg_digest: the same digest of a table on both sides
sub my_digest
{
	my ($cols, $table) = @_;
	return $my->sql(qq{SET SESSION group_concat_max_len = 1073741824;
		SELECT CONCAT(COUNT(*), ':', MD5(COALESCE(GROUP_CONCAT(CONCAT_WS('|', $cols) ORDER BY id SEPARATOR '\\n'), '')))
		  FROM shop.$table});
}

sub pg_digest
{
	my ($cols, $table) = @_;
	return $target->safe_psql('postgres', qq{
		SELECT count(*) || ':' || md5(coalesce(string_agg(concat_ws('|', $cols), E'\\n' ORDER BY id), ''))
		  FROM mirror.$table});
}
is(pg_digest('id, v, n', 'big'), my_digest('id, v, n', 'big'), 'mariadb: the first copy equals the source');

slow_copy('mirror.big');
$target->safe_psql('postgres', q{SELECT tributary.resync_table('mj', 'shop.big')});
ok(in_copy('mj', 'shop.big', 2), 'mariadb: the table is being copied again (state sync, chunks left)');
$my->sql(q{
	USE shop;
	INSERT INTO shop.other SELECT seq, CONCAT('during ', seq) FROM seq_1001_to_1050;
	UPDATE shop.big SET n = n + 1 WHERE id % 997 = 0;
	DELETE FROM shop.big WHERE id % 1009 = 0;
	INSERT INTO shop.big SELECT seq, 'new', 1 FROM seq_300001_to_300100;
});
ok($target->poll_query_until('postgres', q{SELECT count(*) = 50 FROM mirror.other WHERE id > 1000}),
	'mariadb: rows written to another table during the copy arrive');
is(copy_state('mj', 'shop.big'), 'sync true', 'mariadb: ... before the copy ended');

# writes all along, and restart_job in the middle of the copy
my $churn = $my->background(q{
	USE shop;
	DELIMITER //
	CREATE PROCEDURE churn()
	BEGIN
	  DECLARE i INT DEFAULT 1;
	  WHILE i <= 600 DO
	    INSERT INTO shop.other VALUES (2000 + i, CONCAT('writer ', i));
	    UPDATE shop.big SET n = n + 10 WHERE id = 1 + (i * 7919) % 200000;
	    DELETE FROM shop.big WHERE id = 100 + i * 311;
	    INSERT INTO shop.big VALUES (310000 + i, 'writer', i);
	    DO SLEEP(0.005);
	    SET i = i + 1;
	  END WHILE;
	END //
	DELIMITER ;
	CALL churn();
});
ok(in_copy('mj', 'shop.big', 6), 'mariadb: the copy goes on');
my $mj_run = $target->safe_psql('postgres', q{SELECT max(run_id) FROM tributary.runs WHERE job_name = 'mj'});
$target->safe_psql('postgres', q{SELECT tributary.restart_job('mj')});
ok($target->poll_query_until('postgres', qq{SELECT count(*) > 0 FROM tributary.runs WHERE job_name = 'mj' AND run_id > $mj_run
		AND status = 'running'}), 'mariadb: restart_job during the copy starts a new run');
is(copy_state('mj', 'shop.big'), 'sync true', 'mariadb: which goes on with the copy');
$churn->finish;
is($target->safe_psql('postgres', q{SELECT tributary.wait_for_sync('mj', '300 s')}), 't', 'mariadb: the job syncs after the copy');
is(copy_state('mj', 'shop.big'), 'streaming false', 'mariadb: the table streams again');
is(pg_digest('id, v, n', 'big'), my_digest('id, v, n', 'big'), 'mariadb: shop.big equals the source');
is(pg_digest('id, v', 'other'), my_digest('id, v', 'other'), 'mariadb: shop.other equals the source');
$my->sql(q{UPDATE shop.big SET v = 'streams' WHERE id <= 10; DELETE FROM shop.other WHERE id <= 5});
is($target->safe_psql('postgres', q{SELECT tributary.wait_for_sync('mj', '60 s')}), 't', 'mariadb: later changes');
is(pg_digest('id, v, n', 'big'), my_digest('id, v, n', 'big'), 'mariadb: stream as before');
is(pg_digest('id, v', 'other'), my_digest('id, v', 'other'), 'mariadb: on both tables');

# add_table on the streaming job
$my->sql(q{
	USE shop;
	CREATE TABLE shop.third (id INT PRIMARY KEY, v VARCHAR(40));
	INSERT INTO shop.third SELECT seq, CONCAT('third ', seq) FROM seq_1_to_60000;
});
$target->safe_psql('postgres', q{CREATE TABLE mirror.third (id int PRIMARY KEY, v varchar(40))});
slow_copy('mirror.third');
my $my_runs = $target->safe_psql('postgres', q{SELECT count(*) FROM tributary.runs WHERE job_name = 'mj'});
$target->safe_psql('postgres', q{SELECT tributary.add_table('mj', 'shop.third')});
ok(in_copy('mj', 'shop.third', 1), 'mariadb: add_table: the new table is copied while the job streams');
$my->sql(q{
	INSERT INTO shop.other VALUES (5001, 'during add_table');
	UPDATE shop.third SET v = 'changed' WHERE id % 100 = 0;
	INSERT INTO shop.third VALUES (70001, 'new');
});
ok($target->poll_query_until('postgres', q{SELECT count(*) = 1 FROM mirror.other WHERE id = 5001}),
	'mariadb: add_table: a row of another table arrives');
is(copy_state('mj', 'shop.third'), 'sync true', 'mariadb: add_table: ... before the copy ended');
is($target->safe_psql('postgres', q{SELECT tributary.wait_for_sync('mj', '120 s')}), 't', 'mariadb: add_table: the job syncs');
is($target->safe_psql('postgres', q{SELECT count(*) FROM tributary.runs WHERE job_name = 'mj'}), $my_runs,
	'mariadb: add_table: the same worker run did it all');
is(pg_digest('id, v', 'third'), my_digest('id, v', 'third'), 'mariadb: add_table: shop.third equals the source');
is(pg_digest('id, v', 'other'), my_digest('id, v', 'other'), 'mariadb: add_table: shop.other equals the source');

is($target->safe_psql('postgres', q{SELECT count(*) FROM tributary.errors WHERE job_name IN ('pgj', 'mj')}), '0',
	'no job recorded an error');

$target->stop;
done_testing();
