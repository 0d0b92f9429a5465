# 024_identifiers.pl -- every kind of identifier through both decoders
# (issue 12 item 8): a schema and tables whose names hold a space, a
# comma, a double quote, a backslash, a dot, mixed case, non-ASCII
# letters and an emoji, with columns named as oddly.  Names with a space
# or a comma broke tributary_decoder's "tables" option, and a backslash
# broke START_REPLICATION (its literal was written E'...', which the
# replication grammar does not take).  Each table is compared by digest
# after the snapshot and after changes of every kind.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use TributaryTest;

# qi: a double-quoted identifier; ql: a single-quoted literal
sub qi { my $s = shift; $s =~ s/"/""/g; return qq{"$s"}; }
sub ql { my $s = shift; $s =~ s/'/''/g; return qq{'$s'}; }

my $schema = 'Odd Schema.x';
my @tables = ('my table', 'a,b', 'quo"te', 'back\\slash', 'dot.ted', 'MiXeD', "na\x{c3}\x{af}ve",
	"emoji\x{f0}\x{9f}\x{98}\x{80}", "it's");
my @columns = ('col one', 'Col,2', 'x"y', "\x{c3}\x{bc}");
my $coldefs = join(', ', map { qi($_) . ' text' } @columns);
my $qs = qi($schema);

my $source = source_node('source', 1);
my $target = target_node('target');
my $sql = "SET client_encoding = 'UTF8'; CREATE SCHEMA $qs;";
for my $i (0 .. $#tables)
{
	my $qt = "$qs." . qi($tables[$i]);
	$sql .= "CREATE TABLE $qt (id int PRIMARY KEY, $coldefs); ALTER TABLE $qt REPLICA IDENTITY FULL;
		INSERT INTO $qt SELECT g, 'a' || g, 'b\\' || g, 'c,' || g, 'd\"' || g FROM generate_series(1, 5) g;";
}
$source->safe_psql('postgres', $sql);

my $conn = pg_conninfo($source);
$target->safe_psql('postgres', qq{
	SELECT tributary.create_source('src', 'postgresql', '$conn');
	SELECT tributary.create_source('src_pgo', 'postgresql', '$conn', '{"decoder": "pgoutput"}');
	SELECT tributary.create_job('dec', 'src', 'full+cdc', '{"target_schema": "Dec Target"}');
	SELECT tributary.create_job('pgo', 'src_pgo', 'full+cdc', '{"target_schema": "Pgo Target"}');
});
for my $job ('dec', 'pgo')
{
	$target->safe_psql('postgres', "SET client_encoding = 'UTF8'; "
		  . join(' ', map { "SELECT tributary.add_table('$job', " . ql("$qs." . qi($_)) . ");" } @tables)
		  . " SELECT tributary.start_job('$job');");
}
ok($target->poll_query_until('postgres', q{SELECT count(*) = 2 FROM tributary.jobs WHERE phase = 'streaming'}),
	'both jobs stream');
is($target->safe_psql('postgres', q{SELECT string_agg(decoder, ',' ORDER BY job_name) FROM tributary.jobs}),
	'tributary_decoder,pgoutput', 'through both decoders');

sub compare
{
	my ($when) = @_;
	for my $t (@tables)
	{
		my $q = "SET client_encoding = 'UTF8'; SELECT count(*) || ':' || coalesce(md5(string_agg(r::text, '|' ORDER BY r::text)), '') FROM %s r";
		my $want = $source->safe_psql('postgres', sprintf($q, "$qs." . qi($t)));
		for my $ts ('Dec Target', 'Pgo Target')
		{
			is($target->safe_psql('postgres', sprintf($q, qi($ts) . '.' . qi($t))), $want, "[$t] in [$ts] equals the source $when");
		}
	}
}
is($target->safe_psql('postgres', q{SELECT tributary.wait_for_sync('dec', '60 s') AND tributary.wait_for_sync('pgo', '60 s')}),
	't', 'the snapshots are done');
compare('after the snapshot');

$sql = "SET client_encoding = 'UTF8';";
for my $t (@tables)
{
	my $qt = "$qs." . qi($t);
	my ($c1, $c2) = (qi($columns[0]), qi($columns[3]));
	$sql .= "INSERT INTO $qt VALUES (6, 'new', 'n\\', 'n,', 'n\"');
		UPDATE $qt SET $c1 = $c1 || ' changed', $c2 = NULL WHERE id = 2;
		UPDATE $qt SET id = 60 WHERE id = 3;
		DELETE FROM $qt WHERE id = 4;";
}
$source->safe_psql('postgres', $sql);
is($target->safe_psql('postgres', q{SELECT tributary.wait_for_sync('dec', '60 s') AND tributary.wait_for_sync('pgo', '60 s')}),
	't', 'the changes are applied');
compare('after streamed changes');

done_testing();
