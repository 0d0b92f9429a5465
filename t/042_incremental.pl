# 042_incremental.pl -- job mode incremental (issue 13 item 8): tables
# polled by an ascending column, on a PostgreSQL source and on a MariaDB
# server without a binary log.  add_table refuses what cannot be polled
# exactly; the first poll empties the target and reads in pages; inserts
# and updates that move the column forward arrive, also while a writer
# runs; rows committed later with the last value applied (ties at the
# boundary) arrive; a value shared by more rows than a page holds makes
# progress; stop and start resume where the last page committed; rows
# read again unchanged are not written again; deletes are not seen (the
# documented limit), and resync_table reads the table anew.
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

my $source = source_node('source', 0);
my $target = target_node('target');
$source->safe_psql('postgres', q{
	CREATE SCHEMA app;
	CREATE SEQUENCE app.ver;
	CREATE TABLE app.items (id int PRIMARY KEY, ver bigint NOT NULL DEFAULT nextval('app.ver'), v text);
	CREATE INDEX ON app.items (ver);
	CREATE TABLE app.events (k text, n int, at timestamptz NOT NULL, payload jsonb, PRIMARY KEY (k, n));
	CREATE TABLE app.nullable (id int PRIMARY KEY, changed timestamptz);
	CREATE TABLE app.floaty (id int PRIMARY KEY, f float8 NOT NULL);
	INSERT INTO app.items (id, v) SELECT g, 'item ' || g FROM generate_series(1, 100) g;
	INSERT INTO app.events SELECT 'k' || (g % 3), g, '2026-01-01 00:00:00+00'::timestamptz + g * interval '1 s',
		jsonb_build_object('g', g) FROM generate_series(1, 50) g;
});
my $conn = pg_conninfo($source);
$target->safe_psql('postgres', qq{
	SELECT tributary.create_source('pg', 'postgresql', '$conn');
	SELECT tributary.create_job('inc', 'pg', 'incremental',
		'{"target_schema": "mirror", "poll_interval": "100 ms", "poll_batch_rows": 7}');
	SELECT tributary.create_job('cdcjob', 'pg', 'full+cdc', '{"target_schema": "other"}');
});

# --- what add_table refuses
my ($ret, $out, $err);
($ret, $out, $err) = $target->psql('postgres', q{SELECT tributary.add_table('inc', 'app.items')});
like($err, qr/source table \[app\.items\] needs an incremental column in job "inc"/, 'no incremental column: refused');
like($err, qr/HINT:.*incremental_column/, '... with a hint naming the argument');
($ret, $out, $err) = $target->psql('postgres', q{SELECT tributary.add_table('inc', 'app.items', incremental_column => 'nope')});
like($err, qr/source table \[app\.items\] has no column "nope"/, 'a column that does not exist: refused');
($ret, $out, $err) = $target->psql('postgres', q{SELECT tributary.add_table('inc', 'app.nullable', incremental_column => 'changed')});
like($err, qr/incremental column "changed" of source table \[app\.nullable\] may be NULL/, 'a nullable column: refused');
($ret, $out, $err) = $target->psql('postgres', q{SELECT tributary.add_table('inc', 'app.floaty', incremental_column => 'f')});
like($err, qr/incremental column "f" of source table \[app\.floaty\] has type double precision, which cannot be polled exactly/,
	'a floating-point column: refused');
($ret, $out, $err) = $target->psql('postgres', q{SELECT tributary.add_table('cdcjob', 'app.items', incremental_column => 'ver')});
like($err, qr/job "cdcjob" does not poll an incremental column \(mode full\+cdc\)/, 'incremental_column on another mode: refused');
($ret, $out, $err) = $target->psql('postgres', q{SELECT tributary.create_job('bad', 'pg', 'incremental', '{"poll_interval": "-1 s"}')});
like($err, qr/invalid value for job option "poll_interval"/, 'a negative poll_interval: refused');
is($target->safe_psql('postgres', q{SELECT ok || ' ' || (detail LIKE '%cannot see deleted rows%') FROM tributary.check_source('pg') WHERE check_name = 'incremental mode'}),
	'true true', 'check_source says polling cannot see deletes');

