# 043_mysql_alter_actions.pl -- an ALTER TABLE with several actions on a
# MySQL source goes to the ddl policy of each of its actions, not only to
# the first one's: "ADD INDEX ..., ADD COLUMN c" under {other: ignore,
# add_column: error} stops the job (before, the column's data was dropped
# without a word), and under {add_column: apply} the column arrives.
# ALGORITHM= and LOCK= change nothing and are no action; commas inside
# parentheses, strings and comments do not split actions.
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
my $my = MariaDBNode->new('alters', 'binlog-row-metadata' => 'FULL');
$my->sql(q{
	CREATE DATABASE shop;
	USE shop;
	CREATE TABLE shop.a (id INT PRIMARY KEY, x VARCHAR(20), n INT);
	CREATE TABLE shop.e (id INT PRIMARY KEY, x VARCHAR(20), n INT);
	INSERT INTO shop.a SELECT seq, CONCAT('a', seq), seq FROM seq_1_to_20;
	INSERT INTO shop.e SELECT seq, CONCAT('e', seq), seq FROM seq_1_to_20;
});
my $mconn = $my->conninfo(undef, 'root');
$target->safe_psql('postgres', qq{
	SELECT tributary.create_source('my', 'mysql', '$mconn', '{"heartbeat_interval": 1}');
	SELECT tributary.create_job('ja', 'my', 'full+cdc',
		'{"target_schema": "ta", "ddl": {"add_column": "apply", "drop_column": "apply", "rename_column": "apply",
		  "alter_column_type": "apply", "other": "ignore"}}');
	SELECT tributary.add_table('ja', 'shop.a');
	SELECT tributary.create_job('je', 'my', 'full+cdc',
		'{"target_schema": "te", "ddl": {"add_column": "error", "other": "ignore"}}');
	SELECT tributary.add_table('je', 'shop.e');
	SELECT tributary.start_job('ja');
	SELECT tributary.start_job('je');
});
is($target->safe_psql('postgres', q{SELECT tributary.wait_for_sync('ja', '60 s')}), 't', 'job ja syncs');
is($target->safe_psql('postgres', q{SELECT tributary.wait_for_sync('je', '60 s')}), 't', 'job je syncs');

sub compare
{
	my ($schema, $t, $cols, $what) = @_;
	is($target->safe_psql('postgres', "SELECT count(*) || E'\\t' || coalesce(md5(string_agg(concat_ws('|', $cols), ',' ORDER BY id)), '') FROM $schema.$t"),
		$my->sql("SELECT COUNT(*), COALESCE(MD5(GROUP_CONCAT(CONCAT_WS('|', $cols) ORDER BY id SEPARATOR ',')), '') FROM shop.$t"),
		"shop.$t: $what");
}

# an index first, a column second: the column goes to add_column's policy
$my->sql(q{
	USE shop;
	ALTER TABLE shop.a ADD INDEX ix (n), ADD COLUMN c INT DEFAULT 7;
	INSERT INTO shop.a VALUES (21, 'after', 21, 70);
	ALTER TABLE shop.e ADD INDEX ix (n), ADD COLUMN c INT DEFAULT 7;
	INSERT INTO shop.e VALUES (21, 'after', 21, 70);
});
is($target->safe_psql('postgres', q{SELECT tributary.wait_for_sync('ja', '60 s')}), 't', 'ja synced after ADD INDEX, ADD COLUMN');
compare('ta', 'a', 'id, x, n, c', 'under add_column apply the column arrives');
ok($target->poll_query_until('postgres', q{SELECT state = 'failed' FROM tributary.jobs WHERE job_name = 'je'}),
	'under add_column error the job stops');
like($target->safe_psql('postgres', q{SELECT message || ' / ' || detail FROM tributary.errors WHERE job_name = 'je' ORDER BY at DESC LIMIT 1}),
	qr/ADD INDEX ix \(n\), ADD COLUMN c INT DEFAULT 7 \/ The change \(add_column\) is at source position .*; the job's ddl policy for it is error/,
	'... with an error naming the statement and add_column');
is($target->safe_psql('postgres', q{SELECT count(*) FROM te.e WHERE id = 21}), '0', '... and nothing after the statement applied');

