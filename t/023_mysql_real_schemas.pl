# 023_mysql_real_schemas.pl -- MySQL / MariaDB schemas as users have them
# (issue 12, first groups):
#   - signedness metadata: MariaDB gives YEAR a bit of TABLE_MAP's
#     SIGNEDNESS metadata; skipping it shifted the sign of every integer
#     column after a YEAR (the issue's table failed the job; in the sample
#     schema 65535 arrived as -1).  Every column type is placed before an
#     unsigned and a signed TINYINT, with binlog_row_metadata FULL and
#     MINIMAL;
#   - a session that logs with binlog_row_image = MINIMAL stops the job
#     with an error naming the setting and the way out.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use TributaryTest;
use MariaDBNode;

my $my = MariaDBNode->new('schemas', 'binlog-row-metadata' => 'FULL');

# every column type, each followed by an unsigned and a signed TINYINT
my @types = (
	['TINYINT', '-5'], ['SMALLINT', '-5'], ['MEDIUMINT', '-5'], ['INT', '-5'], ['BIGINT', '-5'],
	['TINYINT UNSIGNED', '250'], ['BIGINT UNSIGNED', '18446744073709551615'],
	['FLOAT', '1.5'], ['DOUBLE', '2.5'], ['DECIMAL(5,2)', '-1.25'], ['YEAR', '2024'], ['BIT(3)', "b'101'"],
	['DATE', "'2024-01-02'"], ['TIME', "'01:02:03'"], ['DATETIME', "'2024-01-02 03:04:05'"],
	['TIMESTAMP NULL', "'2024-01-02 03:04:05'"], ['CHAR(2)', "'ab'"], ['VARCHAR(5)', "'abc'"],
	['BINARY(2)', "'ab'"], ['VARBINARY(3)', "'abc'"], ['TEXT', "'text'"], ['BLOB', "'blob'"],
	['ENUM(\'a\', \'b\')', "'b'"], ['SET(\'a\', \'b\')', "'a,b'"], ['JSON', q{'{"a": 1}'}],
	['GEOMETRY', "ST_GeomFromText('POINT(1 2)')"]);