# --- the first poll: an emptied target, read in pages of 7
$target->safe_psql('postgres', q{
	CREATE SCHEMA mirror;
	CREATE TABLE mirror.items (id int PRIMARY KEY, ver bigint NOT NULL, v text);
	INSERT INTO mirror.items VALUES (1000, 1, 'left over on the target');
	SELECT tributary.add_table('inc', 'app.items', incremental_column => 'ver');
	SELECT tributary.alter_job('inc', '{"incremental_column": "at"}');
	SELECT tributary.add_table('inc', 'app.events');
	SELECT tributary.start_job('inc');
});
is($target->safe_psql('postgres', q{SELECT tributary.wait_for_sync('inc', '60 s')}), 't', 'the job syncs');
is(digest($target, 'SELECT * FROM mirror.items'), digest($source, 'SELECT * FROM app.items'), 'items: equal (the left-over row is gone)');
is(digest($target, 'SELECT * FROM mirror.events'), digest($source, 'SELECT * FROM app.events'), 'events: equal (a composite key, a timestamptz column)');
is($target->safe_psql('postgres', q{SELECT state || ' ' || phase FROM tributary.jobs WHERE job_name = 'inc'}), 'running streaming', 'the job runs');
like($target->safe_psql('postgres', q{SELECT jt_incremental_last FROM tributary.job_table WHERE jt_source_rel = 'items'}),
	qr/^\{"ver": "100", "id": "100"\}$/, 'the last poll key is recorded');

# --- inserts and updates that move the column forward
$source->safe_psql('postgres', q{
	INSERT INTO app.items (id, v) SELECT g, 'new ' || g FROM generate_series(101, 130) g;
	UPDATE app.items SET v = v || ' updated', ver = nextval('app.ver') WHERE id % 10 = 3;
	UPDATE app.events SET payload = '{"changed": true}', at = '2026-02-01 00:00:00+00' WHERE n IN (4, 40);
});
is($target->safe_psql('postgres', q{SELECT tributary.wait_for_sync('inc', '60 s')}), 't', 'the job syncs again');
is(digest($target, 'SELECT * FROM mirror.items'), digest($source, 'SELECT * FROM app.items'), 'items: inserts and updates arrived');
is(digest($target, 'SELECT * FROM mirror.events'), digest($source, 'SELECT * FROM app.events'), 'events: updates arrived');

# --- ties at the boundary: rows committed after the poll with the last value applied
my $last = $source->safe_psql('postgres', q{SELECT max(ver) FROM app.items});
$source->safe_psql('postgres', qq{
	INSERT INTO app.items VALUES (-1, $last, 'late, same value, smaller key'), (-2, $last, 'late too');
});
is($target->safe_psql('postgres', q{SELECT tributary.wait_for_sync('inc', '60 s')}), 't', 'synced after the late rows');
is($target->safe_psql('postgres', q{SELECT string_agg(v, ',' ORDER BY id) FROM mirror.items WHERE id < 0}),
	'late too,late, same value, smaller key', 'rows with the last value applied, committed later, arrive');
# a value shared by more rows than a page holds (7)
$source->safe_psql('postgres', q{
	SELECT setval('app.ver', nextval('app.ver'));
	INSERT INTO app.items SELECT g, currval('app.ver'), 'one value ' || g FROM generate_series(201, 230) g;
	INSERT INTO app.items (id, v) VALUES (231, 'after them');
});
is($target->safe_psql('postgres', q{SELECT tributary.wait_for_sync('inc', '60 s')}), 't', 'synced after 30 rows of one value');
is(digest($target, 'SELECT * FROM mirror.items'), digest($source, 'SELECT * FROM app.items'), 'items: a value shared by 30 rows made progress');

