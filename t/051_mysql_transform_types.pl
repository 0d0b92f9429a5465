# 051_mysql_transform_types.pl -- found by review 9, kept as regression tests: stream transforms on a
# MariaDB source: expressions over every kind of mapped type give the same
# value for a snapshot row and for the same row streamed; a filter crossed
# by updates; a merged target with a source column and TRUNCATE.
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
my $my = MariaDBNode->new('xf', 'binlog-row-metadata' => 'FULL');
my $cols = q{(id INT PRIMARY KEY, ti TINYINT, tb TINYINT(1), iu INT UNSIGNED, bu BIGINT UNSIGNED, de DECIMAL(12,3), fl FLOAT, db DOUBLE,
	bt BIT(5), ch CHAR(4), vc VARCHAR(20) CHARACTER SET latin1, bi BINARY(4), bl BLOB, da DATE, dt DATETIME(3), ts TIMESTAMP(2) NULL,
	tm TIME(1), yr YEAR, en ENUM('x','y','z'), st SET('a','b','c'), js JSON)};
my $vals = q{(%d, -5, 1, 4000000000, 18446744073709551615, -123.456, 1.5, 2.25, b'10101', 'ab', 'café', 'ab', 'blob', '2024-02-29',
	'2024-03-01 12:34:56.789', '2024-03-01 01:02:03.45', '12:34:56.7', 2024, 'y', 'a,c', '{"k": [1, 2]}')};
$my->sql(qq{CREATE DATABASE app; USE app; CREATE TABLE t $cols;
	INSERT INTO t VALUES } . sprintf($vals, 1) . q{;
	CREATE TABLE f (id INT PRIMARY KEY, status VARCHAR(5), qty INT);
	INSERT INTO f SELECT seq, IF(seq % 2 = 0, 'a', 'b'), seq FROM seq_1_to_20;});
my $mc = $my->conninfo('app');
my @names = qw(ti tb iu bu de fl db bt ch vc bi bl da dt ts tm yr en st js);
my $colmap = '{"id": "id", ' . join(', ', map { qq{"x_$_": "($_)::text"} } @names) . '}';
$target->safe_psql('postgres', qq{
	SELECT tributary.create_source('my', 'mysql', '$mc', '{"heartbeat_interval": 1}');
	SELECT tributary.create_job('mx', 'my', 'full+cdc', '{"target_schema": "mx"}');
	SELECT tributary.add_table('mx', 'app.t', 'mx.t', '$colmap');
	SELECT tributary.add_table('mx', 'app.f', 'mx.f', '{"id": "id", "status": "status", "q2": "qty * 2"}', filter => \$\$status = 'a'\$\$);
	SELECT tributary.start_job('mx');
});
is($target->safe_psql('postgres', q{SELECT tributary.wait_for_sync('mx', '60 s')}), 't', 'snapshot');
$my->sql(q{USE app; INSERT INTO t VALUES } . sprintf($vals, 2) . q{;
	INSERT INTO t VALUES } . sprintf($vals, 3) . q{; UPDATE t SET ti = -5 WHERE id = 3;
	UPDATE f SET status = 'a' WHERE id IN (1, 3); UPDATE f SET status = 'b' WHERE id IN (2, 4); UPDATE f SET qty = 100 WHERE id IN (6, 7);
	UPDATE f SET id = id + 100 WHERE id IN (8, 9); DELETE FROM f WHERE id IN (10, 11); INSERT INTO f VALUES (50, 'a', 1), (51, 'b', 1);});
is($target->safe_psql('postgres', q{SELECT tributary.wait_for_sync('mx', '60 s')}), 't', 'stream');
for my $n (@names)
{
	is($target->safe_psql('postgres', "SELECT x_$n FROM mx.t WHERE id = 2") . ' / ' . $target->safe_psql('postgres', "SELECT x_$n FROM mx.t WHERE id = 3"),
		$target->safe_psql('postgres', "SELECT x_$n FROM mx.t WHERE id = 1") . ' / ' . $target->safe_psql('postgres', "SELECT x_$n FROM mx.t WHERE id = 1"),
		"$n: a streamed insert and update give the snapshot's value");
}
is($target->safe_psql('postgres', q{SELECT string_agg(id || ' ' || status || ' ' || q2, ',' ORDER BY id) FROM mx.f}),
	$my->sql(q{USE app; SELECT GROUP_CONCAT(CONCAT(id, ' ', status, ' ', qty * 2) ORDER BY id SEPARATOR ',') FROM f WHERE status = 'a'}),
	'filter crossed by updates: the target is the filtered source');
is($target->safe_psql('postgres', q{SELECT coalesce(string_agg(message, E'\n'), '') FROM tributary.errors WHERE job_name = 'mx'}), '', 'no errors');

# a merged target with soft deletes: a TRUNCATE of one source marks its rows (as on PostgreSQL sources)
$my->sql(q{USE app; CREATE TABLE s1 (id INT PRIMARY KEY, v INT); CREATE TABLE s2 (id INT PRIMARY KEY, v INT);
	INSERT INTO s1 VALUES (1, 1), (2, 2); INSERT INTO s2 VALUES (1, 10);});
$target->safe_psql('postgres', q{
	SELECT tributary.create_job('ms', 'my', 'full+cdc', '{"target_schema": "ms", "dml": {"delete": "mark:deleted_at"}, "ddl": {"truncate_table": "apply"}}');
	SELECT tributary.add_table('ms', 'app.s1', 'ms.s', merge => true, source_column => 'shard');
	SELECT tributary.add_table('ms', 'app.s2', 'ms.s', merge => true, source_column => 'shard');
	SELECT tributary.start_job('ms');
});
is($target->safe_psql('postgres', q{SELECT tributary.wait_for_sync('ms', '60 s')}), 't', 'soft merge: snapshot');
$my->sql(q{USE app; TRUNCATE TABLE s1;});
is($target->safe_psql('postgres', q{SELECT tributary.wait_for_sync('ms', '60 s')}), 't', 'soft merge: truncate synced');
is($target->safe_psql('postgres', q{SELECT string_agg(shard || ' ' || id || ' ' || (deleted_at IS NOT NULL), ',' ORDER BY shard, id) FROM ms.s}),
	'app.s1 1 true,app.s1 2 true,app.s2 1 false', 'soft merge: the truncated source\'s rows are marked, not deleted');
$my->stop;
done_testing();
