# 047_merge_tables.pl -- many source tables into one target (issue 14
# item 4): three MariaDB shards with overlapping keys merged by add_tables'
# rewrite rule 'orders_[0-9]+ => orders_all' into one target whose key
# includes a tributary.source_table() column; streamed writes on every
# shard; a TRUNCATE of one shard empties only its rows; a shard created
# later joins through a followed rule.  Merging that is not asked for is
# refused with the same message by add_table and add_tables.  On a
# PostgreSQL source, a merge without a source column warns, syncs shards
# whose keys do not collide, and refuses resync_table of one shard.
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
my $my = MariaDBNode->new('shards');
$my->sql(q{CREATE DATABASE app; USE app;
	CREATE TABLE orders_1 (id INT PRIMARY KEY, item VARCHAR(20), qty INT);
	CREATE TABLE orders_2 (id INT PRIMARY KEY, item VARCHAR(20), qty INT);
	CREATE TABLE orders_3 (id INT PRIMARY KEY, item VARCHAR(20), qty INT);
	CREATE TABLE other (id INT PRIMARY KEY);
	INSERT INTO orders_1 SELECT seq, CONCAT('a', seq), seq FROM seq_1_to_100;
	INSERT INTO orders_2 SELECT seq, CONCAT('b', seq), seq * 2 FROM seq_1_to_80;
	INSERT INTO orders_3 SELECT seq, CONCAT('c', seq), seq * 3 FROM seq_1_to_60;});
my $mc = $my->conninfo('app');
$target->safe_psql('postgres', qq{
	SELECT tributary.create_source('my', 'mysql', '$mc', '{"heartbeat_interval": 1}');
	SELECT tributary.create_job('plain', 'my', 'full+cdc', '{"target_schema": "merged"}');
	SELECT tributary.create_job('shards', 'my', 'full+cdc', '{"target_schema": "merged", "ddl": {"truncate_table": "apply", "drop_table": "apply", "rename_table": "apply"}, "ddl_drop_target": true}');
});

# merging that is not asked for: one message for add_table and add_tables
my ($ret, $out, $err) = $target->psql('postgres',
	q{SELECT tributary.add_tables('plain', 'app\.orders_[0-9]+', NULL, 'orders_[0-9]+ => orders_all')});
like($err, qr/ERROR:  several source tables map to target table merged\.orders_all \(source table \[app\.orders_2\] among them\)/,
	'add_tables: merging not asked for is refused');
like($err, qr/merge => true/, '... and the hint says how to ask for it');
is($target->safe_psql('postgres', q{SELECT count(*) FROM tributary.tables WHERE job_name = 'plain'}), '0', '... adding nothing');
$target->safe_psql('postgres', q{SELECT tributary.add_table('plain', 'app.orders_1', 'merged.one')});
($ret, $out, $err) = $target->psql('postgres', q{SELECT tributary.add_table('plain', 'app.orders_2', 'merged.one')});
like($err, qr/ERROR:  several source tables map to target table merged\.one \(source table \[app\.orders_2\] among them\)/,
	'add_table with a target already in the job: the same message');
like($err, qr/DETAIL:  Source table \[app\.orders_1\] of job "plain" is synced into it already\./, '... naming the table there');
$target->safe_psql('postgres', q{SELECT tributary.drop_job('plain')});

# asked for: the rewrite maps the shards to one target; source_column
# tells their rows apart and is in the created target's key
($ret, $out, $err) = $target->psql('postgres',
	q{SELECT tributary.add_tables('shards', 'app\.orders_[0-9]+', NULL, 'orders_[0-9]+ => orders_all',
		follow => true, merge => true, source_column => 'shard')});
is($out, '3', 'add_tables merges the three shards');
unlike($err, qr/WARNING/, 'no warning: the key includes the source column');
is($target->safe_psql('postgres', q{SELECT string_agg(a.attname, ',' ORDER BY k.o)
	FROM pg_index i, unnest(i.indkey) WITH ORDINALITY k(attnum, o), pg_attribute a
	WHERE i.indrelid = 'merged.orders_all'::regclass AND i.indisprimary AND a.attrelid = i.indrelid AND a.attnum = k.attnum}),
	'shard,id', 'the created target is keyed by (shard, id)');
is($target->safe_psql('postgres', q{SELECT string_agg(source_table || '>' || target_table, ' ' ORDER BY source_table) FROM tributary.tables WHERE job_name = 'shards'}),
	'app.orders_1>merged.orders_all app.orders_2>merged.orders_all app.orders_3>merged.orders_all', 'tributary.tables shows three sources, one target');
