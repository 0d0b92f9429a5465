# 045_mysql_alter_edges.pl -- MySQL ALTER TABLE forms that an independent
# review found misread (issue 13): each must reach the policy of what it
# does, or apply exactly.
#   - DROP COLUMN c, ADD COLUMN c <another type> in one statement
#   - MariaDB's CHANGE COLUMN IF EXISTS
#   - ALTER IGNORE TABLE ... ADD UNIQUE (deletes duplicate rows unlogged):
#     never passed as a statement that changes nothing
#   - a DROP COLUMN inside an executable comment, or after "1--1" (no
#     comment in MySQL)
#   - MariaDB's NOWAIT before the actions, ALTER ONLINE IGNORE TABLE
#   - a backquoted table name that ends in an escaped backquote
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use TributaryTest;
use MariaDBNode;

my $target = target_node('target', "max_worker_processes = 24\n");
my $my = MariaDBNode->new('edges', 'binlog-row-metadata' => 'FULL');
$my->sql(q{
	CREATE DATABASE shop;
	USE shop;
	CREATE TABLE shop.d (id INT PRIMARY KEY, n INT, c VARCHAR(10));
	INSERT INTO shop.d SELECT seq, seq, CONCAT('c', seq) FROM seq_1_to_10;
	CREATE TABLE shop.c (id INT PRIMARY KEY, x VARCHAR(20), n INT);
	INSERT INTO shop.c SELECT seq, CONCAT('x', seq), seq FROM seq_1_to_10;
	CREATE TABLE shop.u (id INT PRIMARY KEY, n INT);
	INSERT INTO shop.u SELECT seq, seq % 3 FROM seq_1_to_10;
	CREATE TABLE shop.x (id INT PRIMARY KEY, n INT, w INT);
	INSERT INTO shop.x SELECT seq, seq, seq FROM seq_1_to_10;
	CREATE TABLE shop.y (id INT PRIMARY KEY, n INT, w INT);
	INSERT INTO shop.y SELECT seq, seq, seq FROM seq_1_to_10;
	CREATE TABLE shop.e (id INT PRIMARY KEY, n INT);
	INSERT INTO shop.e SELECT seq, seq FROM seq_1_to_10;
	CREATE TABLE shop.o (id INT PRIMARY KEY, n INT);
	INSERT INTO shop.o SELECT seq, seq FROM seq_1_to_10;
	CREATE TABLE shop.`Mixed ``Tab``` (id INT PRIMARY KEY, n INT);
	INSERT INTO shop.`Mixed ``Tab``` SELECT seq, seq FROM seq_1_to_5;
});
my $mconn = $my->conninfo(undef, 'root');
my $all = '{"add_column": "apply", "drop_column": "apply", "rename_column": "apply", "alter_column_type": "apply", "other": "apply"}';
my $strict = '{"drop_column": "error", "other": "apply"}';
my $cols = '{"add_column": "error", "other": "ignore"}';
$target->safe_psql('postgres', qq{
	SELECT tributary.create_source('my', 'mysql', '$mconn', '{"heartbeat_interval": 1}');
	SELECT tributary.create_job('jd', 'my', 'full+cdc', '{"target_schema": "td", "ddl": $all}');
	SELECT tributary.add_table('jd', 'shop.d');
	SELECT tributary.create_job('jc', 'my', 'full+cdc', '{"target_schema": "tc", "ddl": $all}');
	SELECT tributary.add_table('jc', 'shop.c');
	SELECT tributary.create_job('ju', 'my', 'full+cdc', '{"target_schema": "tu", "ddl": $all}');
	SELECT tributary.add_table('ju', 'shop.u');
	SELECT tributary.create_job('jx', 'my', 'full+cdc', '{"target_schema": "tx", "ddl": $strict}');
	SELECT tributary.add_table('jx', 'shop.x');
	SELECT tributary.create_job('jy', 'my', 'full+cdc', '{"target_schema": "ty", "ddl": $strict}');
	SELECT tributary.add_table('jy', 'shop.y');
	SELECT tributary.create_job('je', 'my', 'full+cdc', '{"target_schema": "te", "ddl": $cols}');
	SELECT tributary.add_table('je', 'shop.e');
	SELECT tributary.create_job('jo', 'my', 'full+cdc', '{"target_schema": "tonl", "ddl": {"add_column": "apply", "other": "error"}}');
	SELECT tributary.add_table('jo', 'shop.o');
	SELECT tributary.create_job('jm', 'my', 'full+cdc', '{"target_schema": "tm"}');
	SELECT tributary.add_table('jm', '`shop`.`Mixed ``Tab```');
	SELECT tributary.start_job(j) FROM unnest(ARRAY['jd', 'jc', 'ju', 'jx', 'jy', 'je', 'jo', 'jm']) j;
});
for my $j (qw(jd jc ju jx jy je jo jm))
{
	is($target->safe_psql('postgres', qq{SELECT tributary.wait_for_sync('$j', '60 s')}), 't', "job $j syncs");
}
is($target->safe_psql('postgres', q{SELECT count(*) FROM tm."Mixed `Tab`"}), '5', 'a name ending in an escaped backquote is read as written');

