# 053_crash_strategy_none.pl -- a server crash is not a failure of the
# job: a job with the default restart strategy (none) streams again after
# the target's crash recovery, as after any server restart
# (docs/concepts.md), while a job whose run failed stays failed.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use TributaryTest;

my $source = source_node('source', 1);
my $target = target_node('target');
$source->safe_psql('postgres', q{
	CREATE TABLE public.t (id int PRIMARY KEY, v text);
	ALTER TABLE public.t REPLICA IDENTITY FULL;
	INSERT INTO public.t SELECT g, 'v' || g FROM generate_series(1, 100) g;
});
my $conn = pg_conninfo($source);
$target->safe_psql('postgres', qq{
	SELECT tributary.create_source('pg', 'postgresql', '$conn');
	SELECT tributary.create_job('plain', 'pg', 'full+cdc');
	SELECT tributary.add_table('plain', 'public.t');
	SELECT tributary.start_job('plain');
});
is($target->safe_psql('postgres', q{SELECT tributary.wait_for_sync('plain', '60 s')}), 't', 'the job syncs');
is($target->safe_psql('postgres', q{SELECT tributary.job_effective_options('plain') ->> 'restart-strategy.type'}), 'none',
	'its restart strategy is the default, none');

ok(crash_instance($target) > 0, 'kill -9 of every process of the target but the postmaster');
ok($target->poll_query_until('postgres', q{SELECT state = 'running' AND phase = 'streaming' FROM tributary.jobs WHERE job_name = 'plain'}),
	'the job runs again after crash recovery');
$source->safe_psql('postgres', q{INSERT INTO public.t VALUES (101, 'after the crash'); UPDATE public.t SET v = 'changed' WHERE id = 1;});
is($target->safe_psql('postgres', q{SELECT tributary.wait_for_sync('plain', '60 s')}), 't', 'and syncs what came after it');
is($target->safe_psql('postgres', q{SELECT count(*) || ' ' || min(v) FILTER (WHERE id = 1) || ' ' || min(v) FILTER (WHERE id = 101) FROM public.t}),
	'101 changed after the crash', 'the target has the changes made after the crash');
is($target->safe_psql('postgres', q{SELECT string_agg(status, ',' ORDER BY run_id) FROM tributary.runs WHERE job_name = 'plain'}),
	'failed,running', 'the cut-short run is closed as failed, and a new run streams');
like($target->safe_psql('postgres', q{SELECT message FROM tributary.runs WHERE job_name = 'plain' ORDER BY run_id LIMIT 1}),
	qr/cut short by a server crash/, '... saying the server crashed');
done_testing();