# ALGORITHM= and LOCK= are no actions: under {other: error} the column still applies
$target->safe_psql('postgres', q{SELECT tributary.alter_job('ja', '{"ddl": {"add_column": "apply", "drop_column": "apply", "rename_column": "apply", "alter_column_type": "apply", "other": "error"}}')});
$target->safe_psql('postgres', q{SELECT tributary.restart_job('ja')});
$my->sql(q{
	USE shop;
	ALTER TABLE shop.a ADD COLUMN d INT DEFAULT 3, ALGORITHM=INPLACE, LOCK=NONE;
	INSERT INTO shop.a VALUES (22, 'algo', 22, 1, 4);
});
is($target->safe_psql('postgres', q{SELECT tributary.wait_for_sync('ja', '60 s')}), 't', 'ja synced after ADD COLUMN, ALGORITHM, LOCK');
compare('ta', 'a', 'id, x, n, c, d', 'ALGORITHM= and LOCK= are not other');

# commas inside a string default and a type's parentheses; a comment
$my->sql(q{
	USE shop;
	ALTER TABLE shop.a ADD COLUMN s VARCHAR(20) DEFAULT 'p,q', /* one, two */ ADD COLUMN m DECIMAL(10,2) DEFAULT 1.5;
	INSERT INTO shop.a (id, x, n) VALUES (23, 'defaults', 23);
	UPDATE shop.a SET s = 'r,s' WHERE id = 1;
});
is($target->safe_psql('postgres', q{SELECT tributary.wait_for_sync('ja', '60 s')}), 't', 'ja synced after two columns with commas inside');
compare('ta', 'a', 'id, x, n, c, d, s, m', 'both columns, their defaults filled in existing rows');

# a drop and an add, a rename and a type change in one statement
$my->sql(q{
	USE shop;
	ALTER TABLE shop.a DROP COLUMN c, ADD COLUMN w VARCHAR(5) DEFAULT 'w';
	UPDATE shop.a SET w = 'ww' WHERE id <= 3;
	ALTER TABLE shop.a CHANGE x x2 VARCHAR(40), MODIFY n BIGINT;
	INSERT INTO shop.a (id, x2, n) VALUES (24, 'renamed', 5000000000);
});
is($target->safe_psql('postgres', q{SELECT tributary.wait_for_sync('ja', '60 s')}), 't', 'ja synced after drop+add and rename+retype');
compare('ta', 'a', 'id, x2, n, d, s, m, w', 'every action applied');
is($target->safe_psql('postgres', q{SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'ta.a'::regclass AND attname = 'n'}),
	'bigint', 'the type change was applied');
is($target->safe_psql('postgres', q{SELECT count(*) FROM pg_attribute WHERE attrelid = 'ta.a'::regclass AND attname = 'c' AND NOT attisdropped}),
	'0', 'the dropped column is gone');
is($target->safe_psql('postgres', q{SELECT state FROM tributary.jobs WHERE job_name = 'ja'}), 'running', 'ja runs');

# other under apply: statements that change neither columns nor rows pass,
# the table streams on (strictly: an unknown column would still stop it);
# one that changes the key stops the job
$my->sql(q{
	USE shop;
	CREATE TABLE shop.o (id INT PRIMARY KEY, n INT NOT NULL, t VARCHAR(10));
	INSERT INTO shop.o SELECT seq, seq, 'o' FROM seq_1_to_10;
});
$target->safe_psql('postgres', q{
	SELECT tributary.create_job('jo', 'my', 'full+cdc', '{"target_schema": "tother", "ddl": {"other": "apply"}}');
	SELECT tributary.add_table('jo', 'shop.o');
	SELECT tributary.start_job('jo');
});
is($target->safe_psql('postgres', q{SELECT tributary.wait_for_sync('jo', '60 s')}), 't', 'job jo syncs');
$my->sql(q{
	USE shop;
	ALTER TABLE shop.o ADD INDEX io (n), ALTER COLUMN t SET DEFAULT 'dflt', ENGINE=InnoDB, COMMENT='c, with a comma';
	INSERT INTO shop.o (id, n) VALUES (11, 11);
	ALTER TABLE shop.o RENAME INDEX io TO io2, ADD CONSTRAINT positive CHECK (n >= 0), DEFAULT CHARSET=utf8mb4;
	UPDATE shop.o SET n = n + 100 WHERE id <= 3;
	ALTER TABLE shop.o DROP INDEX io2, ALTER COLUMN t DROP DEFAULT, FORCE;
	DELETE FROM shop.o WHERE id = 4;
});
is($target->safe_psql('postgres', q{SELECT tributary.wait_for_sync('jo', '60 s')}), 't', 'jo synced after indexes, defaults, a CHECK and table options');
compare('tother', 'o', 'id, n, t', 'inert statements passed under apply, the rows arrived');
is($target->safe_psql('postgres', q{SELECT count(*) FROM tributary.errors WHERE job_name = 'jo'}), '0', 'without errors rows');
is($target->safe_psql('postgres', q{SELECT jt_ddl_accepted FROM tributary.job_table WHERE jt_source_rel = 'o'}), 'f',
	'the table still counts as unchanged (unknown columns would stop it)');
