# 041_resync_nopause.pl -- resync_table on a running full+cdc job copies
# the table again while the job's other tables keep streaming (issue 13
# item 7), for a PostgreSQL and a MariaDB source: while the table's copy
# is in progress (a trigger on its target makes each chunk slow), rows
# written to another table arrive on the target; rows written to the
# table being copied arrive too; the worker is killed (PostgreSQL) or the
# job restarted (MariaDB) in the middle of the copy, which goes on in the
# next run; at the end every table equals its source.
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

# ---------------------------------------------------------------------
# PostgreSQL source
# ---------------------------------------------------------------------
my $source = source_node('source', 1);
$source->safe_psql('postgres', q{
	CREATE TABLE public.big (id int PRIMARY KEY, v text, n int);
	CREATE TABLE public.other (id int PRIMARY KEY, v text);
	ALTER TABLE public.big REPLICA IDENTITY FULL;
	ALTER TABLE public.other REPLICA IDENTITY FULL;
	INSERT INTO public.big SELECT g, md5(g::text), 0 FROM generate_series(1, 200000) g;
	INSERT INTO public.other SELECT g, 'other ' || g FROM generate_series(1, 100) g;
});
my $conn = pg_conninfo($source);
$target->safe_psql('postgres', qq{
	SELECT tributary.create_source('pg', 'postgresql', '$conn', '{"heartbeat_interval": 1}');
	SELECT tributary.create_job('pgj', 'pg', 'full+cdc', '{"snapshot_chunk_rows": 5000}');
	SELECT tributary.add_table('pgj', 'public.big');
	SELECT tributary.add_table('pgj', 'public.other');
	SELECT tributary.start_job('pgj');
});
is($target->safe_psql('postgres', q{SELECT tributary.wait_for_sync('pgj', '180 s')}), 't', 'pg: the job syncs');
my $run_before = $target->safe_psql('postgres', q{SELECT max(run_id) FROM tributary.runs WHERE job_name = 'pgj'});

# the target drifted; resync_table copies the table again
slow_copy('public.big');
$target->safe_psql('postgres', q{
	DELETE FROM public.big WHERE id % 1000 = 7;
	SELECT tributary.resync_table('pgj', 'public.big');
});
ok(in_copy('pgj', 'public.big', 2), 'pg: the table is being copied again (state sync, chunks left)');

# rows of the other table and of the table being copied, while it is copied
$source->safe_psql('postgres', q{
	INSERT INTO public.other SELECT g, 'during ' || g FROM generate_series(1001, 1050) g;
	UPDATE public.big SET n = n + 1 WHERE id % 997 = 0;
	DELETE FROM public.big WHERE id % 1009 = 0;
	INSERT INTO public.big SELECT g, 'new', 1 FROM generate_series(300001, 300100) g;
});
ok($target->poll_query_until('postgres', q{SELECT count(*) = 50 FROM public.other WHERE id > 1000}),
	'pg: rows written to another table during the copy arrive');
is(copy_state('pgj', 'public.big'), 'sync true', 'pg: ... before the copy ended');
is($target->safe_psql('postgres', q{SELECT count(*) FROM tributary.runs WHERE job_name = 'pgj' AND run_id > } . $run_before),
	'0', 'pg: by the same worker run (no restart)');

# a writer on both tables, and the worker killed in the middle of the copy
my $writer = start_writer($source, q{
	FOR i IN 1 .. 300 LOOP
		INSERT INTO public.other VALUES (2000 + i, 'writer ' || i);
		UPDATE public.big SET n = n + 10 WHERE id = 1 + (i * 7919) % 200000;
		DELETE FROM public.big WHERE id = 100 + i * 613;
		INSERT INTO public.big VALUES (310000 + i, 'writer', i);
		COMMIT;
		PERFORM pg_sleep(0.01);
	END LOOP;});
ok(in_copy('pgj', 'public.big', 6), 'pg: the copy goes on');
is($target->safe_psql('postgres', q{SELECT string_agg(pg_terminate_backend(pid)::text, ',')
		FROM (SELECT pid FROM pg_stat_activity WHERE application_name = 'pg_tributary job pgj' OFFSET 0) w}),
	'true', 'pg: the job worker is killed during the copy');
ok($target->poll_query_until('postgres', qq{SELECT count(*) > 0 FROM tributary.runs WHERE job_name = 'pgj' AND run_id > $run_before
		AND status = 'running'}), 'pg: a new run starts');
is(copy_state('pgj', 'public.big'), 'sync true', 'pg: and goes on with the copy');
$writer->quit;
$source->safe_psql('postgres', q{UPDATE public.other SET v = v || ' after' WHERE id % 3 = 0});
is($target->safe_psql('postgres', q{SELECT tributary.wait_for_sync('pgj', '300 s')}), 't', 'pg: the job syncs after the copy');
is(copy_state('pgj', 'public.big'), 'streaming false', 'pg: the table streams again');
for my $t ('public.big', 'public.other')
{
	is(digest($target, "SELECT * FROM $t"), digest($source, "SELECT * FROM $t"), "pg: $t equals the source");
}
is($target->safe_psql('postgres', q{SELECT count(*) FROM tributary.sync_change}), '0', 'pg: no kept change is left');
$source->safe_psql('postgres', q{UPDATE public.big SET v = 'streams' WHERE id <= 10});
is($target->safe_psql('postgres', q{SELECT tributary.wait_for_sync('pgj', '60 s')}), 't', 'pg: later changes');
is(digest($target, 'SELECT * FROM public.big'), digest($source, 'SELECT * FROM public.big'), 'pg: stream as before');
$target->safe_psql('postgres', q{SELECT tributary.stop_job('pgj')});

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
$target->safe_psql('postgres', qq{
	SELECT tributary.create_source('maria', 'mysql', '$myconn', '{"heartbeat_interval": 1}');
	SELECT tributary.create_job('mj', 'maria', 'full+cdc',
		'{"snapshot_chunk_rows": 5000, "target_schema": "mirror", "restart-strategy.type": "fixed-delay"}');
	SELECT tributary.add_table('mj', 'shop.big');
	SELECT tributary.add_table('mj', 'shop.other');
	SELECT tributary.start_job('mj');
});
is($target->safe_psql('postgres', q{SELECT tributary.wait_for_sync('mj', '180 s')}), 't', 'mariadb: the job syncs');

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
is($target->safe_psql('postgres', q{SELECT count(*) FROM tributary.errors WHERE job_name IN ('pgj', 'mj')}), '0',
	'no job recorded an error');

$target->stop;
done_testing();