# --- rows read again unchanged are not written again
my $applied = $target->safe_psql('postgres', q{SELECT rows_applied FROM tributary.tables WHERE source_table = 'app.items'});
my $xmin = $target->safe_psql('postgres', q{SELECT string_agg(xmin::text, ',' ORDER BY id) FROM mirror.items WHERE ver = (SELECT max(ver) FROM mirror.items)});
$target->safe_psql('postgres', q{SELECT tributary.wait_for_sync('inc', '60 s')}) for 1 .. 3;
is($target->safe_psql('postgres', q{SELECT rows_applied FROM tributary.tables WHERE source_table = 'app.items'}), $applied,
	'idle polls write nothing (rows_applied unchanged)');
is($target->safe_psql('postgres', q{SELECT string_agg(xmin::text, ',' ORDER BY id) FROM mirror.items WHERE ver = (SELECT max(ver) FROM mirror.items)}),
	$xmin, 'the rows at the last value are not rewritten');

# --- under writes: one writer inserts and updates, moving ver forward
my $writer_sql = q{DO $$ BEGIN
	FOR i IN 1001 .. 1300 LOOP
		INSERT INTO app.items (id, v) VALUES (i, 'written along ' || i);
		UPDATE app.items SET v = v || '!', ver = nextval('app.ver') WHERE id = i - 1000;
		COMMIT;
		PERFORM pg_sleep(0.002);
	END LOOP;
END $$;};
my $writer = IPC::Run::start(['psql', '-XAtq', '-d', $source->connstr('postgres'), '-c', $writer_sql],
	'>', \my $wout, '2>', \my $werr);
# stop and start in the middle of it: the job resumes at its last page
ok($target->poll_query_until('postgres', q{SELECT count(*) > 20 FROM mirror.items WHERE id > 1000}), 'the writer\'s rows arrive while it writes');
$target->safe_psql('postgres', q{SELECT tributary.stop_job('inc')});
ok($target->poll_query_until('postgres', q{SELECT state = 'stopped' FROM tributary.jobs WHERE job_name = 'inc'}), 'stopped while the writer runs');
$target->safe_psql('postgres', q{SELECT tributary.start_job('inc')});
$writer->finish;
is($werr, '', 'the writer ran without errors');
is($target->safe_psql('postgres', q{SELECT tributary.wait_for_sync('inc', '60 s')}), 't', 'synced after the writer');
is(digest($target, 'SELECT * FROM mirror.items'), digest($source, 'SELECT * FROM app.items'), 'items: equal after writes, a stop and a start');

# --- deletes are not seen; resync_table reads the table anew
$source->safe_psql('postgres', q{DELETE FROM app.items WHERE id <= 10});
is($target->safe_psql('postgres', q{SELECT tributary.wait_for_sync('inc', '60 s')}), 't', 'synced after deletes');
is($target->safe_psql('postgres', q{SELECT count(*) FROM mirror.items WHERE id BETWEEN 1 AND 10}), '10', 'deleted rows stay on the target (polling cannot see deletes)');
$target->safe_psql('postgres', q{SELECT tributary.resync_table('inc', 'app.items')});
is($target->safe_psql('postgres', q{SELECT tributary.wait_for_sync('inc', '60 s')}), 't', 'synced after resync_table');
is(digest($target, 'SELECT * FROM mirror.items'), digest($source, 'SELECT * FROM app.items'), 'items: equal after resync_table');

# --- restart_job(job, false) forgets the positions: the tables are read anew
$target->safe_psql('postgres', q{DELETE FROM mirror.events WHERE n < 10});
$target->safe_psql('postgres', q{SELECT tributary.restart_job('inc', false)});
is($target->safe_psql('postgres', q{SELECT tributary.wait_for_sync('inc', '60 s')}), 't', 'synced after restart_job(false)');
is(digest($target, 'SELECT * FROM mirror.events'), digest($source, 'SELECT * FROM app.events'), 'events: read anew');

# --- add_tables(..., follow => true): tables created later are polled too
$source->safe_psql('postgres', q{
	CREATE TABLE app.fol_1 (id int PRIMARY KEY, at timestamptz NOT NULL DEFAULT now(), v text);
	INSERT INTO app.fol_1 (id, v) SELECT g, 'f' || g FROM generate_series(1, 12) g;
});
is($target->safe_psql('postgres', q{SELECT tributary.add_tables('inc', 'app\.fol_.*', 'mirror', follow => true)}), '1',
	'add_tables adds the matching table (the job option names its column) and keeps the rule');