$my->sql(q{
	USE shop;
	ALTER TABLE shop.o DROP PRIMARY KEY, ADD PRIMARY KEY (id, n);
	INSERT INTO shop.o (id, n) VALUES (12, 12);
});
ok($target->poll_query_until('postgres', q{SELECT state = 'failed' FROM tributary.jobs WHERE job_name = 'jo'}),
	'a new primary key under apply stops the job');
like($target->safe_psql('postgres', q{SELECT detail FROM tributary.errors WHERE job_name = 'jo' ORDER BY at DESC LIMIT 1}),
	qr/The job's ddl policy for other is apply, which pg_tributary can do for .*other statements that change neither columns nor rows/,
	'... saying what apply can do');
is($target->safe_psql('postgres', q{SELECT count(*) FROM tother.o WHERE id = 12}), '0', '... before the row after it');

# a job behind several statements: the source's definition now already has
# the later ones.  A column dropped before a later rename keeps its data
# until the rename is applied; a column added and renamed later cannot be
# typed any more: the job stops rather than guess, and the table added
# anew with a fresh start mends it (as the error's hint says)
$target->safe_psql('postgres', q{SELECT tributary.stop_job('ja')});
ok($target->poll_query_until('postgres', q{SELECT state = 'stopped' FROM tributary.jobs WHERE job_name = 'ja'}), 'ja stopped');
$my->sql(q{
	USE shop;
	ALTER TABLE shop.a DROP COLUMN w;
	UPDATE shop.a SET d = d + 1 WHERE id <= 5;
	ALTER TABLE shop.a CHANGE d d2 INT;
	UPDATE shop.a SET d2 = d2 + 10 WHERE id > 20;
});
$target->safe_psql('postgres', q{SELECT tributary.start_job('ja')});
is($target->safe_psql('postgres', q{SELECT tributary.wait_for_sync('ja', '60 s')}), 't', 'ja catches up with a drop and a later rename');
compare('ta', 'a', 'id, x2, n, d2, s, m', 'the renamed column kept its data');
$target->safe_psql('postgres', q{SELECT tributary.stop_job('ja')});
ok($target->poll_query_until('postgres', q{SELECT state = 'stopped' FROM tributary.jobs WHERE job_name = 'ja'}), 'ja stopped again');
$my->sql(q{
	USE shop;
	ALTER TABLE shop.a ADD COLUMN v INT DEFAULT 1;
	UPDATE shop.a SET v = 2 WHERE id = 1;
	ALTER TABLE shop.a CHANGE v v2 INT;
});
$target->safe_psql('postgres', q{SELECT tributary.start_job('ja')});
ok($target->poll_query_until('postgres', q{SELECT state = 'failed' FROM tributary.jobs WHERE job_name = 'ja'}),
	'a column added and renamed since: the job stops');
like($target->safe_psql('postgres', q{SELECT message FROM tributary.errors WHERE job_name = 'ja' ORDER BY at DESC LIMIT 1}),
	qr/cannot apply the new column "v" of source table \[shop\.a\]: the source table has no such column any more/, '... saying why');
$target->safe_psql('postgres', q{
	SELECT tributary.remove_table('ja', 'shop.a', drop_target => true);
	SELECT tributary.add_table('ja', 'shop.a');
	SELECT tributary.restart_job('ja', false);
});
is($target->safe_psql('postgres', q{SELECT tributary.wait_for_sync('ja', '60 s')}), 't', 'remove_table, add_table and restart_job(job, false) bring it back');
compare('ta', 'a', 'id, x2, n, d2, s, m, v2', 'equal, with the new column');
$my->sql(q{USE shop; INSERT INTO shop.a (id, x2, n, v2) VALUES (30, 'later', 30, 30)});
is($target->safe_psql('postgres', q{SELECT tributary.wait_for_sync('ja', '60 s')}), 't', 'synced after a change');
compare('ta', 'a', 'id, x2, n, d2, s, m, v2', 'streams on');

$my->stop;
done_testing();
