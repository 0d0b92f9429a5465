# 026_mysql_identifiers.pl -- identifiers of every kind a MySQL source
# allows, through the snapshot and the binlog (issue 12 item 8, MySQL
# half): a database and tables whose names hold a space, a comma, a
# double quote, a backslash, a backquote, a dot, mixed case and non-ASCII
# letters, with columns named as oddly.  (MySQL identifiers cannot hold
# characters outside the Basic Multilingual Plane, so no emoji here.)
# Each table is compared after the snapshot and after changes of every
# kind.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use TributaryTest;
use MariaDBNode;

# mq: a backquoted MySQL identifier; qi: a double-quoted PostgreSQL one; ql: a literal
sub mq { my $s = shift; $s =~ s/`/``/g; return "`$s`"; }
sub qi { my $s = shift; $s =~ s/"/""/g; return qq{"$s"}; }
sub ql { my $s = shift; $s =~ s/'/''/g; return qq{'$s'}; }

my $db = 'odd db.x';
my @tables = ('my table', 'a,b', 'quo"te', 'back\\slash', 'tick`tick', 'dot.ted', 'MiXeD', "na\x{c3}\x{af}ve", "it's");
my @columns = ('col one', 'Col,2', 'x"y', "\x{c3}\x{bc}", 'b`q');

my $my = MariaDBNode->new('idents', 'binlog-row-metadata' => 'FULL');
my $sql = "CREATE DATABASE " . mq($db) . " CHARACTER SET utf8mb4; USE " . mq($db) . ";\n";
for my $t (@tables)
{
	$sql .= "CREATE TABLE " . mq($t) . " (id INT PRIMARY KEY, " . join(', ', map { mq($_) . ' VARCHAR(20)' } @columns) . ");\n";
	$sql .= "INSERT INTO " . mq($t) . " VALUES (1, 'a', 'b\\\\', 'c,', 'd\"', 'e`'), (2, 'f', NULL, 'g', 'h', 'i'), (3, 'j', 'k', 'l', 'm', 'n');\n";
}
$my->sql($sql);

my $target = target_node('target');
my $conn = $my->conninfo(undef, 'root');
$target->safe_psql('postgres', qq{
	SELECT tributary.create_source('maria', 'mysql', '$conn');
	SELECT tributary.create_job('j', 'maria', 'full+cdc', '{"target_schema": "My Target"}');
});
$target->safe_psql('postgres', "SET client_encoding = 'UTF8'; "
	  . join(' ', map { "SELECT tributary.add_table('j', " . ql(mq($db) . '.' . mq($_)) . ");" } @tables)
	  . " SELECT tributary.start_job('j');");
is($target->safe_psql('postgres', q{SELECT tributary.wait_for_sync('j', '60 s')}), 't', 'the job syncs');

my $cols = join(', ', 'id', @columns);
sub compare
{
	my ($when) = @_;
	for my $t (@tables)
	{
		my $mycols = join(", '|', ", map { "IFNULL(" . mq($_) . ", 'NULL')" } 'id', @columns);
		my $want = $my->sql("SELECT GROUP_CONCAT(CONCAT($mycols) ORDER BY id SEPARATOR ';') FROM " . mq($db) . '.' . mq($t));
		$want =~ s/\\\\/\\/g;		# the client's batch mode doubles backslashes
		my $pgcols = join(" || '|' || ", map { "coalesce(" . qi($_) . "::text, 'NULL')" } 'id', @columns);
		is($target->safe_psql('postgres', "SET client_encoding = 'UTF8'; SELECT string_agg($pgcols, ';' ORDER BY id) FROM "
				  . qi('My Target') . '.' . qi($t)),
			$want, "[$t] equals the source $when");
	}
}
compare('after the snapshot');

$sql = "USE " . mq($db) . ";\n";
for my $t (@tables)
{
	my $qt = mq($t);
	my ($c1, $c2) = (mq($columns[0]), mq($columns[4]));
	$sql .= "INSERT INTO $qt VALUES (4, 'new', 'n\\\\', 'n,', 'n\"', 'n`');\n";
	$sql .= "UPDATE $qt SET $c1 = CONCAT($c1, ' changed'), $c2 = NULL WHERE id = 2;\n";
	$sql .= "UPDATE $qt SET id = 30 WHERE id = 3;\n";
	$sql .= "DELETE FROM $qt WHERE id = 1;\n";
}
$my->sql($sql);
is($target->safe_psql('postgres', q{SELECT tributary.wait_for_sync('j', '60 s')}), 't', 'the changes are applied');
compare('after binlog changes');

done_testing();
