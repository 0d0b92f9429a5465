# 003_mysql_source.pl -- MySQL/MariaDB sources against a real MariaDB:
# check_source, add_table (type mapping of auto-created targets, primary
# key rule), a job worker holding its connection, and a server that goes
# away.
use strict;
use warnings;
use FindBin;
use lib $FindBin::RealBin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use MariaDBNode;
use TributaryTest;

my $my = MariaDBNode->new('good', 'binlog-row-metadata' => 'FULL');
$my->sql(q{
	CREATE DATABASE shop;
	CREATE TABLE shop.orders (
		id BIGINT UNSIGNED PRIMARY KEY, t TINYINT, su SMALLINT UNSIGNED, m MEDIUMINT,
		i INT, iu INT UNSIGNED, b BIGINT, d DECIMAL(65,30), f FLOAT, db DOUBLE, bits BIT(5),
		c CHAR(3), vc VARCHAR(20), tx TEXT, bin BINARY(4), vb VARBINARY(10), bl BLOB,
		dt DATE, dtm DATETIME(6), ts TIMESTAMP(3) NULL, tm TIME(2), y YEAR,
		e ENUM('a','b'), s SET('x','y'), j JSON, g GEOMETRY);
	CREATE TABLE shop.nokey (a INT, b TEXT);
	CREATE TABLE shop.items (order_id INT, line INT, sku VARCHAR(10), PRIMARY KEY (order_id, line));
	CREATE USER 'weak'@'%' IDENTIFIED BY 'weakpw';
	GRANT SELECT ON shop.* TO 'weak'@'%';
});

# a server without a binary log
my $nolog = MariaDBNode->new('nolog', 'log-bin' => 'OFF!', 'binlog-format' => 'STATEMENT');

my $target = target_node('target');
$target->safe_psql('postgres', sprintf(q{
	SET log_statement = 'none';
	SELECT tributary.create_source('shop', 'mysql', '%s', '{"heartbeat_interval": 1}');
	SELECT tributary.create_source('weak', 'mysql', '%s');
	SELECT tributary.create_source('nolog', 'mysql', '%s');
	SELECT tributary.create_source('badpw', 'mysql', '%s');
}, $my->conninfo('shop'), $my->conninfo('shop', 'weak', 'weakpw'), $nolog->conninfo,
	$my->conninfo('shop', 'weak', 'wrongpw')));

sub check { return check_row($target, @_); }

my $tables = q{ARRAY['shop.orders', 'shop.nokey', 'shop.gone']};
like(check('shop', 'connection', $tables), qr/^t\|connected to .*MariaDB/, 'connects to MariaDB');
like(check('shop', 'log_bin', $tables), qr/^t\|log_bin is ON/, 'log_bin on');
like(check('shop', 'binlog_format', $tables), qr/^t\|binlog_format is ROW/, 'binlog_format ROW');
like(check('shop', 'binlog_row_image', $tables), qr/^t\|binlog_row_image is FULL/, 'binlog_row_image FULL');
like(check('shop', 'binlog_row_metadata', $tables), qr/^t\|binlog_row_metadata is FULL/, 'binlog_row_metadata FULL');
like(check('shop', 'server_id', $tables), qr/^t\|server_id is 1/, 'server_id');
like(check('shop', 'privileges', $tables), qr/^t\|/, 'root has the privileges');
like(check('shop', 'binlog_position', $tables), qr/^t\|binary log at binlog\.\d+:\d+/, 'binary log position');
like(check('shop', 'primary_key shop.orders', $tables), qr/^t\|/, 'a table with a key passes');
like(check('shop', 'primary_key shop.nokey', $tables),
	qr/^f\|source table \[shop.nokey\] do not contain any primary key\|.*ADD PRIMARY KEY/,
	'a table without a key is reported with the fix');
like(check('shop', 'table shop.gone', $tables), qr/^f\|source table \[shop.gone\] does not exist/,
	'a missing table is reported');

like(check('weak', 'privileges'), qr/^f\|missing: REPLICATION SLAVE REPLICATION CLIENT\|On the source run GRANT REPLICATION SLAVE, REPLICATION CLIENT, SELECT ON \*\.\* TO 'weak'\@'%';/,
	'missing replication privileges are reported with the fix');
