# 049_merge_edges.pl -- found by review 9, kept as regression tests: many PostgreSQL source
# tables into one target: streamed writes with equal keys, TRUNCATE of one
# source, resync_table of one source, add_table merge into a running job,
# and a source column whose expression is not exactly
# tributary.source_table().
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
	CREATE TABLE public.s1 (id int PRIMARY KEY, v text);
	CREATE TABLE public.s2 (id int PRIMARY KEY, v text);
	CREATE TABLE public.s3 (id int PRIMARY KEY, v text);
	ALTER TABLE public.s1 REPLICA IDENTITY FULL;
	ALTER TABLE public.s2 REPLICA IDENTITY FULL;
	ALTER TABLE public.s3 REPLICA IDENTITY FULL;
	INSERT INTO public.s1 SELECT g, 'a' || g FROM generate_series(1, 30) g;
	INSERT INTO public.s2 SELECT g, 'b' || g FROM generate_series(1, 20) g;
	INSERT INTO public.s3 SELECT g, 'c' || g FROM generate_series(1, 10) g;
	CREATE TABLE public.s4 (id int PRIMARY KEY, shard text);
	ALTER TABLE public.s4 REPLICA IDENTITY FULL;
});
my $conn = pg_conninfo($source);
my ($ret, $out, $err);
$target->safe_psql('postgres', qq{
	SELECT tributary.create_source('pg', 'postgresql', '$conn');
	SELECT tributary.create_job('m', 'pg', 'full+cdc', '{"target_schema": "m"}');
	SELECT tributary.add_table('m', 'public.s1', 'm.allrows', merge => true, source_column => 'shard');
	SELECT tributary.add_table('m', 'public.s2', 'm.allrows', merge => true, source_column => 'shard');
	SELECT tributary.start_job('m');
});
my $exp = q{SELECT * FROM (SELECT 'public.s1' AS shard, id, v FROM public.s1 UNION ALL SELECT 'public.s2', id, v FROM public.s2 UNION ALL SELECT 'public.s3', id, v FROM public.s3) u WHERE shard = ANY (%s)};
my $got = q{SELECT shard, id, v FROM m.allrows};
my $shards = q{'{public.s1,public.s2}'};
sub check
{
	my ($label) = @_;
	is($target->safe_psql('postgres', q{SELECT tributary.wait_for_sync('m', '60 s')}), 't', "$label: in sync");
	is(digest($target, $got), digest($source, sprintf($exp, $shards)), "$label: the target is the union of the sources");
}
check('snapshot');
$source->safe_psql('postgres', q{
	UPDATE public.s1 SET v = v || '!' WHERE id <= 5;
	UPDATE public.s2 SET id = id + 100 WHERE id <= 3;
	DELETE FROM public.s1 WHERE id BETWEEN 6 AND 8;
	INSERT INTO public.s2 VALUES (6000, 'new');
});
check('stream');
$source->safe_psql('postgres', q{TRUNCATE public.s1; INSERT INTO public.s1 VALUES (1, 'again');});
check('truncate of one source');
$source->safe_psql('postgres', q{INSERT INTO public.s2 VALUES (7000, 'before resync')});
$target->safe_psql('postgres', q{SELECT tributary.resync_table('m', 'public.s2')});
$source->safe_psql('postgres', q{UPDATE public.s2 SET v = 'during resync' WHERE id = 10});
check('resync_table of one source');
$target->safe_psql('postgres', q{SELECT tributary.add_table('m', 'public.s3', 'm.allrows', merge => true, source_column => 'shard')});
$source->safe_psql('postgres', q{UPDATE public.s3 SET v = 'c-upd' WHERE id = 2; UPDATE public.s1 SET v = 'a-upd' WHERE id = 1;});
$shards = q{'{public.s1,public.s2,public.s3}'};
$target->poll_query_until('postgres', q{SELECT count(*) = 10 FROM m.allrows WHERE shard = 'public.s3'})
  or diag('s3 not copied: ' . $target->safe_psql('postgres', q{SELECT count(*) FROM m.allrows WHERE shard = 'public.s3'}));
check('add_table merge into a running job');
is($target->safe_psql('postgres', q{SELECT string_agg(message, E'\n') FROM tributary.errors WHERE job_name = 'm'}), '', 'no errors');

# a column computed from tributary.source_table() whose values are not the
# source's name: not a source column (add_table warns; a truncate follows
# the policy for the whole target)
$target->safe_psql('postgres', q{
	CREATE TABLE m.tagged (shard text, id int, v text, PRIMARY KEY (shard, id));
	SELECT tributary.create_job('t', 'pg', 'full+cdc');
	SELECT tributary.add_table('t', 'public.s2', 'm.tagged', $${"shard": "tributary.source_table()::text || '@eu'", "id": "id", "v": "v"}$$, merge => true);
	SELECT tributary.add_table('t', 'public.s3', 'm.tagged', $${"shard": "tributary.source_table()::text || '@eu'", "id": "id", "v": "v"}$$, merge => true);
	SELECT tributary.start_job('t');
});
is($target->safe_psql('postgres', q{SELECT tributary.wait_for_sync('t', '60 s')}), 't', 'tagged: in sync');
is($target->safe_psql('postgres', q{SELECT tributary._source_column(jt_columns) FROM tributary.job_table WHERE jt_source_rel = 's3' AND jt_target_rel = 'tagged'}),
	'', 'tagged: an expression whose values are not the source name does not tell sources apart');
$source->safe_psql('postgres', q{TRUNCATE public.s3});
is($target->safe_psql('postgres', q{SELECT tributary.wait_for_sync('t', '60 s')}), 't', 'tagged: truncate synced');
is($target->safe_psql('postgres', q{SELECT count(*) FROM m.tagged WHERE shard = 'public.s3@eu'}), '0',
	'tagged: a TRUNCATE of one source removes its rows');
is($target->safe_psql('postgres', q{SELECT string_agg(message, E'\n') FROM tributary.errors WHERE job_name = 't'}), '', 'tagged: no errors');
# a source column named like a column of the source, with no columns given
$target->safe_psql('postgres', q{SELECT tributary.create_job('n', 'pg', 'full+cdc')});
($ret, $out, $err) = $target->psql('postgres', q{SELECT tributary.add_table('n', 'public.s4', 'm.s4', merge => true, source_column => 'shard')});
unlike($err, qr/is mapped in columns too/, 'source_column named like a source column, no columns given: the error does not blame columns');
diag("s4: $err");

# remove_table of one merged source with drop_target: the other sources' rows stay
($ret, $out, $err) = $target->psql('postgres', q{SELECT tributary.remove_table('m', 'public.s3', drop_target => true)});
diag("remove_table: ret=$ret err=$err");
is($target->safe_psql('postgres', q{SELECT to_regclass('m.allrows') IS NOT NULL}), 't',
	'remove_table(drop_target) of one merged source keeps the shared target');
$source->safe_psql('postgres', q{UPDATE public.s1 SET v = 'after remove' WHERE id = 1});
$shards = q{'{public.s1,public.s2}'};
my ($r2, $o2, $e2) = $target->psql('postgres', q{SELECT tributary.wait_for_sync('m', '30 s')});
is($e2, '', 'after remove_table of one merged source: the job syncs');

done_testing();
