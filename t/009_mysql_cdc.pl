# 009_mysql_cdc.pl -- change capture from MariaDB's binlog: full+cdc under
# concurrent writes, every type through the binlog compared with the
# snapshot path, key-changing updates, composite keys, a large
# transaction, rotation, compressed events, restarts of either side.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use TributaryTest;
use MariaDBNode;

my $my = MariaDBNode->new('cdc', 'binlog-row-metadata' => 'FULL', 'max-binlog-size' => '4096');
my $types_values = q{
		(%d, 127, 65535, 8388607, 2147483647, 4294967295, 9223372036854775807, 18446744073709551615,
		 99999999999999999999999999999999999.999999999999999999999999999999, 12345678.90, 1.5,
		 1.7976931348623157e308, b'1', x'8000000000000001',
		 'ab', 'ünïcødé ✓', 'a\tb\nc\\\\d', 'café', 'ab', x'00ff10', 'blob\0data',
		 '2024-02-29', '2024-02-29 23:59:59.123456', '2038-01-19 03:14:07.999', '23:59:59.99', 2155,
		 'b', 'z,x', '{"a": [1, 2, null], "b": "ü"}', ST_GeomFromText('POINT(1 2)'), -1.5, 3.1415927, '12:34:56'),
		(%d, -128, 0, -8388608, -2147483648, 0, -9223372036854775808, 0,
		 -99999999999999999999999999999999999.999999999999999999999999999999, -0.01, -2.5e-3,
		 -2.2250738585072014e-308, b'0', b'0', '', '', '', '', x'', x'', x'',
		 '1000-01-01', '1000-01-01 00:00:00', '1970-01-01 00:00:01', '00:00:00', 1901,
		 'a', '', '[]', ST_GeomFromText('LINESTRING(0 0, 1 1)'), 0.000000001, -16777217, '00:00:00'),
		(%d, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
		 NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)};
$my->sql(q{
	SET SESSION sql_mode = '';
	SET SESSION time_zone = '+00:00';
	CREATE DATABASE shop;
	USE shop;
	CREATE TABLE shop.types (} . MariaDBNode::types_columns() . q{,
		dsm DECIMAL(20,10), f2 FLOAT, tm0 TIME) DEFAULT CHARSET utf8mb4;
	INSERT INTO shop.types VALUES } . sprintf($types_values, 1, 2, 3) . q{;
	CREATE TABLE shop.acct (id INT PRIMARY KEY, owner VARCHAR(40), balance DECIMAL(14,2), touched DATETIME(3));
	INSERT INTO shop.acct SELECT seq, CONCAT('owner ', seq), seq * 10, '2024-01-01' FROM seq_1_to_20000;
	CREATE TABLE shop.comp (region VARCHAR(10), id INT, v TEXT, PRIMARY KEY (region, id));
	INSERT INTO shop.comp SELECT ELT(seq % 3 + 1, 'eu', 'us', 'Äsien'), seq, CONCAT('v', seq) FROM seq_1_to_300;
	CREATE TABLE shop.zero (id INT PRIMARY KEY, dt DATE, dtm DATETIME, ts TIMESTAMP NULL DEFAULT NULL);
	CREATE TABLE shop.other (id INT PRIMARY KEY, v INT);
});

my $target = target_node('target');
my $conn = $my->conninfo(undef, 'root');
$target->safe_psql('postgres', qq{
	SELECT tributary.create_source('maria', 'mysql', '$conn', '{"heartbeat_interval": 1000}');
	SELECT tributary.create_job('mycdc', 'maria', 'full+cdc', '{"snapshot_chunk_rows": 3000, "target_schema": "mirror", "parallelism.default": 2, "restart-strategy.type": "fixed-delay"}');
	SELECT tributary.add_table('mycdc', 'shop.types');
	SELECT tributary.add_table('mycdc', 'shop.acct');
	SELECT tributary.add_table('mycdc', 'shop.comp');
	SELECT tributary.add_table('mycdc', 'shop.zero');
});

# writes while the snapshot runs: updates, deletes, inserts, key changes
my $writer = $my->background(q{
	USE shop;
	DELIMITER //
	CREATE PROCEDURE churn()
	BEGIN
	  DECLARE n INT DEFAULT 0;
	  WHILE n < 3000 DO
	    START TRANSACTION;
	    UPDATE acct SET balance = balance + 1, touched = NOW(3) WHERE id = 1 + (n * 7919) % 20000;
	    INSERT INTO acct VALUES (100000 + n, CONCAT('new ', n), n, NOW(3));
	    IF n % 3 = 0 THEN DELETE FROM acct WHERE id = 1 + (n * 104729) % 20000; END IF;
	    IF n % 5 = 0 THEN UPDATE acct SET id = id + 500000 WHERE id = 100000 + n; END IF;
	    UPDATE comp SET v = CONCAT(v, '+') WHERE id = 1 + n % 300;
	    INSERT INTO other VALUES (n, n);
	    COMMIT;
	    SET n = n + 1;
	  END WHILE;
	END //
	DELIMITER ;
	CALL churn();
});
$target->safe_psql('postgres', "SELECT tributary.start_job('mycdc')");
$writer->finish;