my (@cols, @signs);
for my $i (0 .. $#types)
{
	push @cols, "c$i $types[$i][0]", "u$i TINYINT UNSIGNED", "s$i TINYINT";
	push @signs, "u$i", "s$i";
}
# row: an INSERT of row $id (u = 200 + $id % 50, s = -1 - $id % 50)
sub row
{
	my ($id) = @_;
	my @v = ($id);
	push @v, $types[$_][1], 200 + $id % 50, -1 - $id % 50 for 0 .. $#types;
	return "INSERT INTO shop.wide VALUES (" . join(', ', @v) . ")";
}
$my->sql("CREATE DATABASE shop; USE shop;
	CREATE TABLE shop.y (id INT PRIMARY KEY, y YEAR, a TINYINT UNSIGNED, b TINYINT, c SMALLINT UNSIGNED, d INT);
	INSERT INTO shop.y VALUES (1, 2023, 255, -128, 1, -1);
	CREATE TABLE shop.wide (id INT PRIMARY KEY, " . join(', ', @cols) . ");
	" . row(1) . ";");

my $target = target_node('target');
my $conn = $my->conninfo(undef, 'root');
$target->safe_psql('postgres', qq{
	SELECT tributary.create_source('maria', 'mysql', '$conn');
	SELECT tributary.create_job('j', 'maria', 'full+cdc', '{"target_schema": "mirror"}');
	SELECT tributary.add_table('j', 'shop.y');
	SELECT tributary.add_table('j', 'shop.wide');
	SELECT tributary.start_job('j');
});
is($target->safe_psql('postgres', "SELECT tributary.wait_for_sync('j', '60 s')"), 't', 'the job syncs');

my $ysel = "id, y, a, b, c, d";
my $wsel = "id, " . join(', ', @signs);
# compare: the target equals the source in every integer column
sub compare
{
	my ($when) = @_;
	my $want_y = $my->sql("SELECT GROUP_CONCAT(CONCAT_WS(' ', $ysel) ORDER BY id SEPARATOR ',') FROM shop.y");
	is($target->safe_psql('postgres', "SELECT string_agg(concat_ws(' ', $ysel), ',' ORDER BY id) FROM mirror.y"),
		$want_y, "the integers after a YEAR keep their sign $when");
	my $want_w = $my->sql("SELECT GROUP_CONCAT(CONCAT_WS(' ', $wsel) ORDER BY id SEPARATOR ',') FROM shop.wide");
	is($target->safe_psql('postgres', "SELECT string_agg(concat_ws(' ', $wsel), ',' ORDER BY id) FROM mirror.wide"),
		$want_w, "the integers after every column type keep their sign $when");
}
compare('after the snapshot');

$my->sql("USE shop; INSERT INTO shop.y VALUES (2, 2024, 200, -1, 65535, -5);
	UPDATE shop.y SET c = 65535, a = 254 WHERE id = 1;
	" . row(2) . "; " . row(3) . ";
	UPDATE shop.wide SET u0 = 255, s0 = -128, u10 = 201, s10 = -2 WHERE id = 1;");
is($target->safe_psql('postgres', "SELECT tributary.wait_for_sync('j', '60 s')"), 't', 'the changes are applied');
compare('in the stream (binlog_row_metadata FULL)');

$my->sql("SET GLOBAL binlog_row_metadata = 'MINIMAL';");
$my->sql("USE shop; INSERT INTO shop.y VALUES (3, 1901, 1, 127, 40000, 2147483647);
	" . row(4) . ";
	UPDATE shop.wide SET u25 = 250, s25 = 100 WHERE id = 2;");
is($target->safe_psql('postgres', "SELECT tributary.wait_for_sync('j', '60 s')"), 't', 'more changes are applied');
compare('in the stream (binlog_row_metadata MINIMAL)');

# MariaDB system-versioned tables are refused by name (add_table failed
# with an internal error, add_tables passed over them)
$my->sql("USE shop; CREATE TABLE shop.v (id INT PRIMARY KEY, x INT) WITH SYSTEM VERSIONING; INSERT INTO shop.v VALUES (1, 1);");
my ($ret, $out, $verr) = $target->psql('postgres', q{SELECT tributary.add_table('j', 'shop.v')});
like($verr, qr/source table \[shop\.v\] is system-versioned, which pg_tributary does not sync/, 'add_table refuses a system-versioned table');
$target->safe_psql('postgres', q{SELECT tributary.create_job('all', 'maria', 'full', '{"target_schema": "all_tables"}')});
($ret, $out, $verr) = $target->psql('postgres', q{SELECT tributary.add_tables('all', 'shop\..*')});
like($verr, qr/source table \[shop\.v\] is system-versioned/, 'add_tables names it too');
is($target->safe_psql('postgres', q{SELECT tributary.add_tables('all', 'shop\..*', exclude => 'shop\.v')}), '2',
	'and takes the other tables when it is excluded');

# a session with binlog_row_image = MINIMAL
$my->sql("USE shop; SET SESSION binlog_row_image = 'MINIMAL'; UPDATE shop.y SET d = 0 WHERE id = 1;");
ok($target->poll_query_until('postgres', "SELECT state = 'failed' FROM tributary.jobs WHERE job_name = 'j'"),
	'a transaction logged with a minimal row image stops the job');
my $err = $target->safe_psql('postgres',
	"SELECT message || ' / ' || detail FROM tributary.errors WHERE job_name = 'j' ORDER BY at DESC LIMIT 1");
like($err, qr/a transaction on source table \[shop\.y\] was logged with binlog_row_image other than FULL/,
	'the error names the setting');
like($err, qr/lack column "\w+" at binlog position binlog\.\d+:\d+/, '... the column and the position');
like(slurp_file($target->logfile), qr/HINT:  binlog_row_image is a session variable: set it to FULL globally.*restart_job\(job, false\)/,
	'... and the way out');

done_testing();
