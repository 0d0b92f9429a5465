# 001_workers.pl -- the launcher and job workers: start at server start,
# start/stop/restart, runs and errors rows, restart strategies against an
# unreachable source, a SIGKILLed worker.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use TributaryTest;

# the source
my $source = PostgreSQL::Test::Cluster->new('source');
$source->init(allows_streaming => 'logical');
$source->append_conf('postgresql.conf',
	"output_plugin_libraries = 'pgoutput, test_decoding, tributary_decoder'\n");
$source->start;
$source->safe_psql('postgres', q{
	CREATE TABLE public.accounts (id int PRIMARY KEY, balance numeric);
	ALTER TABLE public.accounts REPLICA IDENTITY FULL;
});

# the target
my $target = target_node('target', qq{
tributary.database = 'postgres'
tributary.max_workers = 8
});
my $src_conn = pg_conninfo($source);
# statement logging would show the call's text, password included (as it
# would for CREATE SUBSCRIPTION): turn it off for the call, as the docs say
$target->safe_psql('postgres', qq{
	SET log_statement = 'none';
	SELECT tributary.create_source('src', 'postgresql', '$src_conn password=secretpw', '{"heartbeat_interval": 1, "reconnect_timeout": 0}');
});

# job_state: state of a job in tributary.jobs
sub job_state
{
	my ($job) = @_;
	return $target->safe_psql('postgres',
		"SELECT state FROM tributary.jobs WHERE job_name = '$job'");
}

# wait_state: poll until a job reaches a state
sub wait_state
{
	my ($job, $state) = @_;
	ok( $target->poll_query_until('postgres',
			"SELECT state = '$state' FROM tributary.jobs WHERE job_name = '$job'"),
		"job $job reaches state $state")
	  or diag("job $job is " . job_state($job));
}

sub make_job
{
	my ($job, $options) = @_;
	$options //= '{}';
	$target->safe_psql('postgres', qq{
		SELECT tributary.create_job('$job', 'src', 'full+cdc', '$options');
		SELECT tributary.add_table('$job', 'public.accounts', 'public.accounts_$job');
	});
}

# --- start, wait_for_sync, runs (j1 survives crashes: fixed-delay)
make_job('j1', '{"restart-strategy.type": "fixed-delay", "restart-strategy.fixed-delay.delay": "200 ms"}');
is(job_state('j1'), 'stopped', 'a new job is stopped');
$target->safe_psql('postgres', "SELECT tributary.start_job('j1')");
is($target->safe_psql('postgres', "SELECT tributary.wait_for_sync('j1', '60 s')"),
	't', 'wait_for_sync returns once the worker is connected');
is(job_state('j1'), 'running', 'job j1 is running');
my ($run1, $pid1) = split /\|/, $target->safe_psql('postgres',
	"SELECT run_id, pid FROM tributary.jobs WHERE job_name = 'j1'");
ok($pid1 > 0, 'the jobs view shows the worker pid');
is($target->safe_psql('postgres',
		"SELECT status FROM tributary.runs WHERE job_name = 'j1' AND run_id = $run1"),
	'running', 'the run is recorded as running');
ok( $source->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE application_name = 'pg_tributary job j1'"),
	'the worker holds a connection to the source');

