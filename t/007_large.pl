# 007_large.pl -- size: a 1,000,000-row table through the snapshot, then a
# single source transaction of 600,000 changes through the stream, with
# the job worker's private memory sampled while it applies.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep time);
use FindBin;
use lib $FindBin::RealBin;
use TributaryTest;

my $source = PostgreSQL::Test::Cluster->new('source');
$source->init(allows_streaming => 'logical');
$source->append_conf('postgresql.conf', qq{
output_plugin_libraries = 'pgoutput, test_decoding, tributary_decoder'
max_wal_size = 4GB
});
$source->start;
$source->safe_psql('postgres', q{
	CREATE TABLE public.big (id bigint PRIMARY KEY, n int, t text, ts timestamptz, v numeric);
	ALTER TABLE public.big REPLICA IDENTITY FULL;
	INSERT INTO public.big SELECT g, g % 1000, md5(g::text) || repeat('x', 8), now(), g * 1.01
	  FROM generate_series(1, 1000000) g;
});

my $target = target_node('target', "max_wal_size = 4GB\n");
my $src_conn = pg_conninfo($source);
$target->safe_psql('postgres', qq{
	SELECT tributary.create_source('src', 'postgresql', '$src_conn');
	SELECT tributary.create_job('big', 'src', 'full+cdc', '{"snapshot_chunk_rows": 250000, "parallelism.default": 2}');
	SELECT tributary.add_table('big', 'public.big');
	SELECT tributary.start_job('big');
});
is($target->safe_psql('postgres', "SELECT tributary.wait_for_sync('big', '10 min')"), 't', 'the 1M-row table is copied');
is($target->safe_psql('postgres', "SELECT rows_copied || ' ' || chunks_done FROM tributary.tables WHERE job_name = 'big'"),
	'1000000 5', 'in 5 chunks');
ok($target->log_contains(qr/job "big" copies with 1 snapshot helper\b/),
	'a snapshot helper is started');
ok($target->log_contains(qr/job "big" snapshot helper 1 copied [1-4] chunks/),
	'and copies chunks in the slot\'s exported snapshot, alongside the worker');
is(digest($target, 'SELECT * FROM public.big'), digest($source, 'SELECT * FROM public.big'), 'the copy is exact');

# rss_anon: private resident memory of a process, in kB
sub rss_anon
{
	my ($pid) = @_;
	open my $fh, '<', "/proc/$pid/status" or return 0;
	while (<$fh>)
	{
		return $1 if /^RssAnon:\s+(\d+) kB/;
	}
	return 0;
}

my $pid = $target->safe_psql('postgres', "SELECT pid FROM tributary.jobs WHERE job_name = 'big'");
my $before = rss_anon($pid);
$target->safe_psql('postgres', "SELECT tributary.stop_job('big')");
ok($target->poll_query_until('postgres', "SELECT state = 'stopped' FROM tributary.jobs WHERE job_name = 'big'"), 'stopped');

# one transaction of 600,000 changes, applied when the job starts again
$source->safe_psql('postgres', q{
	BEGIN;
	INSERT INTO public.big SELECT g, g % 1000, md5(g::text), now(), g FROM generate_series(1000001, 1400000) g;
	UPDATE public.big SET n = -n WHERE id <= 100000;
	DELETE FROM public.big WHERE id BETWEEN 100001 AND 200000;
	COMMIT;
});
$target->safe_psql('postgres', "SELECT tributary.start_job('big')");
ok($target->poll_query_until('postgres', "SELECT pid IS NOT NULL FROM tributary.jobs WHERE job_name = 'big'"), 'started');
$pid = $target->safe_psql('postgres', "SELECT pid FROM tributary.jobs WHERE job_name = 'big'");
my $peak = 0;
# poll until the transaction is applied, sampling the worker's private memory
my $done = 0;
my $deadline = time() + $PostgreSQL::Test::Utils::timeout_default;
while (time() < $deadline)
{
	my $rss = rss_anon($pid);
	$peak = $rss if $rss > $peak;
	$done = $target->safe_psql('postgres',
		'SELECT count(*) = 1300000 AND count(*) FILTER (WHERE n < 0) = 99900 FROM public.big') eq 't';
	last if $done;
	usleep(200_000);
}
ok($done, 'the 600,000-change transaction is applied');
is(digest($target, 'SELECT * FROM public.big'), digest($source, 'SELECT * FROM public.big'),
	'source and target are equal after the large transaction');
diag("worker private memory: ${before} kB before, ${peak} kB after the large transaction");
ok($peak < 100 * 1024, 'the worker\'s private memory stayed under 100 MB (it did not grow with the transaction)');

$target->stop;
$source->stop;
done_testing();
