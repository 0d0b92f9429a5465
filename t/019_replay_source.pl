# 019_replay_source.pl -- a source kind plugs in without touching the
# worker or the stream layer: "replay", a test-only kind in
# tributary_test.so (src/test/replay_source.c) that replays a file of
# changes, registers itself when preloaded and runs the shared end-to-end
# checks that the PostgreSQL and MySQL tests run too.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use TributaryTest;

my $target = PostgreSQL::Test::Cluster->new('target');
$target->init;
$target->append_conf('postgresql.conf', q{
shared_preload_libraries = 'pg_tributary, tributary_test'
max_worker_processes = 16
});
$target->start;
$target->safe_psql('postgres', 'CREATE EXTENSION pg_tributary');

# without the library the kind does not exist
my $plain = target_node('plain');
my ($rc, $out, $err) = $plain->psql('postgres',
	"SELECT tributary.create_source('r', 'replay', 'dbname=/nonexistent')");
like($err, qr/unknown source kind "replay".*\n.*Valid kinds are: postgresql, mysql\./,
	 'a kind nobody registered is refused, with the kinds there are');
$plain->stop;

my $file = $PostgreSQL::Test::Utils::tmp_check . '/replay_changes.txt';
open my $fh, '>', $file or die "cannot write $file: $!";
print $fh "# the replay source of 019_replay_source.pl\n";
print $fh "table\tapp.items\tid:int:key\tname:text\tqty:int\n";
close $fh;
chmod 0644, $file;

# every source transaction: begin, the changes, commit, appended at once
sub exec_changes
{
	my (@changes) = @_;
	my $text = "begin\n";
	for my $c (@changes)
	{
		my ($op, $id, $name, $qty) = @$c;
		$text .= $op eq 'delete'
		  ? "delete\tapp.items\t$id\n"
		  : join("\t", $op, 'app.items', $id, $name // '\N', $qty // '\N') . "\n";
	}
	$text .= "commit\n";
	open my $fh, '>>', $file or die "cannot append to $file: $!";
	print $fh $text;
	close $fh;
	return;
}

$target->safe_psql('postgres', qq{
	SELECT tributary.create_source('r', 'replay', 'dbname=$file', '{"heartbeat_interval": 100}');
	CREATE SCHEMA app;
	SELECT tributary.create_job('replayed', 'r', 'full+cdc',
		'{"snapshot_chunk_rows": 70, "parallelism.default": 2, "execution.checkpointing.interval": 100}');
	SELECT tributary.add_table('replayed', 'app.items');
});
is($target->safe_psql('postgres', "SELECT source_kind FROM tributary.source WHERE source_name = 'r'"),
   'replay', 'the registered kind is accepted by create_source');
is($target->safe_psql('postgres',
	"SELECT string_agg(column_name || ' ' || data_type, ', ' ORDER BY ordinal_position) FROM information_schema.columns
	  WHERE table_schema = 'app' AND table_name = 'items'"),
   'id integer, name text, qty integer', 'add_table created the target from the kind\'s description');
is($target->safe_psql('postgres',
	"SELECT ok || ' ' || detail FROM tributary.check_source('r') WHERE check_name = 'replay file'"),
   'true 1 tables, position 0/5A', 'check_source runs the kind\'s checks');

my $rows = shared_checks(target => $target, job => 'replayed', target_table => 'app.items',
						 exec => \&exec_changes, label => 'replay');
cmp_ok($rows, '>', 300, 'the shared checks ran on the replay kind');
is($target->safe_psql('postgres', "SELECT state FROM tributary.jobs WHERE job_name = 'replayed'"),
   'running', 'the job runs');
is($target->safe_psql('postgres',
	"SELECT count(*) FROM tributary.tables WHERE job_name = 'replayed' AND state = 'streaming'"),
   '1', 'its table streams');

# a malformed line is an error of the job, not of the server
open $fh, '>>', $file or die;
print $fh "begin\nupsert\tapp.items\t1\n";
close $fh;
$target->poll_query_until('postgres',
	"SELECT last_error LIKE '%unknown record%' FROM tributary.jobs WHERE job_name = 'replayed'")
  or die 'the job did not report the malformed line';
pass('a malformed line stops the job with its error');
is($target->safe_psql('postgres', 'SELECT 1'), '1', 'the server is up');

done_testing();
