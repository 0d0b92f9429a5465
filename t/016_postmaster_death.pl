# 016_postmaster_death.pl -- kill -9 of the target's postmaster while a
# job copies a large table from MariaDB (whose rows arrive through
# blocking reads, never a latch wait): the worker notices at once (it
# checks for postmaster death in every loop that does not wait), so no
# orphan keeps copying and the server starts again at once; the job
# (fixed-delay restart strategy) resumes after the crash and copies the
# table exactly.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);
use FindBin;
use lib $FindBin::RealBin;
use TributaryTest;
use MariaDBNode;

my $my = MariaDBNode->new('orphans');
$my->sql(q{
	CREATE DATABASE shop;
	CREATE TABLE shop.big (id INT PRIMARY KEY, v VARCHAR(40));
	USE shop;
	INSERT INTO shop.big SELECT seq, MD5(seq) FROM seq_1_to_3000000;
});
my $target = target_node('target', "tributary.database = 'postgres'\n");
my $conn = $my->conninfo('shop');
$target->safe_psql('postgres', qq{
	SELECT tributary.create_source('maria', 'mysql', '$conn');
	SELECT tributary.create_job('copy', 'maria', 'full',
		'{"snapshot_chunk_rows": 3000000, "restart-strategy.type": "fixed-delay", "target_schema": "public"}');
	SELECT tributary.add_table('copy', 'shop.big');
	SELECT tributary.start_job('copy');
});
# kill the postmaster once the copy is under way (a chunk is being read)
ok($target->poll_query_until('postgres', q{SELECT phase = 'snapshot' FROM tributary.jobs WHERE job_name = 'copy'}),
	'the snapshot runs');
ok($target->poll_query_until('postgres', q{SELECT count(*) > 0 FROM pg_stat_activity
		WHERE backend_type = 'pg_tributary worker' AND query LIKE 'snapshot of%'}),
	'the worker copies a chunk');
my @pids = split /\n/, $target->safe_psql('postgres',
	q{SELECT pid FROM pg_stat_activity WHERE backend_type LIKE 'pg_tributary%'});
ok(@pids > 0, 'pg_tributary processes: ' . join(' ', @pids));
my $t0 = time;
$target->kill9;
my $alive;
for (1 .. 1000)
{
	$alive = grep { kill 0, $_ } @pids;
	last if !$alive;
	usleep(10_000);
}
my $took = time - $t0;
is($alive, 0, 'every pg_tributary process exited after the postmaster died');
ok($took < 4, sprintf('... within %.2f s', $took));

# the server starts again at once and the job resumes
$target->start;
is($target->safe_psql('postgres', q{SELECT tributary.wait_for_sync('copy', '180 s')}), 't', 'the job resumes and finishes');
is($target->safe_psql('postgres', q{SELECT count(*) || ' ' || sum(id) || ' ' || count(DISTINCT v) FROM public.big}),
	$my->sql(q{SELECT CONCAT(COUNT(*), ' ', SUM(id), ' ', COUNT(DISTINCT v)) FROM shop.big}),
	'3,000,000 rows copied exactly');

$target->stop;
$my->stop;
done_testing();