sub compare
{
	my ($schema, $t, $cols, $what) = @_;
	is($target->safe_psql('postgres', "SELECT count(*) || E'\\t' || coalesce(md5(string_agg(concat_ws('|', $cols), ',' ORDER BY id)), '') FROM $schema.$t"),
		$my->sql("SELECT COUNT(*), COALESCE(MD5(GROUP_CONCAT(CONCAT_WS('|', $cols) ORDER BY id SEPARATOR ',')), '') FROM shop.$t"),
		"shop.$t: $what");
}
sub failed_with
{
	my ($j, $re, $what) = @_;
	ok($target->poll_query_until('postgres', "SELECT state = 'failed' FROM tributary.jobs WHERE job_name = '$j'"), "$j: the job stops");
	like($target->safe_psql('postgres', "SELECT message || ' / ' || coalesce(detail, '') FROM tributary.errors WHERE job_name = '$j' ORDER BY at DESC LIMIT 1"),
		$re, "$j: $what");
}

$my->sql(q{
	USE shop;
	ALTER TABLE shop.d DROP COLUMN c, ADD COLUMN c INT;
	UPDATE shop.d SET n = n + 100 WHERE id <= 3;
	INSERT INTO shop.d VALUES (11, 11, 11);
	ALTER TABLE shop.c CHANGE COLUMN IF EXISTS x x2 VARCHAR(40);
	UPDATE shop.c SET x2 = 'renamed' WHERE id <= 3;
	INSERT INTO shop.c VALUES (11, 'eleven', 11);
	ALTER IGNORE TABLE shop.u ADD UNIQUE KEY un (n);
	INSERT INTO shop.u VALUES (100, 100);
	ALTER TABLE shop.x ADD INDEX ix (n) /*M!100000 , DROP COLUMN w */;
	INSERT INTO shop.x VALUES (11, 11);
	ALTER TABLE shop.e NOWAIT ADD COLUMN c INT DEFAULT 7;
	INSERT INTO shop.e VALUES (11, 11, 70);
	ALTER ONLINE IGNORE TABLE shop.o ADD COLUMN c INT DEFAULT 7;
	INSERT INTO shop.o VALUES (11, 11, 70);
});
$my->sql("USE shop; ALTER TABLE shop.y ALTER COLUMN n SET DEFAULT (1--1), DROP COLUMN w;\nINSERT INTO shop.y (id) VALUES (11);");

is($target->safe_psql('postgres', q{SELECT tributary.wait_for_sync('jd', '60 s')}), 't', 'jd synced');
compare('td', 'd', 'id, n, c', 'DROP COLUMN c, ADD COLUMN c INT in one statement: the old values are gone');
is($target->safe_psql('postgres', q{SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'td.d'::regclass AND attname = 'c' AND NOT attisdropped}),
	'integer', '... and c has the new type');
is($target->safe_psql('postgres', q{SELECT tributary.wait_for_sync('jc', '60 s')}), 't', 'jc synced');
compare('tc', 'c', 'id, x2, n', 'CHANGE COLUMN IF EXISTS renames');
failed_with('ju', qr/ALTER IGNORE TABLE shop\.u ADD UNIQUE KEY un \(n\) \/ The job's ddl policy for other is apply, which pg_tributary can do for/,
	'ALTER IGNORE ... ADD UNIQUE is not passed as changing nothing');
is($target->safe_psql('postgres', q{SELECT count(*) FROM tu.u WHERE id = 100}), '0', 'ju: nothing after it applied');
failed_with('jx', qr/The change \(drop_column\) is at source position .*; the job's ddl policy for it is error/,
	'a DROP COLUMN in an executable comment goes to drop_column');
failed_with('jy', qr/The change \(drop_column\) is at source position .*; the job's ddl policy for it is error/,
	'"1--1" is no comment: the DROP COLUMN goes to drop_column');
failed_with('je', qr/NOWAIT ADD COLUMN c INT DEFAULT 7 \/ The change \(add_column\) is at source position .*; the job's ddl policy for it is error/,
	'ALTER TABLE t NOWAIT ADD COLUMN goes to add_column');
is($target->safe_psql('postgres', q{SELECT tributary.wait_for_sync('jo', '60 s')}), 't', 'jo synced');
compare('tonl', 'o', 'id, n, c', 'ALTER ONLINE IGNORE TABLE t ADD COLUMN goes to add_column (apply)');

$my->stop;
done_testing();
