# 011_mysql_resume.pl -- a MariaDB full+cdc job resumes chunk by chunk
# after kill -9 of the target during its snapshot, while the source takes
# writes; start_job refuses binlog settings change capture cannot use;
# mysql_time = interval.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use TributaryTest;
use MariaDBNode;

my $my = MariaDBNode->new('resume', 'binlog-row-metadata' => 'FULL');
my ($ret, $out, $err);
$my->sql(q{
	CREATE DATABASE shop;
	USE shop;
	CREATE TABLE shop.big (id INT PRIMARY KEY, v VARCHAR(40), n INT);
	INSERT INTO shop.big SELECT seq, MD5(seq), 0 FROM seq_1_to_20000;
	CREATE TABLE shop.tm (id INT PRIMARY KEY, t TIME(1));
	INSERT INTO shop.tm VALUES (1, '-838:59:59'), (2, '100:00:00.5'), (3, '12:00:00');
	CREATE TABLE shop.nm (id INT UNSIGNED PRIMARY KEY, e ENUM('x', 'y''z'), s SET('a', 'b', 'c'),
		l VARCHAR(10) CHARACTER SET latin1, b BIGINT UNSIGNED, ti TINYINT UNSIGNED) DEFAULT CHARSET utf8mb4;
});
my $target = target_node('target');
my $conn = $my->conninfo(undef, 'root');
$target->safe_psql('postgres', qq{
	SELECT tributary.create_source('maria', 'mysql', '$conn');
	CREATE SCHEMA mirror;
	CREATE TABLE mirror.big (id int PRIMARY KEY, v varchar(40), n int);
	-- a gate: the insert of row 15001 waits for advisory lock 42
	CREATE FUNCTION mirror.gate() RETURNS trigger LANGUAGE plpgsql AS \$\$
	BEGIN
		IF NEW.id = 15001 THEN PERFORM pg_advisory_xact_lock_shared(42); END IF;
		RETURN NEW;
	END \$\$;
	CREATE TRIGGER gate BEFORE INSERT ON mirror.big FOR EACH ROW EXECUTE FUNCTION mirror.gate();
	ALTER TABLE mirror.big ENABLE ALWAYS TRIGGER gate;
	SELECT tributary.create_job('resume', 'maria', 'full+cdc', '{"snapshot_chunk_rows": 5000, "target_schema": "mirror", "restart-strategy.type": "fixed-delay"}');
	SELECT tributary.add_table('resume', 'shop.big');
});
my $holder = $target->background_psql('postgres');
$holder->query_safe('SELECT pg_advisory_lock(42)');
$target->safe_psql('postgres', "SELECT tributary.start_job('resume')");
ok( $target->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM pg_locks WHERE locktype = 'advisory' AND objid = 42 AND NOT granted"),
	'the snapshot is blocked in its fourth chunk');
is($target->safe_psql('postgres', "SELECT chunks_done || ' ' || rows_copied FROM tributary.tables WHERE job_name = 'resume'"),
	'3 15000', 'three chunks are committed');

# the source changes rows of copied and uncopied chunks meanwhile
$my->sql(q{USE shop; UPDATE shop.big SET n = n + 1 WHERE id % 7 = 0; DELETE FROM shop.big WHERE id % 11 = 0;
	INSERT INTO shop.big SELECT 20000 + seq, 'new', 1 FROM seq_1_to_500;});

ok(crash_instance($target) > 0, 'kill -9 of every process of the target during the snapshot');
$holder->{run}->kill_kill;
$my->sql(q{UPDATE shop.big SET v = 'after crash' WHERE id % 13 = 0;});
$target->safe_psql('postgres', 'DROP TRIGGER gate ON mirror.big');
is($target->safe_psql('postgres', "SELECT tributary.wait_for_sync('resume', '120 s')"), 't',
	'the job resumes after kill -9 and catches up');
is($target->safe_psql('postgres', q{SELECT count(*) || ':' || md5(string_agg(concat_ws('|', id, v, n), E'\n' ORDER BY id)) FROM mirror.big}),
	$my->sql(q{SET SESSION group_concat_max_len = 1073741824;
		SELECT CONCAT(COUNT(*), ':', MD5(GROUP_CONCAT(CONCAT_WS('|', id, v, n) ORDER BY id SEPARATOR '\n'))) FROM shop.big}),
	'source and target digests are equal');
is($target->safe_psql('postgres', q{
	SELECT count(*) || ' ' || count(DISTINCT ts_chunk_no) || ' ' || count(*) FILTER (WHERE ts_done)
	  FROM tributary.table_state s JOIN tributary.job_table t ON t.jt_id = s.ts_jt_id WHERE t.jt_source_rel = 'big'}),
	'5 5 5', 'every chunk (four of 5,000 rows and the open-ended last one) was copied once');
