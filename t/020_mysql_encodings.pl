# 020_mysql_encodings.pl -- strings of MySQL columns in utf8mb4, latin1 and
# cp1251 arrive as the same characters through the snapshot and through
# the binlog (one conversion, mysql_convert.c, for both), into a UTF8
# target database and into a LATIN1 one; a character the target encoding
# cannot hold stops the job with an error instead of arriving altered;
# string primary keys with non-ASCII values chunk correctly.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use TributaryTest;
use MariaDBNode;

my $my = MariaDBNode->new('enc');
$my->sql(q{
	CREATE DATABASE shop;
	CREATE TABLE shop.words (
		k VARCHAR(20) CHARACTER SET utf8mb4 PRIMARY KEY,
		u VARCHAR(40) CHARACTER SET utf8mb4,
		l VARCHAR(40) CHARACTER SET latin1,
		c VARCHAR(40) CHARACTER SET cp1251);
	CREATE TABLE shop.west (
		id INT PRIMARY KEY,
		u VARCHAR(40) CHARACTER SET utf8mb4,
		l VARCHAR(40) CHARACTER SET latin1);
});
# before the jobs start: read by the snapshot
my @words = (
	[ 'a', 'plain', 'plain', 'plain' ],
	[ 'é', 'café €', 'café', 'Жук' ],
	[ 'ü', 'Grüße 中文', 'Grüße', 'щука' ],
	[ 'z', 'end', 'fin', 'конец' ],
	[ 'ÿ', 'ÿ', 'ÿ', 'я' ],
	[ 'Ж', 'Жизнь', 'x', 'Жизнь' ]);
for my $w (@words)
{
	$my->sql("INSERT INTO shop.words VALUES ('" . join("', '", @$w) . "')");
}
$my->sql(q{INSERT INTO shop.west VALUES (1, 'café', 'café'), (2, 'Grüße', 'Grüße'), (3, 'naïve', 'naïve')});

my $conn = $my->conninfo;

# the hex of each column's UTF-8 text, row by row, in key order
sub my_hex
{
	my ($table, $key, @cols) = @_;
	return $my->sql("SELECT CONCAT_WS('|', "
		  . join(', ', map { "HEX(CONVERT($_ USING utf8mb4))" } ($key, @cols))
		  . ") FROM shop.$table ORDER BY $key");
}
sub pg_hex
{
	my ($node, $table, $key, @cols) = @_;
	return $node->safe_psql('postgres', "SELECT concat_ws('|', "
		  . join(', ', map { "upper(encode(convert_to($_, 'UTF8'), 'hex'))" } ($key, @cols))
		  . ") FROM mirror.$table ORDER BY convert_to($key, 'UTF8')");
}

# a UTF8 target: every column, chunks of 2 rows over a utf8mb4 key
my $utf8 = target_node('utf8');
$utf8->safe_psql('postgres', qq{
	CREATE SCHEMA mirror;
	SELECT tributary.create_source('maria', 'mysql', '$conn');
	SELECT tributary.create_job('words', 'maria', 'full+cdc', '{"snapshot_chunk_rows": 2}');
	SELECT tributary.add_table('words', 'shop.words', 'mirror.words');
	SELECT tributary.start_job('words');
	SELECT tributary.wait_for_sync('words', '60 s');
});
# MySQL orders the utf8mb4 key by its collation, PostgreSQL by UTF-8 bytes:
# compare as sets of rows
sub sorted { return join("\n", sort split /\n/, $_[0]); }
is(sorted(pg_hex($utf8, 'words', 'k', 'u', 'l', 'c')), sorted(my_hex('words', 'k', 'u', 'l', 'c')),
	'UTF8 target: the snapshot carries utf8mb4, latin1 and cp1251 text as the same characters');
is($utf8->safe_psql('postgres', q{SELECT count(*) FROM tributary.tables WHERE job_name = 'words' AND chunks_total >= 3}),
	'1', 'the snapshot was read in chunks bounded by non-ASCII keys');
$my->sql(q{INSERT INTO shop.words VALUES ('ñ', 'año ☃', 'año', 'ёж');
	UPDATE shop.words SET l = 'crème', c = 'Жжж' WHERE k = 'a'; DELETE FROM shop.words WHERE k = 'z'});
$utf8->safe_psql('postgres', "SELECT tributary.wait_for_sync('words', '60 s')");
is(sorted(pg_hex($utf8, 'words', 'k', 'u', 'l', 'c')), sorted(my_hex('words', 'k', 'u', 'l', 'c')),
	'UTF8 target: the binlog carries them as the same characters');

# a LATIN1 target: what LATIN1 holds arrives; what it cannot hold stops the job
my $latin = PostgreSQL::Test::Cluster->new('latin');
$latin->init(extra => [ '--encoding=LATIN1', '--locale=C' ]);
$latin->append_conf('postgresql.conf', "shared_preload_libraries = 'pg_tributary'\nmax_worker_processes = 16\n");
$latin->start;
is($latin->safe_psql('postgres', 'SHOW server_encoding'), 'LATIN1', 'the second target database is LATIN1');
$latin->safe_psql('postgres', qq{
	CREATE EXTENSION pg_tributary;
	CREATE SCHEMA mirror;
	SELECT tributary.create_source('maria', 'mysql', '$conn');
	SELECT tributary.create_job('west', 'maria', 'full+cdc',
		'{"restart-strategy.type": "fixed-delay", "restart-strategy.fixed-delay.delay": "100 ms"}');
	SELECT tributary.add_table('west', 'shop.west', 'mirror.west');
	SELECT tributary.start_job('west');
	SELECT tributary.wait_for_sync('west', '60 s');
});
is(pg_hex($latin, 'west', 'id::text', 'u', 'l'), my_hex('west', 'id', 'u', 'l'),
	'LATIN1 target: the snapshot converts utf8mb4 and latin1 text to LATIN1');
$my->sql(q{INSERT INTO shop.west VALUES (4, 'déjà vu', 'déjà vu'); UPDATE shop.west SET u = 'Ærø' WHERE id = 1});
$latin->safe_psql('postgres', "SELECT tributary.wait_for_sync('west', '60 s')");
is(pg_hex($latin, 'west', 'id::text', 'u', 'l'), my_hex('west', 'id', 'u', 'l'),
	'LATIN1 target: so does the binlog');
$my->sql(q{INSERT INTO shop.west VALUES (5, '中文', 'x')});
ok($latin->poll_query_until('postgres',
	"SELECT last_error LIKE '%has no equivalent in encoding \"LATIN1\"%' FROM tributary.jobs WHERE job_name = 'west'"),
	'a character LATIN1 cannot hold stops the job with the conversion error');
is($latin->safe_psql('postgres', 'SELECT count(*) FROM mirror.west WHERE id = 5'), '0',
	'and nothing altered arrives');

$utf8->stop;
$latin->stop;
$my->stop;
done_testing();
