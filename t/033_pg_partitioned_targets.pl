# 033_pg_partitioned_targets.pl -- partitioned targets (issue 12 item 14),
# on the scenarios of PostgreSQL's own src/test/subscription/t/
# 013_partition.pl: a source partitioned by LIST with sub-partitions and a
# default partition, replicated into a target partitioned another way (by
# RANGE, sub-partitioned, with its columns in another order, a partition
# with yet another column order, and a local column with a default);
# inserts into every partition, updates that move rows between partitions
# on the source, on the target or on both, in-place updates, deletes and
# TRUNCATE.  A plain source table streams into a hash-partitioned target
# through pgoutput.  The snapshot copies into the partitioned targets and
# empties them first; a row no target partition accepts stops the job with
# PostgreSQL's error.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use TributaryTest;

my $source = source_node('publisher', 1);
my $target = target_node('subscriber');
$source->safe_psql('postgres', q{
	CREATE TABLE tab1 (a int PRIMARY KEY, b text) PARTITION BY LIST (a);
	CREATE TABLE tab1_1 PARTITION OF tab1 FOR VALUES IN (1, 2, 3);
	CREATE TABLE tab1_2 PARTITION OF tab1 FOR VALUES IN (4, 5, 6) PARTITION BY LIST (a);
	CREATE TABLE tab1_2_1 PARTITION OF tab1_2 FOR VALUES IN (5);
	CREATE TABLE tab1_2_2 PARTITION OF tab1_2 FOR VALUES IN (4, 6);
	CREATE TABLE tab1_def PARTITION OF tab1 DEFAULT;
	ALTER TABLE tab1_1 REPLICA IDENTITY FULL;
	ALTER TABLE tab1_2_1 REPLICA IDENTITY FULL;
	ALTER TABLE tab1_2_2 REPLICA IDENTITY FULL;
	ALTER TABLE tab1_def REPLICA IDENTITY FULL;
	CREATE TABLE tab_plain (a int PRIMARY KEY, b text);
	ALTER TABLE tab_plain REPLICA IDENTITY FULL;
	INSERT INTO tab1 VALUES (1, 'one'), (4, 'four'), (0, 'zero');
	INSERT INTO tab_plain SELECT g, 'p' || g FROM generate_series(1, 20) g;
	CREATE TABLE narrow (a int PRIMARY KEY, b text);
	ALTER TABLE narrow REPLICA IDENTITY FULL;
	INSERT INTO narrow VALUES (1, 'one');
});
my $conn = pg_conninfo($source);
$target->safe_psql('postgres', qq{
	SELECT tributary.create_source('pub', 'postgresql', '$conn');
	SELECT tributary.create_source('pub_pgo', 'postgresql', '$conn', '{"decoder": "pgoutput"}');
	CREATE SCHEMA x;
	-- another partitioning, another column order, a local column
	CREATE TABLE x.tab1 (c text DEFAULT 'sub', b text, a int PRIMARY KEY) PARTITION BY RANGE (a);
	CREATE TABLE x.tab1_lo PARTITION OF x.tab1 FOR VALUES FROM (MINVALUE) TO (4);
	CREATE TABLE x.tab1_hi PARTITION OF x.tab1 FOR VALUES FROM (4) TO (MAXVALUE) PARTITION BY LIST (a);
	CREATE TABLE x.tab1_hi_45 (b text, c text DEFAULT 'sub', a int NOT NULL);
	ALTER TABLE x.tab1_hi ATTACH PARTITION x.tab1_hi_45 FOR VALUES IN (4, 5);
	CREATE TABLE x.tab1_hi_def PARTITION OF x.tab1_hi DEFAULT;
	-- a stale row the snapshot must remove from a partition
	INSERT INTO x.tab1 VALUES ('sub', 'stale', 5);
	CREATE TABLE x.tab_plain (a int PRIMARY KEY, b text) PARTITION BY HASH (a);
	CREATE TABLE x.tab_plain_0 PARTITION OF x.tab_plain FOR VALUES WITH (MODULUS 2, REMAINDER 0);
	CREATE TABLE x.tab_plain_1 PARTITION OF x.tab_plain FOR VALUES WITH (MODULUS 2, REMAINDER 1);
	CREATE TABLE x.narrow (a int PRIMARY KEY, b text) PARTITION BY LIST (a);
	CREATE TABLE x.narrow_12 PARTITION OF x.narrow FOR VALUES IN (1, 2);
	SELECT tributary.create_job('dec', 'pub', 'full+cdc', '{"target_schema": "x"}');
	SELECT tributary.add_table('dec', 'public.tab1');
	SELECT tributary.start_job('dec');
	SELECT tributary.create_job('pgo', 'pub_pgo', 'full+cdc', '{"target_schema": "x"}');
	SELECT tributary.add_table('pgo', 'public.tab_plain');
	SELECT tributary.start_job('pgo');
	SELECT tributary.create_job('narrow', 'pub', 'full+cdc', '{"target_schema": "x"}');
	SELECT tributary.add_table('narrow', 'public.narrow');
	SELECT tributary.start_job('narrow');
});