is($target->safe_psql('postgres', q{SELECT string_agg(status, ',' ORDER BY run_id) FROM tributary.runs WHERE job_name = 'resume'}),
	'failed,running', 'the crashed run is failed, the resumed one runs');

# resync_table: the target drifted (rows deleted by hand); the table is
# copied again while the source takes writes, and the stream resumes
# (resync first: a strict stream would stop on an update of a missing row)
$target->safe_psql('postgres', 'DELETE FROM mirror.big WHERE id % 3 = 0');
$target->safe_psql('postgres', "SELECT tributary.resync_table('resume', 'shop.big')");
ok($target->poll_query_until('postgres', "SELECT state <> 'init' FROM tributary.tables WHERE job_name = 'resume'"),
	'a new worker plans the copy (the old one is gone)');
my $churn = $my->background(q{
	USE shop;
	DELIMITER //
	CREATE PROCEDURE churn()
	BEGIN
	  DECLARE i INT DEFAULT 0;
	  WHILE i < 2000 DO
	    UPDATE shop.big SET n = n + 1 WHERE id = 1 + (i * 37) % 20000;
	    INSERT INTO shop.big VALUES (30000 + i, 'resync', i);
	    SET i = i + 1;
	  END WHILE;
	END //
	DELIMITER ;
	CALL churn();
});
$churn->finish;
is($target->safe_psql('postgres', "SELECT tributary.wait_for_sync('resume', '120 s')"), 't', 'resync_table: the job copies the table again and catches up');
is($target->safe_psql('postgres', q{SELECT count(*) || ':' || md5(string_agg(concat_ws('|', id, v, n), E'\n' ORDER BY id)) FROM mirror.big}),
	$my->sql(q{SET SESSION group_concat_max_len = 1073741824;
		SELECT CONCAT(COUNT(*), ':', MD5(GROUP_CONCAT(CONCAT_WS('|', id, v, n) ORDER BY id SEPARATOR '\n'))) FROM shop.big}),
	'after the resync under writes source and target digests are equal');
ok($target->poll_query_until('postgres', "SELECT state = 'streaming' AND rows_copied > 0 FROM tributary.tables WHERE job_name = 'resume'"),
	'the table is copied and streams again once the stream passed its new view');
($ret, $out, $err) = $target->psql('postgres', "SELECT tributary.resync_table('resume', 'shop.nothere')");
like($err, qr/ERROR:  source table \[shop.nothere\] is not part of job "resume"/, 'resync_table names an unknown table');

# start_job refuses binlog settings change capture cannot work with
$target->safe_psql('postgres', q{
	SELECT tributary.create_job('tm', 'maria', 'full+cdc', '{"mysql_time": "interval", "target_schema": "tm"}');
	SELECT tributary.add_table('tm', 'shop.tm');
	SELECT tributary.add_table('tm', 'shop.nm');
});
$my->sql(q{SET GLOBAL binlog_format = 'STATEMENT'});
($ret, $out, $err) = $target->psql('postgres', "SELECT tributary.start_job('tm')");
like($err, qr/ERROR:  source \[shop.tm\] binlog format is STATEMENT, should be set to ROW.*HINT:  On the source run SET GLOBAL binlog_format = 'ROW'/s,
	'start_job refuses binlog_format = STATEMENT, with the fix');
$my->sql(q{SET GLOBAL binlog_format = 'ROW'; SET GLOBAL binlog_row_image = 'MINIMAL'});
($ret, $out, $err) = $target->psql('postgres', "SELECT tributary.start_job('tm')");
like($err, qr/ERROR:  source \[shop.tm\] binlog row image is MINIMAL, should be set to FULL/, 'and binlog_row_image = MINIMAL');
$my->sql(q{SET GLOBAL binlog_row_image = 'FULL'});

# mysql_time = interval: TIME outside 00:00-24:00 through both paths
$target->safe_psql('postgres', "SELECT tributary.start_job('tm')");
is($target->safe_psql('postgres', "SELECT tributary.wait_for_sync('tm', '60 s')"), 't', 'the mysql_time job syncs');
$my->sql(q{INSERT INTO shop.tm VALUES (4, '-12:30:00.5'), (5, '838:59:59')});
is($target->safe_psql('postgres', "SELECT tributary.wait_for_sync('tm', '60 s')"), 't', 'and streams');
is($target->safe_psql('postgres', q{SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'tm.tm'::regclass AND attname = 't'}),
	'interval', 'TIME maps to interval');