# every type through the binlog, next to the same values through the snapshot
$my->sql(q{SET SESSION sql_mode = ''; SET SESSION time_zone = '+00:00';
	INSERT INTO shop.types VALUES } . sprintf($types_values, 11, 12, 13) . q{;
	INSERT INTO shop.zero VALUES (1, '0000-00-00', '0000-00-00 00:00:00', '0000-00-00 00:00:00'),
		(2, '2024-00-10', '2024-05-00 10:00:00', NULL), (3, '2024-05-10', '2024-05-10 10:00:00', '2024-05-10 10:00:00');});
is($target->safe_psql('postgres', "SELECT tributary.wait_for_sync('mycdc', '180 s')"), 't', 'the full+cdc job catches up');

sub my_digest
{
	my ($sql) = @_;
	return $my->sql("SET SESSION group_concat_max_len = 1073741824; $sql");
}
sub acct_equal
{
	my ($what) = @_;
	is($target->safe_psql('postgres', q{SELECT count(*) || ':' || md5(string_agg(concat_ws('|', id, owner, balance, to_char(touched, 'YYYY-MM-DD HH24:MI:SS.MS')), E'\n' ORDER BY id)) FROM mirror.acct}),
		my_digest(q{SELECT CONCAT(COUNT(*), ':', MD5(GROUP_CONCAT(CONCAT_WS('|', id, owner, balance, LEFT(DATE_FORMAT(touched, '%Y-%m-%d %H:%i:%s.%f'), 23)) ORDER BY id SEPARATOR '\n'))) FROM shop.acct}),
		$what);
}
acct_equal('snapshot plus binlog under 3,000 concurrent transactions: digests equal');
ok($target->log_contains('pg_tributary job "mycdc" snapshot helper 1 copied [1-9]'),
	'a snapshot helper with a view of its own copied chunks (parallelism.default 2)');
is($target->safe_psql('postgres', "SELECT count(*) FROM tributary.table_state s JOIN tributary.job_table t ON t.jt_id = s.ts_jt_id WHERE t.jt_source_rel = 'acct' AND s.ts_done"),
	'7', 'every chunk of the 20,000-row table copied once');
is($target->safe_psql('postgres', q{SELECT md5(string_agg(concat_ws('|', region, id, v), E'\n' ORDER BY id)) FROM mirror.comp}),
	my_digest(q{SELECT MD5(CONVERT(GROUP_CONCAT(CONCAT_WS('|', region, id, v) ORDER BY id SEPARATOR '\n') USING utf8mb4)) FROM shop.comp}),
	'composite-key table equal');

my @cols = qw(ti si mi i iu bi bu dec65 d10 f dbl b1 b64 c vc tx l1 bin vb bl dt dtm ts tm yr en st js g dsm f2 tm0);
my $sel = join(", ", map { $_ eq 'ts' ? "coalesce((ts AT TIME ZONE 'UTC')::text, 'NULL')" : "coalesce($_\::text, 'NULL')" } @cols);
for my $pair ([1, 11], [2, 12], [3, 13])
{
	my ($snap, $bin) = @$pair;
	my $a = $target->safe_psql('postgres', "SELECT concat_ws('|', $sel) FROM mirror.types WHERE id = $snap");
	my $b = $target->safe_psql('postgres', "SELECT concat_ws('|', $sel) FROM mirror.types WHERE id = $bin");
	is($b, $a, "row $bin through the binlog equals row $snap through the snapshot");
}
like($target->safe_psql('postgres', "SELECT concat_ws('|', $sel) FROM mirror.types WHERE id = 11"),
	qr/^127\|65535\|8388607\|2147483647\|4294967295\|9223372036854775807\|18446744073709551615\|99999999999999999999999999999999999\.999999999999999999999999999999\|12345678\.90\|1\.5\|1\.7976931348623157e\+308\|1\|10{62}1\|ab\|ünïcødé ✓\|/,
	'binlog values are the exact edge values');
is($target->safe_psql('postgres', q{SELECT string_agg(concat_ws('|', id, coalesce(dt::text, 'NULL'), coalesce(dtm::text, 'NULL'),
	coalesce((ts AT TIME ZONE 'UTC')::text, 'NULL')), ',' ORDER BY id) FROM mirror.zero}),
	'1|NULL|NULL|NULL,2|NULL|NULL|NULL,3|2024-05-10|2024-05-10 10:00:00|2024-05-10 10:00:00',
	'zero and partial dates in the binlog become NULL (zero_date = null)');