# compare: each target equals its source, and rows sit in the partitions they belong to
sub compare
{
	my ($when) = @_;
	for my $job ('dec', 'pgo')
	{
		is($target->safe_psql('postgres', "SELECT tributary.wait_for_sync('$job', '60 s')"), 't', "$job syncs $when");
	}
	is(digest($target, 'SELECT a, b FROM x.tab1'), digest($source, 'SELECT a, b FROM tab1'), "tab1 equals the source $when");
	is(digest($target, 'SELECT a, b FROM x.tab_plain'), digest($source, 'SELECT a, b FROM tab_plain'),
		"tab_plain equals the source $when");
	is($target->safe_psql('postgres', q{SELECT count(*) FROM x.tab1 WHERE c IS DISTINCT FROM 'sub'}), '0',
		"the local column keeps its default $when");
	my $placed = $target->safe_psql('postgres', q{
		SELECT count(*) FROM (SELECT tableoid::regclass::text AS p, a FROM x.tab1) r
		 WHERE p <> CASE WHEN a < 4 THEN 'x.tab1_lo' WHEN a IN (4, 5) THEN 'x.tab1_hi_45' ELSE 'x.tab1_hi_def' END});
	is($placed, '0', "every row of x.tab1 is in its partition $when");
}
compare('after the snapshot');
is($target->safe_psql('postgres', q{SELECT string_agg(tableoid::regclass || ':' || a, ',' ORDER BY a) FROM x.tab1}),
	'x.tab1_lo:0,x.tab1_lo:1,x.tab1_hi_45:4', 'the snapshot routed the rows and removed the stale one');

# inserts into every partition (source and target), then moves
$source->safe_psql('postgres', q{
	INSERT INTO tab1 VALUES (2, 'two'), (3, 'three'), (5, 'five'), (6, 'six'), (7, 'seven'), (-1, 'minus');
	INSERT INTO tab_plain SELECT g, 'p' || g FROM generate_series(21, 40) g;
});
compare('after inserts');
$source->safe_psql('postgres', q{
	UPDATE tab1 SET b = 'uno' WHERE a = 1;
	UPDATE tab1 SET a = 10 WHERE a = 5;
	UPDATE tab1 SET a = 5 WHERE a = 4;
	UPDATE tab1 SET a = 4 WHERE a = 2;
	UPDATE tab1 SET a = 9, b = 'moved' WHERE a = 3;
	UPDATE tab1 SET a = 2 WHERE a = 0;
	UPDATE tab_plain SET a = a + 100 WHERE a % 3 = 0;
	UPDATE tab_plain SET b = 'upd' WHERE a < 10;
});
compare('after updates moving rows between partitions');
$source->safe_psql('postgres', q{
	DELETE FROM tab1 WHERE a IN (7, 2);
	DELETE FROM tab_plain WHERE a > 120;
});
compare('after deletes');
$source->safe_psql('postgres', q{
	BEGIN;
	UPDATE tab1 SET a = a + 100 WHERE a > 3;
	DELETE FROM tab1 WHERE a = 1;
	INSERT INTO tab1 VALUES (1, 'again');
	COMMIT;
});
compare('after a transaction of moves');

# TRUNCATE of the partitioned table, then new rows
$source->safe_psql('postgres', q{TRUNCATE tab1; TRUNCATE tab_plain;
	INSERT INTO tab1 VALUES (3, 'three'), (4, 'four'); INSERT INTO tab_plain VALUES (7, 'seven');});
compare('after TRUNCATE');

# a restart: the snapshot's TRUNCATE and COPY again, into the partitions
$target->safe_psql('postgres', "SELECT tributary.restart_job('dec', false)");
$source->safe_psql('postgres', q{INSERT INTO tab1 VALUES (8, 'eight')});
compare('after a new copy');

# a row the target's partitions cannot hold
$source->safe_psql('postgres', q{INSERT INTO narrow VALUES (3, 'three')});
ok($target->poll_query_until('postgres', q{SELECT state = 'failed' FROM tributary.jobs WHERE job_name = 'narrow'}),
	'a row no target partition accepts stops its job');
like($target->safe_psql('postgres', q{SELECT message FROM tributary.errors WHERE job_name = 'narrow' ORDER BY at DESC LIMIT 1}),
	qr/no partition of relation "narrow" found for row/, '... with PostgreSQL\'s error');

done_testing();
