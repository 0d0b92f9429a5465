# 025_pg_partitions.pl -- partitioned PostgreSQL source tables (issue 12
# item 1): the snapshot reads every partition, and the changes of every
# partition arrive as changes of the partitioned table's target through
# tributary_decoder: inserts, updates, deletes, rows moving between
# partitions, a sub-partitioned partition, a partition whose columns are
# in another order (with a dropped column), a partition attached while
# the job streams (copied again), and TRUNCATE of the whole table.  Compared by digest
# after each step.  A TRUNCATE of one partition alone stops the job with
# a clear error (the target cannot tell which rows were in it); the way
# out in its hint works.  Partitions without REPLICA IDENTITY FULL are
# named by add_table and check_source.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use TributaryTest;

my $source = source_node('source', 1);
my $target = target_node('target');
$source->safe_psql('postgres', q{
	CREATE TABLE public.m (id int, region text, v text, n numeric, PRIMARY KEY (id, region))
		PARTITION BY LIST (region);
	CREATE TABLE public.m_eu PARTITION OF public.m FOR VALUES IN ('eu');
	CREATE TABLE public.m_us PARTITION OF public.m FOR VALUES IN ('us') PARTITION BY RANGE (id);
	CREATE TABLE public.m_us_lo PARTITION OF public.m_us FOR VALUES FROM (MINVALUE) TO (1000);
	CREATE TABLE public.m_us_hi PARTITION OF public.m_us FOR VALUES FROM (1000) TO (MAXVALUE);
	-- another column order and a dropped column, then attached
	CREATE TABLE public.m_asia (junk int, n numeric, v text, region text NOT NULL, id int NOT NULL);
	ALTER TABLE public.m_asia DROP COLUMN junk;
	ALTER TABLE public.m ATTACH PARTITION public.m_asia FOR VALUES IN ('asia');
	ALTER TABLE public.m_eu REPLICA IDENTITY FULL;
	ALTER TABLE public.m_us_lo REPLICA IDENTITY FULL;
	ALTER TABLE public.m_us_hi REPLICA IDENTITY FULL;
	ALTER TABLE public.m_asia REPLICA IDENTITY FULL;
	INSERT INTO public.m SELECT g, (ARRAY['eu', 'us', 'asia'])[g % 3 + 1], 'v' || g, g * 1.5
	  FROM generate_series(1, 3000) g;
	CREATE TABLE public.bad (id int PRIMARY KEY) PARTITION BY RANGE (id);
	CREATE TABLE public.bad_1 PARTITION OF public.bad FOR VALUES FROM (0) TO (10);
});
my $conn = pg_conninfo($source);
$target->safe_psql('postgres', qq{
	SELECT tributary.create_source('src', 'postgresql', '$conn');
	SELECT tributary.create_job('p', 'src', 'full+cdc', '{"target_schema": "t", "restart-strategy.type": "none"}');
});

# a partition without REPLICA IDENTITY FULL is named
my ($ret, $out, $err) = $target->psql('postgres', q{SELECT tributary.add_table('p', 'public.bad')});
like($err, qr/partition public\.bad_1 of table \[public\.bad\] does not have replication identity full/,
	'add_table names a partition without replication identity full');
like($target->safe_psql('postgres', q{SELECT detail FROM tributary.check_source('src', ARRAY['public.bad'])
		WHERE NOT ok AND check_name LIKE 'replica_identity partitions%'}),
	qr/public\.bad_1/, 'check_source names it too');

$target->safe_psql('postgres', q{SELECT tributary.add_table('p', 'public.m')});
# a partition of a table the job syncs (or the other way round) is refused
($ret, $out, $err) = $target->psql('postgres', q{SELECT tributary.add_table('p', 'public.m_us_lo')});
like($err, qr/source table \[public\.m_us_lo\] and source table \[public\.m\] of job "p" are partitions of one another/,
	'a partition of a synced partitioned table is refused');
$target->safe_psql('postgres', q{SELECT tributary.create_job('q', 'src', 'full', '{"target_schema": "q"}');
	SELECT tributary.add_table('q', 'public.m_eu')});
($ret, $out, $err) = $target->psql('postgres', q{SELECT tributary.add_table('q', 'public.m')});
like($err, qr/source table \[public\.m\] and source table \[public\.m_eu\] of job "q" are partitions of one another/,
	'... and so is the partitioned table of a synced partition');
$target->safe_psql('postgres', q{SELECT tributary.start_job('p')});
is($target->safe_psql('postgres', q{SELECT tributary.wait_for_sync('p', '60 s')}), 't', 'the job syncs');
is($target->safe_psql('postgres', q{SELECT decoder FROM tributary.jobs WHERE job_name = 'p'}), 'tributary_decoder',
	'through tributary_decoder');

sub compare
{
	my ($when) = @_;
	is(digest($target, 'SELECT * FROM t.m'), digest($source, 'SELECT * FROM public.m'),
		"the target equals the partitioned source $when");
}
compare('after the snapshot');