# key-changing updates and deletes through the binlog
$my->sql(q{UPDATE shop.types SET id = 21 WHERE id = 11; DELETE FROM shop.types WHERE id = 12;
	UPDATE shop.comp SET region = 'ap', id = id + 1000 WHERE id <= 10;});
is($target->safe_psql('postgres', "SELECT tributary.wait_for_sync('mycdc', '60 s')"), 't', 'synced after key changes');
is($target->safe_psql('postgres', "SELECT string_agg(id::text, ',' ORDER BY id) FROM mirror.types"), '1,2,3,13,21',
	'a primary key change moves the row; a delete removes it');
is($target->safe_psql('postgres', q{SELECT count(*) FILTER (WHERE region = 'ap') || '/' || count(*) FROM mirror.comp}), '10/300',
	'composite key changes applied');

# a large transaction, across binlog rotations (max_binlog_size 4 kB)
my $file_before = $my->sql("SHOW MASTER STATUS");
$my->sql(q{USE shop; START TRANSACTION;
	INSERT INTO acct SELECT 1000000 + seq, REPEAT('x', 30), seq, '2024-06-01' FROM seq_1_to_100000;
	UPDATE acct SET balance = balance * 2 WHERE id BETWEEN 1000000 AND 1050000;
	COMMIT;
	INSERT INTO acct VALUES (2000001, 'after', 1, NULL); INSERT INTO acct VALUES (2000002, 'after', 2, NULL);});
isnt($my->sql("SHOW MASTER STATUS"), $file_before, 'the binlog rotated');
is($target->safe_psql('postgres', "SELECT tributary.wait_for_sync('mycdc', '180 s')"), 't', 'synced after a 150,000-row transaction');
acct_equal('large transaction and rotations: digests equal');

# MariaDB compressed binlog events
$my->sql(q{SET GLOBAL log_bin_compress = ON; SET GLOBAL log_bin_compress_min_len = 10;});
$my->sql(q{SET SESSION sql_mode = ''; SET SESSION time_zone = '+00:00';
	INSERT INTO shop.types VALUES } . sprintf($types_values, 31, 32, 33) . q{;
	UPDATE shop.acct SET owner = REPEAT('compressed ', 20) WHERE id <= 500; DELETE FROM shop.acct WHERE id BETWEEN 501 AND 600;});
like($my->sql(q{SHOW BINLOG EVENTS IN '} . (split(/\t/, $my->sql("SHOW MASTER STATUS")))[0] . q{'}), qr/_rows_compressed/i,
	'the binlog holds compressed row events');
is($target->safe_psql('postgres', "SELECT tributary.wait_for_sync('mycdc', '60 s')"), 't', 'synced after compressed events');
acct_equal('compressed events applied: digests equal');
for my $pair ([1, 31], [2, 32], [3, 33])
{
	my ($snap, $bin) = @$pair;
	is($target->safe_psql('postgres', "SELECT concat_ws('|', $sel) FROM mirror.types WHERE id = $bin"),
		$target->safe_psql('postgres', "SELECT concat_ws('|', $sel) FROM mirror.types WHERE id = $snap"),
		"row $bin from compressed events equals row $snap");
}
$my->sql(q{SET GLOBAL log_bin_compress = OFF;});

# kill -9 of the target while it streams
$writer = $my->background(q{
	USE shop;
	DELIMITER //
	CREATE PROCEDURE churn2()
	BEGIN
	  DECLARE n INT DEFAULT 0;
	  WHILE n < 4000 DO
	    UPDATE acct SET balance = balance + 1 WHERE id = 1 + (n * 31) % 20000;
	    INSERT INTO acct VALUES (3000000 + n, 'crash', n, NOW(3));
	    SET n = n + 1;
	  END WHILE;
	END //
	DELIMITER ;
	CALL churn2();
});
ok($target->poll_query_until('postgres', "SELECT count(*) > 0 FROM mirror.acct WHERE owner = 'crash'"),
	'the writer\'s changes stream in');
ok(crash_instance($target) > 0, 'target killed with -9 while streaming');
$writer->finish;
is($target->safe_psql('postgres', "SELECT tributary.wait_for_sync('mycdc', '120 s')"), 't', 'synced after the crash');
acct_equal('exactly once across a target crash: digests equal');

# MariaDB restarts (hard) mid-stream
$my->kill9;
$my->start;
$my->sql(q{INSERT INTO shop.acct VALUES (4000001, 'after restart', 1, NULL); UPDATE shop.acct SET balance = 0 WHERE id = 2;});
is($target->safe_psql('postgres', "SELECT tributary.wait_for_sync('mycdc', '120 s')"), 't', 'synced after a MariaDB kill -9 and restart');
acct_equal('source restart: digests equal');
is($target->safe_psql('postgres', "SELECT state || ' ' || phase FROM tributary.jobs WHERE job_name = 'mycdc'"), 'running streaming',
	'the job streams on');