$target->safe_psql('postgres', q{SELECT tributary.start_job('shards')});
is($target->safe_psql('postgres', q{SELECT tributary.wait_for_sync('shards', '60 s')}), 't', 'the job syncs');

my $expected_sql = q{USE app; SET SESSION group_concat_max_len = 1000000; SELECT GROUP_CONCAT(r ORDER BY r SEPARATOR ' ') FROM (
	SELECT CONCAT('app.orders_1/', id, '/', item, '/', qty) r FROM orders_1
	UNION ALL SELECT CONCAT('app.orders_2/', id, '/', item, '/', qty) FROM orders_2
	UNION ALL SELECT CONCAT('app.orders_3/', id, '/', item, '/', qty) FROM orders_3
	UNION ALL SELECT CONCAT('app.orders_4/', id, '/', item, '/', qty) FROM orders_4) u};
my $target_sql = q{SELECT coalesce(string_agg(shard || '/' || id || '/' || item || '/' || qty, ' ' ORDER BY (shard || '/' || id || '/' || item || '/' || qty) COLLATE "C"), '') FROM merged.orders_all};
$my->sql(q{USE app; CREATE TABLE orders_4 (id INT PRIMARY KEY, item VARCHAR(20), qty INT);});
is($target->safe_psql('postgres', q{SELECT count(*) FROM merged.orders_all}), '240', 'every shard copied: 100 + 80 + 60 rows with overlapping keys');
is($target->safe_psql('postgres', q{SELECT count(*) FROM merged.orders_all WHERE id = 1}), '3', 'key 1 once per shard');

# streamed writes on every shard, with equal keys; a shard created later
$my->sql(q{USE app;
	UPDATE orders_1 SET qty = qty + 1000 WHERE id <= 10;
	UPDATE orders_2 SET qty = qty + 2000 WHERE id <= 10;
	DELETE FROM orders_3 WHERE id BETWEEN 5 AND 9;
	INSERT INTO orders_1 VALUES (500, 'a500', 5);
	INSERT INTO orders_2 VALUES (500, 'b500', 5);
	UPDATE orders_3 SET id = id + 700 WHERE id = 20;
	INSERT INTO orders_4 VALUES (1, 'd1', 1), (2, 'd2', 2);});
is($target->safe_psql('postgres', q{SELECT tributary.wait_for_sync('shards', '60 s')}), 't', 'the job syncs the stream');
is($target->safe_psql('postgres', $target_sql), $my->sql($expected_sql), 'the target equals the union of the shards, each row tagged with its shard');
is($target->safe_psql('postgres', q{SELECT string_agg(source_table, ',' ORDER BY source_table) FROM tributary.tables WHERE job_name = 'shards' AND target_table = 'merged.orders_all'}),
	'app.orders_1,app.orders_2,app.orders_3,app.orders_4', 'the shard created later was merged by the followed rule');

# a truncate of one shard empties only its rows
$my->sql(q{USE app; TRUNCATE TABLE orders_2; INSERT INTO orders_2 VALUES (1, 'b-new', 1);});
is($target->safe_psql('postgres', q{SELECT tributary.wait_for_sync('shards', '60 s')}), 't', 'the job syncs the truncate');
is($target->safe_psql('postgres', $target_sql), $my->sql($expected_sql), 'after TRUNCATE of one shard the target equals the union again');
is($target->safe_psql('postgres', q{SELECT count(*) FROM merged.orders_all WHERE shard = 'app.orders_1'}), '101', 'the other shards keep their rows');

# resync of one shard: only its rows are replaced
$my->sql(q{USE app; INSERT INTO orders_3 VALUES (900, 'c900', 9);});
$target->safe_psql('postgres', q{SELECT tributary.resync_table('shards', 'app.orders_3')});
is($target->safe_psql('postgres', q{SELECT tributary.wait_for_sync('shards', '60 s')}), 't', 'the job syncs after resync_table of one shard');
is($target->safe_psql('postgres', $target_sql), $my->sql($expected_sql), 'after resync_table of one shard the target equals the union');

# a shard renamed on the source (ddl apply): its rows name it anew, the
# merged target keeps its name, and the shard's changes go on
$my->sql(q{USE app; RENAME TABLE orders_3 TO orders_x3; UPDATE orders_x3 SET qty = qty + 1 WHERE id = 1;});
is($target->safe_psql('postgres', q{SELECT tributary.wait_for_sync('shards', '60 s')}), 't', 'the job syncs after a shard is renamed');
my $renamed_sql = $expected_sql =~ s{'app\.orders_3/'}{'app.orders_x3/'}r =~ s{FROM orders_3\b}{FROM orders_x3}r;
is($target->safe_psql('postgres', $target_sql), $my->sql($renamed_sql), 'after RENAME TABLE of a shard its rows carry the new name');
is($target->safe_psql('postgres', q{SELECT count(*) FROM merged.orders_all WHERE shard = 'app.orders_3'}), '0', 'none carries the old name');

