# 058_citus_snapshot_memory.pl -- review test: a snapshot chunk copied
# through Citus's COPY destination (tributary_engine_copy_from) must not
# keep every parsed row in memory until the chunk's commit.  One chunk of
# about 190 MB of COPY text into a distributed table; the job worker's
# peak resident size (VmHWM) must stay well under the chunk's size, as
# for PostgreSQL's CopyFrom and Citus's own COPY, which parse each row in
# per-tuple memory.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use TributaryTest;

my ($coord, $w1, $w2) = citus_cluster();
my $source = source_node('source', 1);

my $rows = 60000;
$source->safe_psql('postgres', qq{
	CREATE TABLE public.big (id int PRIMARY KEY, v text);
	ALTER TABLE public.big REPLICA IDENTITY FULL;
	INSERT INTO public.big SELECT g, repeat(md5(g::text), 100) FROM generate_series(1, $rows) g;
});
$coord->safe_psql('postgres', q{
	CREATE TABLE public.big (id int PRIMARY KEY, v text);
	SELECT create_distributed_table('public.big', 'id');
});
# Citus's own buffering for shards that share a connection (the job sets
# citus.max_adaptive_executor_pool_size = 1) is bounded by
# citus.copy_switchover_threshold per shard (4MB): kept small here so that
# what is measured is tributary's memory
$coord->safe_psql('postgres', q{ALTER SYSTEM SET citus.copy_switchover_threshold = '256kB'; SELECT pg_reload_conf();});
my $conn = pg_conninfo($source);
$coord->safe_psql('postgres', qq{
	SELECT tributary.create_source('pg', 'postgresql', '$conn');
	SELECT tributary.create_job('big', 'pg', 'full+cdc', '{"snapshot_chunk_rows": 1000000}');
	SELECT tributary.add_table('big', 'public.big');
	SELECT tributary.start_job('big');
});
is($coord->safe_psql('postgres', q{SELECT tributary.wait_for_sync('big', '300 s')}), 't', 'the job copies the table and syncs');
is($coord->safe_psql('postgres', q{SELECT count(*) FROM public.big}), $rows, 'every row is on the shards');

my $pid = $coord->safe_psql('postgres', q{SELECT pid FROM tributary.jobs WHERE job_name = 'big'});
my $status = PostgreSQL::Test::Utils::slurp_file("/proc/$pid/status");
my ($hwm) = $status =~ /^VmHWM:\s+(\d+) kB/m;
my $mb = int($hwm / 1024);
note("job worker $pid: VmHWM $mb MB for about " . int($rows * 3200 / 1048576) . " MB of COPY text in one chunk");
cmp_ok($mb, '<', 100, 'the job worker\'s peak resident size stays under 100 MB');

done_testing();
