# 039_follow_tables.pl -- add_tables(..., follow => true) on both source
# kinds (issue 13 item 3): tables created on the source later that match
# the rule are created on the target, copied and streamed, while another
# table of the job is written to all along; a table that matches but
# cannot be synced (no key) is refused once, with an errors row, and the
# job goes on; tables that do not match stay out; unfollow_tables stops it.
# wait_for_sync does not answer before the job has looked for new tables.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use FindBin;
use lib $FindBin::RealBin;
use TributaryTest;
use MariaDBNode;

my $source = source_node('source', 1);
my $target = target_node('target');
$source->safe_psql('postgres', q{
	CREATE SCHEMA app;
	CREATE TABLE app.orders_1 (id int PRIMARY KEY, v text);
	CREATE TABLE app.orders_2 (id int PRIMARY KEY, v text);
	ALTER TABLE app.orders_1 REPLICA IDENTITY FULL;
	ALTER TABLE app.orders_2 REPLICA IDENTITY FULL;
	INSERT INTO app.orders_1 SELECT g, 'one ' || g FROM generate_series(1, 100) g;
	INSERT INTO app.orders_2 SELECT g, 'two ' || g FROM generate_series(1, 100) g;
});
my $conn = pg_conninfo($source);
$target->safe_psql('postgres', qq{
	SELECT tributary.create_source('pg', 'postgresql', '$conn', '{"heartbeat_interval": 1}');
	SELECT tributary.create_job('fol', 'pg', 'full+cdc', '{"target_schema": "mirror"}');
});
is($target->safe_psql('postgres', q{SELECT tributary.add_tables('fol', 'app\.orders_.*', NULL, NULL, NULL, follow => true)}),
	'2', 'add_tables adds the matching tables and keeps the rule');
is($target->safe_psql('postgres', q{SELECT job_name || ' ' || source_pattern || ' ' || coalesce(refused::text, '-') FROM tributary.followed_rules}),
	'fol app\.orders_.* -', 'tributary.followed_rules shows it');
$target->safe_psql('postgres', q{SELECT tributary.start_job('fol')});
is($target->safe_psql('postgres', q{SELECT tributary.wait_for_sync('fol', '60 s')}), 't', 'the job syncs');

# a writer on orders_1 all along (one transaction per row)
my $writer_sql = q{DO $$ BEGIN
	FOR i IN 1001 .. 1400 LOOP
		INSERT INTO app.orders_1 VALUES (i, 'written along ' || i);
		UPDATE app.orders_1 SET v = v || '!' WHERE id = i - 1000;
		COMMIT;
		PERFORM pg_sleep(0.005);
	END LOOP;
END $$;};
my $writer = IPC::Run::start(['psql', '-XAtq', '-d', $source->connstr('postgres'), '-c', $writer_sql],
	'>', \my $wout, '2>', \my $werr);

# new tables while it writes: one that matches (with rows before the job
# sees it and after), one that does not, one that matches without a key
$source->safe_psql('postgres', q{
	BEGIN;
	CREATE TABLE app.orders_3 (id int PRIMARY KEY, v text, n numeric);
	ALTER TABLE app.orders_3 REPLICA IDENTITY FULL;
	COMMIT;
	INSERT INTO app.orders_3 SELECT g, 'three ' || g, g / 7.0 FROM generate_series(1, 500) g;
	CREATE TABLE app.other (id int PRIMARY KEY);
	INSERT INTO app.other VALUES (1);
	CREATE TABLE app.orders_nokey (v text);
	INSERT INTO app.orders_nokey VALUES ('x');
});
$source->safe_psql('postgres', q{
	UPDATE app.orders_3 SET v = 'changed' WHERE id <= 50;
	DELETE FROM app.orders_3 WHERE id > 450;
});
$writer->finish;
is($werr, '', 'the writer ran without errors');
is($target->safe_psql('postgres', q{SELECT tributary.wait_for_sync('fol', '90 s')}), 't', 'the job syncs with the new table');
is($target->safe_psql('postgres', q{SELECT string_agg(source_table || '>' || target_table, ',' ORDER BY source_table) FROM tributary.tables WHERE job_name = 'fol'}),
	'app.orders_1>mirror.orders_1,app.orders_2>mirror.orders_2,app.orders_3>mirror.orders_3',
	'the matching table was added, the others not');