# a shard dropped on the source (ddl apply, ddl_drop_target): the merged
# target stays, without that shard's rows
my $before = $target->safe_psql('postgres', q{SELECT count(*) FROM merged.orders_all WHERE shard <> 'app.orders_4'});
$my->sql(q{USE app; DROP TABLE orders_4;});
$target->poll_query_until('postgres', q{SELECT count(*) = 3 FROM tributary.tables WHERE job_name = 'shards'})
  or die 'the dropped shard did not leave the job';
is($target->safe_psql('postgres', q{SELECT tributary.wait_for_sync('shards', '60 s')}), 't', 'the job syncs after a shard is dropped');
is($target->safe_psql('postgres', q{SELECT count(*) FROM merged.orders_all WHERE shard = 'app.orders_4'}), '0', 'the dropped shard\'s rows are gone');
is($target->safe_psql('postgres', q{SELECT count(*) FROM merged.orders_all WHERE shard <> 'app.orders_4'}), $before,
	'the merged target stays with the other shards\' rows');
is($target->safe_psql('postgres', q{SELECT count(*) FROM tributary.errors WHERE job_name = 'shards'}), '0', 'no errors');

# a PostgreSQL source: a merge without a source column warns; key ranges that
# do not collide sync; one shard cannot be copied again alone
my $source = source_node('source', 1);
$source->safe_psql('postgres', q{
	CREATE TABLE public.part_a (id int PRIMARY KEY, v text);
	CREATE TABLE public.part_b (id int PRIMARY KEY, v text);
	ALTER TABLE public.part_a REPLICA IDENTITY FULL;
	ALTER TABLE public.part_b REPLICA IDENTITY FULL;
	INSERT INTO public.part_a SELECT g, 'a' || g FROM generate_series(1, 50) g;
	INSERT INTO public.part_b SELECT g, 'b' || g FROM generate_series(1001, 1050) g;
});
my $conn = pg_conninfo($source);
$target->safe_psql('postgres', qq{
	SELECT tributary.create_source('pg', 'postgresql', '$conn');
	SELECT tributary.create_job('pgm', 'pg', 'full+cdc');
	SELECT tributary.add_table('pgm', 'public.part_a', 'public.parts', merge => true);
});
($ret, $out, $err) = $target->psql('postgres', q{SELECT tributary.add_table('pgm', 'public.part_b', 'public.parts', merge => true)});
like($err, qr/WARNING:  the key of target table public\.parts does not include a column fed by tributary\.source_table\(\)/,
	'a merge without a source column in the key warns');
like($err, qr/overwrite each other/, '... saying what can happen');
$target->safe_psql('postgres', q{SELECT tributary.start_job('pgm')});
is($target->safe_psql('postgres', q{SELECT tributary.wait_for_sync('pgm', '60 s')}), 't', 'the PostgreSQL merge syncs');
is($target->safe_psql('postgres', q{SELECT count(*) || '/' || min(id) || '/' || max(id) FROM public.parts}), '100/1/1050',
	'both tables copied into one target, neither copy emptying the other');
$source->safe_psql('postgres', q{UPDATE public.part_a SET v = 'A' WHERE id = 1; DELETE FROM public.part_b WHERE id = 1050;});
is($target->safe_psql('postgres', q{SELECT tributary.wait_for_sync('pgm', '60 s')}), 't', 'streamed');
is($target->safe_psql('postgres', q{SELECT string_agg(id || v, ',' ORDER BY id) FROM public.parts}),
	$source->safe_psql('postgres', q{SELECT string_agg(id || v, ',' ORDER BY id) FROM (SELECT * FROM public.part_a UNION ALL SELECT * FROM public.part_b) u}),
	'the target equals the union of both tables');
($ret, $out, $err) = $target->psql('postgres', q{SELECT tributary.resync_table('pgm', 'public.part_a')});
like($err, qr/cannot copy source table \[public\.part_a\] again alone: target table public\.parts merges several source tables/,
	'resync_table of one table of such a target is refused');
like($err, qr/restart_job\('pgm', false\)/, '... pointing at restart_job');
$target->safe_psql('postgres', q{SELECT tributary.restart_job('pgm', false)});
is($target->safe_psql('postgres', q{SELECT tributary.wait_for_sync('pgm', '60 s')}), 't', 'restart_job copies both again');
is($target->safe_psql('postgres', q{SELECT count(*) FROM public.parts}), '99', 'with every row once');

done_testing();