is($target->safe_psql('postgres', q{SELECT tributary.wait_for_sync('inc', '60 s')}), 't', 'synced with the added table');
$source->safe_psql('postgres', q{
	CREATE TABLE app.fol_2 (id int PRIMARY KEY, at timestamptz NOT NULL DEFAULT now(), v text);
	INSERT INTO app.fol_2 (id, v) SELECT g, 'g' || g FROM generate_series(1, 9) g;
	INSERT INTO app.fol_1 (id, v) VALUES (13, 'later');
});
is($target->safe_psql('postgres', q{SELECT tributary.wait_for_sync('inc', '60 s')}), 't', 'synced after a table was created');
is(digest($target, 'SELECT * FROM mirror.fol_1'), digest($source, 'SELECT * FROM app.fol_1'), 'fol_1: equal');
is(digest($target, 'SELECT * FROM mirror.fol_2'), digest($source, 'SELECT * FROM app.fol_2'), 'fol_2: created on the source while the job ran, followed and equal');

# --- MariaDB without a binary log
my $my = MariaDBNode->new('incremental', 'log-bin' => 'OFF!', 'binlog-format' => 'OFF!', 'binlog-row-image' => 'OFF!');
is($my->sql(q{SELECT @@log_bin}), '0', 'the MariaDB server has no binary log');
$my->sql(q{
	CREATE DATABASE shop;
	USE shop;
	CREATE TABLE shop.orders (id INT PRIMARY KEY, updated_at DATETIME(6) NOT NULL, note VARCHAR(40), amount DECIMAL(10,2),
		KEY (updated_at));
	INSERT INTO shop.orders SELECT seq, TIMESTAMP '2026-03-01 00:00:00' + INTERVAL seq SECOND, CONCAT('o', seq), seq / 4
	  FROM seq_1_to_60;
	CREATE TABLE shop.stamps (id BIGINT UNSIGNED PRIMARY KEY, ts TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3), s TEXT);
	INSERT INTO shop.stamps (id, ts, s) SELECT seq, FROM_UNIXTIME(1700000000 + seq), REPEAT('x', seq) FROM seq_1_to_20;
});
my $mconn = $my->conninfo(undef, 'root');
$target->safe_psql('postgres', qq{
	SELECT tributary.create_source('maria', 'mysql', '$mconn');
	SELECT tributary.create_job('minc', 'maria', 'incremental',
		'{"target_schema": "mmirror", "poll_interval": 0.1, "poll_batch_rows": 9}');
	SELECT tributary.add_table('minc', 'shop.orders', incremental_column => 'updated_at');
	SELECT tributary.add_table('minc', 'shop.stamps', incremental_column => 'ts');
	SELECT tributary.start_job('minc');
});
is($target->safe_psql('postgres', q{SELECT tributary.wait_for_sync('minc', '60 s')}), 't', 'the MariaDB job syncs');
$my->sql(q{USE shop; CREATE TABLE shop.st (id INT PRIMARY KEY, phase ENUM('new', 'done', 'archived') NOT NULL)});
($ret, $out, $err) = $target->psql('postgres', q{SELECT tributary.add_table('minc', 'shop.st', incremental_column => 'phase')});
like($err, qr/incremental column "phase" of source table \[shop\.st\] has type enum\('new','done','archived'\), which cannot be polled exactly/,
	'an ENUM column (ordered by index, compared as text): refused');
is($target->safe_psql('postgres', q{SELECT count(*) || ' ' || sum(amount) || ' ' || to_char(max(updated_at), 'YYYY-MM-DD HH24:MI:SS.US') FROM mmirror.orders}),
	$my->sql(q{SELECT CONCAT(COUNT(*), ' ', SUM(amount), ' ', MAX(updated_at)) FROM shop.orders}), 'orders: copied');