for my $t (qw(orders_1 orders_2 orders_3))
{
	is(digest($target, "SELECT * FROM mirror.$t"), digest($source, "SELECT * FROM app.$t"), "$t: the target equals the source");
}
like($target->safe_psql('postgres', q{SELECT message FROM tributary.errors WHERE job_name = 'fol'}),
	qr/^source table \[app\.orders_nokey\] matches followed pattern "app\\\.orders_\.\*" of job "fol" but was not added: .*orders_nokey/,
	'a matching table add_table refuses leaves an errors row');
is($target->safe_psql('postgres', q{SELECT refused::text FROM tributary.followed_rules WHERE job_name = 'fol'}),
	'{app.orders_nokey}', 'and is not tried again');
is($target->safe_psql('postgres', q{SELECT count(*) FROM tributary.errors WHERE job_name = 'fol'}), '1', 'one errors row');
is($target->safe_psql('postgres', q{SELECT state FROM tributary.jobs WHERE job_name = 'fol'}), 'running', 'the job runs');

# the new table streams like the others
$source->safe_psql('postgres', q{INSERT INTO app.orders_3 VALUES (1000, 'streamed', 1); DELETE FROM app.orders_3 WHERE id = 1});
is($target->safe_psql('postgres', q{SELECT tributary.wait_for_sync('fol', '60 s')}), 't', 'changes after the copy');
is(digest($target, 'SELECT * FROM mirror.orders_3'), digest($source, 'SELECT * FROM app.orders_3'), 'are streamed');

# unfollow: later tables stay out
is($target->safe_psql('postgres', q{SELECT tributary.unfollow_tables('fol')}), '1', 'unfollow_tables forgets the rule');
$source->safe_psql('postgres', q{CREATE TABLE app.orders_4 (id int PRIMARY KEY); ALTER TABLE app.orders_4 REPLICA IDENTITY FULL});
is($target->safe_psql('postgres', q{SELECT tributary.wait_for_sync('fol', '60 s')}), 't', 'the job syncs');
is($target->safe_psql('postgres', q{SELECT count(*) FROM tributary.tables WHERE job_name = 'fol'}), '3', 'and adds nothing more');

# --- through pgoutput: the job's publication takes the new table too
$source->safe_psql('postgres', q{
	CREATE SCHEMA po;
	CREATE TABLE po.item_1 (id int PRIMARY KEY, v text);
	ALTER TABLE po.item_1 REPLICA IDENTITY FULL;
	INSERT INTO po.item_1 VALUES (1, 'one');
});
$target->safe_psql('postgres', qq{
	SELECT tributary.create_source('pgo', 'postgresql', '$conn', '{"heartbeat_interval": 1, "decoder": "pgoutput"}');
	SELECT tributary.create_job('pofol', 'pgo', 'full+cdc', '{"target_schema": "pomirror"}');
	SELECT tributary.add_tables('pofol', 'po\.item_.*', follow => true);
	SELECT tributary.start_job('pofol');
});
is($target->safe_psql('postgres', q{SELECT tributary.wait_for_sync('pofol', '60 s')}), 't', 'the pgoutput job syncs');
$source->safe_psql('postgres', q{
	BEGIN;
	CREATE TABLE po.item_2 (id int PRIMARY KEY, v text);
	ALTER TABLE po.item_2 REPLICA IDENTITY FULL;
	COMMIT;
	INSERT INTO po.item_2 SELECT g, 'two ' || g FROM generate_series(1, 200) g;
});
is($target->safe_psql('postgres', q{SELECT tributary.wait_for_sync('pofol', '60 s')}), 't', 'the pgoutput job syncs with the new table');
$source->safe_psql('postgres', q{UPDATE po.item_2 SET v = 'streamed' WHERE id <= 20; DELETE FROM po.item_2 WHERE id > 190});
is($target->safe_psql('postgres', q{SELECT tributary.wait_for_sync('pofol', '60 s')}), 't', 'and streams it');
is(digest($target, 'SELECT * FROM pomirror.item_2'), digest($source, 'SELECT * FROM po.item_2'),
	'po.item_2: the target equals the source');
is($source->safe_psql('postgres', q{SELECT string_agg(schemaname || '.' || tablename, ',' ORDER BY tablename)
	FROM pg_publication_tables WHERE schemaname = 'po'}), 'po.item_1,po.item_2', 'the job\'s publication holds the new table');