like(check('nolog', 'log_bin'), qr/^f\|log_bin is OFF, should be ON\|/, 'a server without binary log');
like(check('nolog', 'binlog_format'), qr/^f\|binlog_format is STATEMENT, should be ROW\|SET GLOBAL binlog_format/,
	'binlog_format STATEMENT is reported');
like(check('badpw', 'connection'), qr/^f\|could not connect to source "badpw": Access denied for user 'weak'/,
	'a wrong password fails the connection check with the server\'s text');
unlike(check('badpw', 'connection'), qr/wrongpw/, '... without the password');

my ($ret, $out, $err);

# add_table: an auto-created target maps every MySQL type (DESIGN section 5)
$target->safe_psql('postgres', q{
	SELECT tributary.create_job('shop_sync', 'shop', 'full+cdc', '{"target_schema": "mirror"}');
	SELECT tributary.add_table('shop_sync', 'shop.orders');
});
is($target->safe_psql('postgres', q{
	SELECT string_agg(attname || ' ' || format_type(atttypid, atttypmod), ', ' ORDER BY attnum)
	  FROM pg_attribute WHERE attrelid = 'mirror.orders'::regclass AND attnum > 0}),
	'id numeric(20,0), t smallint, su integer, m integer, i integer, iu bigint, b bigint, '
	  . 'd numeric(65,30), f real, db double precision, bits bit(5), c character(3), '
	  . 'vc character varying(20), tx text, bin bytea, vb bytea, bl bytea, dt date, '
	  . 'dtm timestamp(6) without time zone, ts timestamp(3) with time zone, tm time(2) without time zone, '
	  . 'y smallint, e text, s text, j jsonb, g bytea',
	'target columns follow the type mapping');
is($target->safe_psql('postgres', q{
	SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'mirror.orders'::regclass AND contype = 'p'}),
	'PRIMARY KEY (id)', 'the target has the source\'s primary key');
($ret, $out, $err) = $target->psql('postgres', "SELECT tributary.add_table('shop_sync', 'shop.nokey')");
like($err, qr/ERROR:  source table \[shop.nokey\] do not contain any primary key/, 'add_table refuses a table without key');
($ret, $out, $err) = $target->psql('postgres', q{SELECT tributary.add_table('shop_sync', 'shop.items', 'mirror.items_slim', '{"code": "sku"}')});
is($ret, 0, 'a partial mapping gets the key columns by name');
is($target->safe_psql('postgres', q{SELECT key_columns FROM tributary.tables WHERE target_table = 'mirror.items_slim'}),
	'{order_id,line}', 'composite key kept in order');

# the worker connects to MariaDB, copies and streams (t/009 tests the data)
$target->safe_psql('postgres', "SELECT tributary.start_job('shop_sync')");
ok( $target->poll_query_until('postgres',
		"SELECT state = 'running' AND phase = 'streaming' FROM tributary.jobs WHERE job_name = 'shop_sync'"),
	'a MySQL full+cdc job copies and streams');
ok($target->log_contains('pg_tributary job "shop_sync" connected to source "shop"'),
	'after its worker connected to MariaDB');
$target->safe_psql('postgres', "SELECT tributary.stop_job('shop_sync')");
ok( $target->poll_query_until('postgres',
		"SELECT state = 'stopped' FROM tributary.jobs WHERE job_name = 'shop_sync'"), 'and stops');

# a server that cannot be reached: start_job refuses with the client's error
$my->stop;
($ret, $out, $err) = $target->psql('postgres', "SELECT tributary.start_job('shop_sync')");
like($err, qr/ERROR:  could not connect to source "shop": Can't connect to server on '127.0.0.1'/,
	'start_job reports an unreachable MariaDB with the client\'s error text');
is($target->safe_psql('postgres', "SELECT state FROM tributary.jobs WHERE job_name = 'shop_sync'"),
	'stopped', 'and leaves the job as it was');

$target->stop;
$nolog->stop;
done_testing();