$source->safe_psql('postgres', q{
	INSERT INTO public.m VALUES (5000, 'asia', 'new asia', 1), (5001, 'us', 'new us hi', 2), (5002, 'eu', 'new eu', 3);
	UPDATE public.m SET v = v || ' changed', n = n + 1 WHERE id % 7 = 0;
	UPDATE public.m SET region = 'eu' WHERE id IN (1, 2, 4, 5);
	UPDATE public.m SET id = id + 2000 WHERE region = 'us' AND id BETWEEN 10 AND 40;
	DELETE FROM public.m WHERE id % 11 = 0;
	BEGIN;
	INSERT INTO public.m VALUES (6000, 'asia', 'in a transaction', 0);
	UPDATE public.m SET region = 'us' WHERE id = 6000;
	DELETE FROM public.m WHERE id = 5002;
	COMMIT;
});
is($target->safe_psql('postgres', q{SELECT tributary.wait_for_sync('p', '60 s')}), 't', 'the changes are applied');
compare('after inserts, updates, deletes and rows moving between partitions');

# a partition attached while the job streams: the rows it held before
# were never changes, so the job copies the table again (ddl policy for
# attach_partition: apply; t/037 covers the other policies)
$target->safe_psql('postgres', q{SELECT tributary.alter_job('p', '{"ddl": {"attach_partition": "apply"}}')});
$source->safe_psql('postgres', q{
	CREATE TABLE public.m_af (LIKE public.m);
	ALTER TABLE public.m_af REPLICA IDENTITY FULL;
	INSERT INTO public.m_af VALUES (7000, 'af', 'before attach', 1);
	ALTER TABLE public.m ATTACH PARTITION public.m_af FOR VALUES IN ('af');
	INSERT INTO public.m VALUES (7001, 'af', 'after attach', 2);
	UPDATE public.m SET v = 'moved to af' , region = 'af' WHERE id = 3;
});
is($target->safe_psql('postgres', q{SELECT tributary.wait_for_sync('p', '60 s')}), 't', 'changes to an attached partition are applied');
is($target->safe_psql('postgres', q{SELECT string_agg(id::text, ',' ORDER BY id) FROM t.m WHERE region = 'af'}), '3,7000,7001',
	'the attached partition\'s rows arrive, those it held before attaching too');
compare('after a partition was attached');

# a partition created while the job streams, with the default replica
# identity (add_table cannot check it): its old images carry the key only,
# which finds the row
$source->safe_psql('postgres', q{
	CREATE TABLE public.m_sa PARTITION OF public.m FOR VALUES IN ('sa');
	INSERT INTO public.m VALUES (8000, 'sa', 'sa one', 1), (8001, 'sa', 'sa two', 2), (8002, 'sa', 'sa three', 3);
	UPDATE public.m SET v = 'sa changed', n = 10 WHERE id = 8000;
	UPDATE public.m SET id = 8100 WHERE id = 8001;
	UPDATE public.m SET region = 'sa' WHERE id = 5000;
	UPDATE public.m SET region = 'eu' WHERE id = 8002;
	DELETE FROM public.m WHERE id = 8100;
});
is($target->safe_psql('postgres', q{SELECT tributary.wait_for_sync('p', '60 s')}), 't', 'changes to a new partition without REPLICA IDENTITY FULL are applied');
is(digest($target, "SELECT * FROM t.m WHERE region IN ('sa', 'eu') OR id >= 8000"),
	digest($source, "SELECT * FROM public.m WHERE region IN ('sa', 'eu') OR id >= 8000"),
	'... exactly');
# (start_job checks every partition again, and would refuse it)
$source->safe_psql('postgres', 'ALTER TABLE public.m_sa REPLICA IDENTITY FULL');

# TRUNCATE of the whole table
$source->safe_psql('postgres', q{
	TRUNCATE public.m;
	INSERT INTO public.m SELECT g, (ARRAY['eu', 'us', 'asia'])[g % 3 + 1], 'again ' || g, g FROM generate_series(1, 300) g;
});
is($target->safe_psql('postgres', q{SELECT tributary.wait_for_sync('p', '60 s')}), 't', 'a TRUNCATE of the table is applied');
compare('after TRUNCATE of the whole table');

# TRUNCATE of one partition alone
$source->safe_psql('postgres', q{TRUNCATE public.m_eu});
ok($target->poll_query_until('postgres', q{SELECT state = 'failed' FROM tributary.jobs WHERE job_name = 'p'}),
	'a TRUNCATE of one partition stops the job');
like($target->safe_psql('postgres', q{SELECT message FROM tributary.errors WHERE job_name = 'p' ORDER BY at DESC LIMIT 1}),
	qr/a partition of source table \[public\.m\] was truncated on its own/, '... naming the table');
$target->safe_psql('postgres', q{SELECT tributary.restart_job('p', false)});
is($target->safe_psql('postgres', q{SELECT tributary.wait_for_sync('p', '120 s')}), 't', 'the hint\'s way out works');
compare('after copying again');

done_testing();