# --- MariaDB: the same through the binlog
my $my = MariaDBNode->new('follow', 'binlog-row-metadata' => 'FULL');
$my->sql(q{
	CREATE DATABASE shop;
	USE shop;
	CREATE TABLE shop.ord_a (id INT PRIMARY KEY, v VARCHAR(40));
	INSERT INTO shop.ord_a SELECT seq, CONCAT('a', seq) FROM seq_1_to_100;
});
my $mconn = $my->conninfo(undef, 'root');
$target->safe_psql('postgres', qq{
	SELECT tributary.create_source('maria', 'mysql', '$mconn', '{"heartbeat_interval": 1}');
	SELECT tributary.create_job('mfol', 'maria', 'full+cdc', '{"target_schema": "mmirror"}');
	SELECT tributary.add_tables('mfol', 'shop\\.ord_.*', follow => true);
	SELECT tributary.start_job('mfol');
});
is($target->safe_psql('postgres', q{SELECT tributary.wait_for_sync('mfol', '60 s')}), 't', 'the MariaDB job syncs');
my $bg = $my->background(q{
	USE shop;
	DELIMITER //
	CREATE PROCEDURE w() BEGIN
		DECLARE i INT DEFAULT 1001;
		WHILE i <= 1300 DO
			INSERT INTO shop.ord_a VALUES (i, 'written along');
			UPDATE shop.ord_a SET v = CONCAT(v, '!') WHERE id = i - 1000;
			SET i = i + 1;
		END WHILE;
	END //
	DELIMITER ;
	CALL w();
});
$my->sql(q{
	USE shop;
	CREATE TABLE shop.ord_b (id INT PRIMARY KEY, v VARCHAR(40), n DECIMAL(10,3));
	INSERT INTO shop.ord_b SELECT seq, CONCAT('b', seq), seq / 7 FROM seq_1_to_400;
	UPDATE shop.ord_b SET v = 'changed' WHERE id <= 40;
	CREATE TABLE shop.unrelated (id INT PRIMARY KEY);
});
$bg->finish;
is($target->safe_psql('postgres', q{SELECT tributary.wait_for_sync('mfol', '90 s')}), 't', 'the MariaDB job syncs with the new table');
sub mcompare
{
	my ($t, $cols) = @_;
	is($target->safe_psql('postgres', "SELECT count(*) || E'\\t' || coalesce(md5(string_agg(concat_ws('|', $cols), ',' ORDER BY id)), '') FROM mmirror.$t"),
		$my->sql("SELECT COUNT(*), COALESCE(MD5(GROUP_CONCAT(CONCAT_WS('|', $cols) ORDER BY id SEPARATOR ',')), '') FROM shop.$t"),
		"shop.$t: the target equals the source");
}
mcompare('ord_a', 'id, v');
mcompare('ord_b', 'id, v, n');
is($target->safe_psql('postgres', q{SELECT string_agg(source_table, ',' ORDER BY source_table) FROM tributary.tables WHERE job_name = 'mfol'}),
	'shop.ord_a,shop.ord_b', 'the matching table was added, the other not');
$my->sql(q{INSERT INTO shop.ord_b VALUES (1000, 'streamed', 1)});
is($target->safe_psql('postgres', q{SELECT tributary.wait_for_sync('mfol', '60 s')}), 't', 'changes after the copy');
mcompare('ord_b', 'id, v, n');
is($target->safe_psql('postgres', q{SELECT state FROM tributary.jobs WHERE job_name = 'mfol'}), 'running', 'the job runs');

# a table created while the job is stopped, added by follow_tables: the
# job resumes before its CREATE TABLE in the binlog and passes it (the
# copy read the table after it)
$target->safe_psql('postgres', q{SELECT tributary.stop_job('mfol')});
ok($target->poll_query_until('postgres', q{SELECT state = 'stopped' FROM tributary.jobs WHERE job_name = 'mfol'}), 'stopped');
$my->sql(q{
	USE shop;
	CREATE TABLE shop.ord_c (id INT PRIMARY KEY, v VARCHAR(40));
	INSERT INTO shop.ord_c SELECT seq, CONCAT('c', seq) FROM seq_1_to_50;
	UPDATE shop.ord_a SET v = 'while stopped' WHERE id = 1;
});
is($target->safe_psql('postgres', q{SELECT tributary.follow_tables('mfol')}), '1', 'follow_tables adds it');
$target->safe_psql('postgres', q{SELECT tributary.start_job('mfol')});
$my->sql(q{INSERT INTO shop.ord_c VALUES (51, 'after start')});
is($target->safe_psql('postgres', q{SELECT tributary.wait_for_sync('mfol', '60 s')}), 't', 'the job syncs');
mcompare('ord_a', 'id, v');
mcompare('ord_c', 'id, v');
ok($target->log_contains(qr/job "mfol" passes the creation of source table \[shop\.ord_c\] at binlog\.\d+:\d+, before the view its copy read/),
	'the CREATE TABLE met again is passed');

done_testing();