# --- stop: graceful, the run ends as stopped
$target->safe_psql('postgres', "SELECT tributary.stop_job('j1')");
wait_state('j1', 'stopped');
ok( $target->poll_query_until('postgres',
		"SELECT status = 'stopped' AND message = 'stopped on request' AND ended_at IS NOT NULL
		   FROM tributary.runs WHERE run_id = $run1"),
	'stop_job ends the run as stopped');
ok( $source->poll_query_until('postgres',
		"SELECT count(*) = 0 FROM pg_stat_activity WHERE application_name = 'pg_tributary job j1'"),
	'the stopped worker closed its source connection');

# --- start again, then restart_job: a new run replaces the old one
$target->safe_psql('postgres', "SELECT tributary.start_job('j1')");
wait_state('j1', 'running');
my $run2 = $target->safe_psql('postgres', "SELECT run_id FROM tributary.jobs WHERE job_name = 'j1'");
ok($run2 > $run1, 'start_job starts a new run');
$target->safe_psql('postgres', "SELECT tributary.restart_job('j1')");
ok( $target->poll_query_until('postgres',
		"SELECT run_id > $run2 AND state = 'running' FROM tributary.jobs WHERE job_name = 'j1'"),
	'restart_job replaces the worker');
is($target->safe_psql('postgres', "SELECT status FROM tributary.runs WHERE run_id = $run2"),
	'stopped', 'the replaced run ended as stopped');

# --- server restart: running jobs start again at server start
my $run3 = $target->safe_psql('postgres', "SELECT run_id FROM tributary.jobs WHERE job_name = 'j1'");
$target->restart;
ok( $target->poll_query_until('postgres',
		"SELECT run_id > $run3 AND state = 'running' FROM tributary.jobs WHERE job_name = 'j1'"),
	'a running job starts again at server start');
is($target->safe_psql('postgres', "SELECT status || ': ' || message FROM tributary.runs WHERE run_id = $run3"),
	'stopped: stopped by server shutdown', 'the run before the restart ended cleanly');

# --- SIGKILL of the worker: crash restart, the run is closed as failed, the job runs again
my ($run4, $pid4) = split /\|/, $target->safe_psql('postgres',
	"SELECT run_id, pid FROM tributary.jobs WHERE job_name = 'j1'");
kill 'KILL', $pid4;
ok( $target->poll_query_until('postgres',
		"SELECT run_id > $run4 AND state = 'running' FROM tributary.jobs WHERE job_name = 'j1'"),
	'after a SIGKILLed worker the job runs again');
is($target->safe_psql('postgres', "SELECT status || ' ' || crashed || ': ' || message FROM tributary.runs WHERE run_id = $run4"),
	'failed true: the run was cut short by a server crash', 'the killed run is closed as failed, cut short by a crash');

# --- crash loops: a job whose worker was running at 3 server crashes in a
# row fails, even with a restart strategy that never gives up (the kill
# above was j1's first); a job without a restart strategy runs again after
# crash recovery, since a crash is not a failure of its own (docs/concepts.md)
make_job('j_nostrategy');
$target->safe_psql('postgres', "SELECT tributary.start_job('j_nostrategy')");
wait_state('j_nostrategy', 'running');
for my $crash (2 .. 3)
{
	my ($run, $pid) = split /\|/, $target->safe_psql('postgres',
		"SELECT run_id, pid FROM tributary.jobs WHERE job_name = 'j1'");
	kill 'KILL', $pid;
	if ($crash < 3)
	{
		ok( $target->poll_query_until('postgres',
				"SELECT run_id > $run AND state = 'running' FROM tributary.jobs WHERE job_name = 'j1'"),
			"crash $crash: the job runs again (fixed-delay)");
	}
}
wait_state('j1', 'failed');
is($target->safe_psql('postgres', q{SELECT sqlstate || ' ' || message FROM tributary.errors WHERE job_name = 'j1' ORDER BY at DESC LIMIT 1}),
	'57P02 the job\'s worker was running at 3 server crashes in a row', 'the errors row says why');
is($target->safe_psql('postgres', q{SELECT count(*) FROM tributary.runs WHERE job_name = 'j1' AND crashed}), '3',
	'three runs of j1 were cut short by crashes');
ok($target->poll_query_until('postgres', q{SELECT state = 'running' AND pid IS NOT NULL FROM tributary.jobs WHERE job_name = 'j_nostrategy'}),
	'a job without a restart strategy runs again after crash recovery (a crash is not its failure)');
is($target->safe_psql('postgres', q{SELECT count(*) FILTER (WHERE crashed) || ' ' || count(*) FILTER (WHERE status = 'running')
	FROM tributary.runs WHERE job_name = 'j_nostrategy'}),
	'2 1', 'its two runs the crashes cut short are closed as crashed, and a third runs');
$target->safe_psql('postgres', "SELECT tributary.stop_job('j_nostrategy')");
wait_state('j_nostrategy', 'stopped');
$target->safe_psql('postgres', "SELECT tributary.start_job('j1')");
$target->safe_psql('postgres', "SELECT tributary.stop_job('j1')");
wait_state('j1', 'stopped');

# --- a job of a NOLOGIN member of tributary_admin runs as that role, on
# a source of its own that authenticates with a password
password_user($source, 'sync', 'syncpw');
$target->safe_psql('postgres', qq{
	CREATE ROLE ops NOLOGIN IN ROLE tributary_admin;
	GRANT CREATE ON SCHEMA public TO ops;
	SET log_statement = 'none';
	SET ROLE ops;
	SELECT tributary.create_source('src_ops', 'postgresql', '$src_conn user=sync password=syncpw');
	SELECT tributary.create_job('j_ops', 'src_ops', 'full+cdc');
	SELECT tributary.add_table('j_ops', 'public.accounts', 'public.accounts_ops');
	SELECT tributary.start_job('j_ops');
});
wait_state('j_ops', 'running');
is($target->safe_psql('postgres', q{SELECT owner FROM tributary.jobs WHERE job_name = 'j_ops'}),
	'ops', 'the job belongs to the role that created it');
$target->safe_psql('postgres', "SELECT tributary.stop_job('j_ops')");
wait_state('j_ops', 'stopped');
is($target->safe_psql('postgres', q{SELECT string_agg(status, ',') FROM tributary.runs WHERE job_name = 'j_ops'}),
	'stopped', 'the NOLOGIN owner\'s job ran once and stopped cleanly');

# --- restart strategies against a source that goes away
make_job('j_none');
make_job('j_fixed',
	'{"restart-strategy.type": "fixed-delay", "restart-strategy.fixed-delay.delay": 1, "restart-strategy.fixed-delay.attempts": 2}');
make_job('j_rate',
	'{"restart-strategy.type": "failure-rate", "restart-strategy.failure-rate.delay": "200 ms", "restart-strategy.failure-rate.failure-rate-interval": 120, "restart-strategy.failure-rate.max-failures-per-interval": 3}');
make_job('j_forever',
	'{"restart-strategy.type": "fixed-delay", "restart-strategy.fixed-delay.delay": 1}');
for my $j (qw(j_none j_fixed j_rate j_forever))
{
	$target->safe_psql('postgres', "SELECT tributary.start_job('$j')");
	wait_state($j, 'running');
}

$source->stop('fast');

# none: the first failure fails the job
wait_state('j_none', 'failed');
is($target->safe_psql('postgres', "SELECT count(*) FROM tributary.runs WHERE job_name = 'j_none' AND status = 'failed'"),
	'1', 'strategy none: one failed run');
my $err = $target->safe_psql('postgres',
	"SELECT sqlstate || ' ' || message FROM tributary.errors WHERE job_name = 'j_none' ORDER BY at DESC LIMIT 1");
like($err, qr/^08\S* .*source "src"/, 'the errors row has the SQLSTATE and names the source');
like($target->safe_psql('postgres', "SELECT last_error FROM tributary.jobs WHERE job_name = 'j_none'"),
	qr/source "src"/, 'the jobs view shows the last error');

# fixed-delay with 2 attempts: 1 + 2 failed runs, then failed
wait_state('j_fixed', 'failed');
is($target->safe_psql('postgres', "SELECT count(*) FROM tributary.runs WHERE job_name = 'j_fixed' AND status = 'failed'"),
	'3', 'strategy fixed-delay: the first run and 2 attempts failed');
like($target->safe_psql('postgres',
		"SELECT message FROM tributary.errors WHERE job_name = 'j_fixed' ORDER BY at DESC LIMIT 1"),
	qr/could not connect to source "src"/, 'restarts fail with the source\'s connection error');
my $gaps = $target->safe_psql('postgres', q{
	SELECT bool_and(started_at - prev_end >= interval '900 ms')
	  FROM (SELECT started_at, lag(ended_at) OVER (ORDER BY run_id) AS prev_end
	          FROM tributary.runs WHERE job_name = 'j_fixed') r WHERE prev_end IS NOT NULL});
is($gaps, 't', 'fixed-delay waits the delay between runs');

# failure-rate: more than 3 failures within the interval fail the job
wait_state('j_rate', 'failed');
is($target->safe_psql('postgres', "SELECT count(*) FROM tributary.runs WHERE job_name = 'j_rate' AND status = 'failed'"),
	'4', 'strategy failure-rate: 4 failures within the interval');

# unlimited fixed-delay keeps trying and recovers when the source is back
ok( $target->poll_query_until('postgres',
		"SELECT count(*) >= 2 FROM tributary.runs WHERE job_name = 'j_forever' AND status = 'failed'"),
	'unlimited fixed-delay keeps retrying');
isnt(job_state('j_forever'), 'failed', 'unlimited fixed-delay does not give up');
$source->start;
wait_state('j_forever', 'running');

# a failed job starts again with start_job
$target->safe_psql('postgres', "SELECT tributary.start_job('j_none')");
wait_state('j_none', 'running');

# dropping a running job stops its worker
$target->safe_psql('postgres', "SELECT tributary.drop_job('j_none')");
ok( $source->poll_query_until('postgres',
		"SELECT count(*) = 0 FROM pg_stat_activity WHERE application_name = 'pg_tributary job j_none'"),
	'drop_job stops the worker');

# passwords never reach the server log
my $log = slurp_file($target->logfile);
unlike($log, qr/secretpw/, 'the source password is not in the target log');

$target->stop;
$source->stop;
done_testing();