like($target->safe_psql('postgres', "SELECT position FROM tributary.checkpoints WHERE job_name = 'mycdc'"),
	qr/^binlog\.\d{6}:\d+ gtid 0-1-\d+$/, 'checkpoints hold binlog file, offset and GTID');

# an idle job: changes of other tables and rotations move its checkpoint on
my $cp_before = $target->safe_psql('postgres', "SELECT position FROM tributary.checkpoints WHERE job_name = 'mycdc'");
$my->sql(q{INSERT INTO shop.other VALUES (100000, 1); FLUSH BINARY LOGS; INSERT INTO shop.other VALUES (100001, 1);});
my ($file_now) = split(/\t/, $my->sql("SHOW MASTER STATUS"));
ok($target->poll_query_until('postgres', "SELECT position LIKE '$file_now:%' FROM tributary.checkpoints WHERE job_name = 'mycdc'"),
	'an idle job checkpoints the source position it passed');
is($target->safe_psql('postgres', "SELECT count(*) FROM mirror.acct"), $my->sql("SELECT COUNT(*) FROM shop.acct"),
	'and applies nothing for it');

# GTIDs: a checkpoint lists the last GTID of every replication domain the
# stream passed, and a restarted stream reads them back from it
$my->sql(q{SET SESSION gtid_domain_id = 7; INSERT INTO shop.acct VALUES (4000002, 'domain 7', 1, NULL)});
$target->safe_psql('postgres', "SELECT tributary.wait_for_sync('mycdc', '60 s')");
like($target->safe_psql('postgres', "SELECT position FROM tributary.checkpoints WHERE job_name = 'mycdc'"),
	qr/ gtid 0-1-\d+,7-1-\d+$/, 'a checkpoint lists the GTID of each domain');
my ($d7) = $target->safe_psql('postgres', "SELECT position FROM tributary.checkpoints WHERE job_name = 'mycdc'") =~ /(7-1-\d+)$/;
$target->safe_psql('postgres', "SELECT tributary.stop_job('mycdc')");
$target->poll_query_until('postgres', "SELECT pid IS NULL AND state = 'stopped' FROM tributary.jobs WHERE job_name = 'mycdc'")
  or die 'mycdc did not stop';
$target->safe_psql('postgres', "SELECT tributary.start_job('mycdc')");
$my->sql(q{INSERT INTO shop.acct VALUES (4000003, 'domain 0 again', 1, NULL)});
$target->safe_psql('postgres', "SELECT tributary.wait_for_sync('mycdc', '60 s')");
like($target->safe_psql('postgres', "SELECT position FROM tributary.checkpoints WHERE job_name = 'mycdc'"),
	qr/ gtid 0-1-\d+,\Q$d7\E$/, 'after a restart the stream still knows the other domain\'s GTID');
is($target->safe_psql('postgres', "SELECT count(*) FROM mirror.acct WHERE id IN (4000002, 4000003)"), '2',
	'and applied both domains\' rows');

# the end-to-end checks every source kind runs (TributaryTest::shared_checks)
$my->sql('CREATE TABLE shop.e2e (id int PRIMARY KEY, name text, qty int)');
$target->safe_psql('postgres', q{
	CREATE SCHEMA shared;
	SELECT tributary.create_job('e2e', 'maria', 'full+cdc', '{"snapshot_chunk_rows": 70, "parallelism.default": 2}');
	SELECT tributary.add_table('e2e', 'shop.e2e', 'shared.e2e');
});
sub my_literal
{
	my ($v) = @_;
	return 'NULL' unless defined $v;
	$v =~ s/\\/\\\\/g;
	$v =~ s/'/''/g;
	return "'$v'";
}
shared_checks(target => $target, job => 'e2e', target_table => 'shared.e2e', label => 'mysql',
	exec => sub {
		my $sql = 'START TRANSACTION;';
		for my $c (@_)
		{
			my ($op, $id, $name, $qty) = @$c;
			$sql .= $op eq 'insert' ? "INSERT INTO shop.e2e VALUES ($id, " . my_literal($name) . ', ' . my_literal($qty) . ');'
			  : $op eq 'update' ? 'UPDATE shop.e2e SET name = ' . my_literal($name) . ', qty = ' . my_literal($qty) . " WHERE id = $id;"
			  : "DELETE FROM shop.e2e WHERE id = $id;";
		}
		$my->sql("$sql COMMIT;");
	});

$target->stop;
$my->stop;
done_testing();