is($target->safe_psql('postgres', "SELECT string_agg(id || '=' || t, ', ' ORDER BY id) FROM tm.tm"),
	'1=-838:59:59, 2=100:00:00.5, 3=12:00:00, 4=-12:30:00.5, 5=838:59:59',
	'TIME values of the whole range arrive exactly, from the snapshot and from the binlog');

# without column metadata in the binlog (binlog_row_metadata = NO_LOG):
# names, signedness, charsets and labels come from information_schema
$my->sql(q{SET GLOBAL binlog_row_metadata = 'NO_LOG'});
$my->sql(q{INSERT INTO shop.nm VALUES (4294967295, 'y''z', 'a,c', 'café', 18446744073709551615, 255),
	(1, 'x', '', 'x', 0, 0)});
is($target->safe_psql('postgres', "SELECT tributary.wait_for_sync('tm', '60 s')"), 't', 'synced without binlog column metadata');
is($target->safe_psql('postgres', "SELECT string_agg(concat_ws('|', id, e, s, l, b, ti), ', ' ORDER BY id) FROM tm.nm"),
	"1|x||x|0|0, 4294967295|y'z|a,c|café|18446744073709551615|255",
	'unsigned maxima, ENUM and SET labels and latin1 text decoded from information_schema');
$my->sql(q{SET GLOBAL binlog_row_metadata = 'FULL'});

# binary values of the binlog into target columns of other types than the
# mapping's: read through their text, as the snapshot's values are
$my->sql(q{CREATE TABLE shop.fb (id INT PRIMARY KEY, n INT, u INT UNSIGNED, d DATETIME(3), dt DATE, f DOUBLE, b VARBINARY(4));
	INSERT INTO shop.fb VALUES (1, -5, 4294967295, '2024-02-29 12:34:56.789', '2024-02-29', 0.1, x'0102');
	CREATE TABLE shop.gl (id INT PRIMARY KEY, g GEOMETRY, l VARCHAR(10) CHARACTER SET latin1, u VARCHAR(10)) DEFAULT CHARSET utf8mb4;});
$target->safe_psql('postgres', q{
	CREATE SCHEMA other;
	CREATE TABLE other.fb (id bigint PRIMARY KEY, n numeric, u text, d text, dt text, f numeric, b text);
	SELECT tributary.create_job('fb', 'maria', 'full+cdc');
	SELECT tributary.add_table('fb', 'shop.fb', 'other.fb');
	SELECT tributary.add_table('fb', 'shop.gl', 'other.gl');
	SELECT tributary.start_job('fb');
});
is($target->safe_psql('postgres', "SELECT tributary.wait_for_sync('fb', '60 s')"), 't', 'a job into differently typed target columns syncs');
$my->sql(q{INSERT INTO shop.fb VALUES (2, -5, 4294967295, '2024-02-29 12:34:56.789', '2024-02-29', 0.1, x'0102');
	INSERT INTO shop.gl VALUES (1, ST_GeomFromText('POINT(1 2)'), 'café', 'ünï')});
is($target->safe_psql('postgres', "SELECT tributary.wait_for_sync('fb', '60 s')"), 't', 'and streams');
is($target->safe_psql('postgres', "SELECT string_agg(concat_ws('|', id, n, u, d, dt, f, b), ', ' ORDER BY id) FROM other.fb"),
	'1|-5|4294967295|2024-02-29 12:34:56.789|2024-02-29|0.1|\\x0102, 2|-5|4294967295|2024-02-29 12:34:56.789|2024-02-29|0.1|\\x0102',
	'binlog values (row 2) equal snapshot values (row 1) in text, numeric and bigint targets');
is($target->safe_psql('postgres', "SELECT l || ' ' || u || ' ' || length(g) FROM other.gl"), 'café ünï 21',
	'a latin1 column after a GEOMETRY column keeps its charset (GEOMETRY counts in the charset metadata)');

# a NUL character cannot be stored in PostgreSQL text: the job stops, naming the column
$my->sql(q{INSERT INTO shop.gl VALUES (2, NULL, 'x', CONCAT('a', CHAR(0), 'b'))});
ok($target->poll_query_until('postgres', "SELECT state = 'failed' FROM tributary.jobs WHERE job_name = 'fb'"),
	'a string with a NUL byte stops the job');
like($target->safe_psql('postgres', "SELECT message FROM tributary.errors WHERE job_name = 'fb' ORDER BY at DESC LIMIT 1"),
	qr/^column "u" of source table \[shop.gl\] holds a NUL character, which PostgreSQL text cannot store/,
	'naming the column and the table');
is($target->safe_psql('postgres', "SELECT count(*) FROM other.gl"), '1', 'the row is not applied');

$target->stop;
$my->stop;
done_testing();