sub orders_equal
{
	my ($what) = @_;
	is($target->safe_psql('postgres', q{SELECT count(*) || E'\t' || md5(string_agg(id || '|' || to_char(updated_at, 'YYYY-MM-DD HH24:MI:SS.US') || '|' || note || '|' || amount, ',' ORDER BY id)) FROM mmirror.orders}),
		$my->sql(q{SELECT COUNT(*), MD5(GROUP_CONCAT(CONCAT_WS('|', id, DATE_FORMAT(updated_at, '%Y-%m-%d %H:%i:%s.%f'), note, amount) ORDER BY id SEPARATOR ',')) FROM shop.orders}),
		"orders: $what");
}
orders_equal('equal after the first poll');
$my->sql(q{
	USE shop;
	INSERT INTO shop.orders SELECT seq, TIMESTAMP '2026-03-02 00:00:00' + INTERVAL seq SECOND, CONCAT('new', seq), seq FROM seq_61_to_80;
	UPDATE shop.orders SET note = 'updated', updated_at = '2026-03-03 00:00:00' WHERE id % 7 = 0;
});
is($target->safe_psql('postgres', q{SELECT tributary.wait_for_sync('minc', '60 s')}), 't', 'synced after inserts and updates');
orders_equal('inserts and updates arrived (11 rows share one updated_at)');
# ties: a row committed later with the last value applied and a smaller key
$my->sql(q{INSERT INTO shop.orders VALUES (-5, '2026-03-03 00:00:00', 'late tie', 1)});
is($target->safe_psql('postgres', q{SELECT tributary.wait_for_sync('minc', '60 s')}), 't', 'synced after a late tie');
orders_equal('the late row with the last value arrived');
# under writes from a client
my $bg = $my->background(q{
	USE shop;
	DELIMITER //
	CREATE PROCEDURE w() BEGIN
		DECLARE i INT DEFAULT 1001;
		WHILE i <= 1200 DO
			INSERT INTO shop.orders VALUES (i, NOW(6), 'along', i);
			UPDATE shop.orders SET note = CONCAT(note, '!'), updated_at = NOW(6) WHERE id = i - 1000;
			SET i = i + 1;
		END WHILE;
	END //
	DELIMITER ;
	CALL w();
});
$bg->finish;
is($target->safe_psql('postgres', q{SELECT tributary.wait_for_sync('minc', '60 s')}), 't', 'synced after the writer');
orders_equal('equal after writes');
is($target->safe_psql('postgres', q{SELECT count(*) || ' ' || sum(length(s)) || ' ' || extract(epoch FROM max(ts))::bigint FROM mmirror.stamps}),
	$my->sql(q{SELECT CONCAT(COUNT(*), ' ', SUM(LENGTH(s)), ' ', UNIX_TIMESTAMP(MAX(ts)) DIV 1) FROM shop.stamps}),
	'stamps: a TIMESTAMP(3) column polled');
$my->sql(q{USE shop; INSERT INTO shop.stamps (id, ts, s) VALUES (100, FROM_UNIXTIME(1800000000), 'later'); UPDATE shop.stamps SET s = 'moved', ts = FROM_UNIXTIME(1800000001) WHERE id = 3});
is($target->safe_psql('postgres', q{SELECT tributary.wait_for_sync('minc', '60 s')}), 't', 'synced after stamps changes');
is($target->safe_psql('postgres', q{SELECT string_agg(id || ' ' || s || ' ' || extract(epoch FROM ts)::bigint, ',' ORDER BY id) FROM mmirror.stamps WHERE id IN (3, 100)}),
	'3 moved 1800000001,100 later 1800000000', 'stamps: changes arrived');
is($target->safe_psql('postgres', q{SELECT state FROM tributary.jobs WHERE job_name = 'minc'}), 'running', 'the MariaDB job runs');
is($target->safe_psql('postgres', q{SELECT count(*) FROM tributary.errors WHERE job_name IN ('inc', 'minc')}), '0', 'no errors');

$my->stop;
done_testing();
