# 015_job_lifecycle.pl -- jobs that say what they do: start and stop
# handshakes, workers that run out, timeouts of the database, a password
# rotated on the source, a slot still held by another walsender.
#  - 100 back-to-back start_job/stop_job leave no stray worker, and the
#    job starts again afterwards
#  - more running jobs than tributary.max_workers: the one without a worker
#    shows state 'waiting' with the reason, and starts when a worker frees
#  - lock_timeout and statement_timeout set on the database do not cut an
#    apply short
#  - a rotated source password ends in 'failed' within reconnect_timeout
#    plus a margin, with an errors row
#  - a slot still active for another process (55006) is retried, and the
#    job streams once it is free
#  - DROP EXTENSION while jobs exist is refused (their slots would be
#    orphaned); after drop_job it works and no slot is left
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);
use FindBin;
use lib $FindBin::RealBin;
use TributaryTest;

my $source = source_node('source', 1);
$source->safe_psql('postgres', q{
	CREATE TABLE public.t (id int PRIMARY KEY, v text);
	ALTER TABLE public.t REPLICA IDENTITY FULL;
	INSERT INTO public.t SELECT g, 'v' || g FROM generate_series(1, 100) g;
});
password_user($source, 'sync', 'syncpw');

my $target = target_node('target', qq{
tributary.database = 'postgres'
tributary.max_workers = 2
});
my $src_conn = pg_conninfo($source);
$target->safe_psql('postgres', qq{
	SET log_statement = 'none';
	SELECT tributary.create_source('src', 'postgresql', '$src_conn user=sync password=syncpw',
		'{"reconnect_timeout": 3, "heartbeat_interval": 1}');
});
for my $job (qw(a b c))
{
	$target->safe_psql('postgres', qq{
		SELECT tributary.create_job('$job', 'src', 'full+cdc', '{"target_schema": "$job"}');
		SELECT tributary.add_table('$job', 'public.t');
	});
}

sub state_of
{
	my ($job) = @_;
	return $target->safe_psql('postgres', "SELECT state FROM tributary.jobs WHERE job_name = '$job'");
}
sub wait_state
{
	my ($job, $state) = @_;
	ok($target->poll_query_until('postgres', "SELECT state = '$state' FROM tributary.jobs WHERE job_name = '$job'"),
		"job $job reaches state $state") or diag("job $job is " . state_of($job));
}
my $workers = q{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'pg_tributary worker'};

# --- 100 back-to-back start_job / stop_job
$target->safe_psql('postgres', join("\n",
	map { "SELECT tributary.start_job('a'); SELECT tributary.stop_job('a');" } 1 .. 100));
wait_state('a', 'stopped');
ok($target->poll_query_until('postgres', "SELECT ($workers) = 0"), 'no stray worker after 100 starts and stops');
is($target->safe_psql('postgres', q{SELECT count(*) FROM tributary.runs WHERE job_name = 'a' AND status = 'running'}), '0',
	'no run is left running');
is($target->safe_psql('postgres', q{SELECT count(*) FROM tributary.runs WHERE job_name = 'a' AND status = 'failed'}), '0',
	'no run counts as failed');
$target->safe_psql('postgres', q{SELECT tributary.start_job('a')});
wait_state('a', 'running');

# --- three running jobs, two workers: one waits, visibly
$target->safe_psql('postgres', q{SELECT tributary.start_job('b'); SELECT tributary.start_job('c')});
ok($target->poll_query_until('postgres', q{SELECT count(*) = 1 FROM tributary.jobs WHERE state = 'waiting'}),
	'one job waits for a worker');
like($target->safe_psql('postgres', q{SELECT last_error FROM tributary.jobs WHERE state = 'waiting'}),
	qr/waiting for a worker: all 2 worker slots are in use \(raise tributary.max_workers\)/, 'the jobs view says why');
my $waiting = $target->safe_psql('postgres', q{SELECT job_name FROM tributary.jobs WHERE state = 'waiting'});
my $other = $waiting eq 'c' ? 'b' : 'c';
$target->safe_psql('postgres', "SELECT tributary.stop_job('$other')");
wait_state($waiting, 'running');
$target->safe_psql('postgres', "SELECT tributary.stop_job('$waiting')");
wait_state($waiting, 'stopped');

# --- timeouts of the database do not cut an apply short
ok($target->poll_query_until('postgres', q{SELECT phase = 'streaming' FROM tributary.jobs WHERE job_name = 'a'}),
	'job a streams');
$target->safe_psql('postgres', q{SELECT tributary.stop_job('a')});
wait_state('a', 'stopped');
$target->safe_psql('postgres', q{ALTER DATABASE postgres SET lock_timeout = '10ms'; ALTER DATABASE postgres SET statement_timeout = '2s'});
$target->safe_psql('postgres', q{SET statement_timeout = 0; SELECT tributary.start_job('a')});
ok($target->poll_query_until('postgres', q{SELECT phase = 'streaming' FROM tributary.jobs WHERE job_name = 'a'}),
	'job a streams again under the database\'s timeouts');
my $locker = $target->background_psql('postgres');
$locker->query_safe(q{SET statement_timeout = 0; BEGIN; LOCK TABLE a.t IN SHARE MODE});
$source->safe_psql('postgres', q{UPDATE public.t SET v = v || '!' WHERE id <= 10});
# the worker waits for the lock longer than lock_timeout and statement_timeout
ok($target->poll_query_until('postgres',
		q{SELECT count(*) > 0 FROM pg_locks WHERE NOT granted AND relation = 'a.t'::regclass}),
	'the worker waits for the table lock');
$locker->query_safe('SELECT pg_sleep(3)');
$locker->query_safe('COMMIT');
$locker->quit;
is($target->safe_psql('postgres', q{SET statement_timeout = 0; SELECT tributary.wait_for_sync('a', '60 s')}), 't',
	'the job applied the changes after the lock was released');
is($target->safe_psql('postgres', q{SET statement_timeout = 0; SELECT state FROM tributary.jobs WHERE job_name = 'a'}),
	'running', 'and still runs');
$target->safe_psql('postgres', q{ALTER DATABASE postgres RESET lock_timeout; ALTER DATABASE postgres RESET statement_timeout});
is(digest($target, 'SELECT * FROM a.t'), digest($source, 'SELECT * FROM public.t'), 'job a equals the source');

# --- a slot still held by another process: retried until it is free
$target->safe_psql('postgres', q{SELECT tributary.stop_job('a')});
wait_state('a', 'stopped');
my $slot = $target->safe_psql('postgres', q{SELECT slot FROM tributary.jobs WHERE job_name = 'a'});
my $recv = IPC::Run::start(['pg_recvlogical', '-d', $source->connstr('postgres'), '--slot', $slot, '--start',
	'-f', '/dev/null']);
ok($source->poll_query_until('postgres', "SELECT active FROM pg_replication_slots WHERE slot_name = '$slot'"),
	'another process holds the job\'s slot');
$target->safe_psql('postgres', q{SELECT tributary.start_job('a')});
ok($target->poll_query_until('postgres', q{SELECT count(*) > 0 FROM pg_stat_activity
		WHERE backend_type = 'pg_tributary worker'}), 'the worker is up');
ok($target->wait_for_log(qr/pg_tributary job "a" lost its source: .*is active for PID/), 'the worker retries the busy slot');
$recv->kill_kill;
ok($target->poll_query_until('postgres', q{SELECT phase = 'streaming' FROM tributary.jobs WHERE job_name = 'a'}),
	'the job streams once the slot is free');
$source->safe_psql('postgres', q{INSERT INTO public.t VALUES (1000, 'after')});
is($target->safe_psql('postgres', q{SELECT tributary.wait_for_sync('a', '60 s')}), 't', 'and applies');

# --- a rotated source password: retried for reconnect_timeout, then failed
$source->safe_psql('postgres', q{
	ALTER ROLE sync PASSWORD 'rotated';
	SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'sync';
});
my $t0 = time;
wait_state('a', 'failed');
my $took = time - $t0;
ok($took < 3 + 20, sprintf('the job failed %.1f s after losing its source (reconnect_timeout 3 s)', $took));
like($target->safe_psql('postgres', q{SELECT message FROM tributary.errors WHERE job_name = 'a' ORDER BY at DESC LIMIT 1}),
	qr/could not connect to source "src": .*password authentication failed/, 'the errors row says why');

# --- DROP EXTENSION while jobs exist would orphan their slots: refused
my ($rc, $out, $err) = $target->psql('postgres', 'DROP EXTENSION pg_tributary');
like($err, qr/cannot drop extension pg_tributary while jobs exist.*\n.*Jobs: a, b, c\..*\n.*HINT:  Drop the jobs first/s,
	'DROP EXTENSION is refused while jobs exist, naming them');
($rc, $out, $err) = $target->psql('postgres', 'DROP SCHEMA tributary CASCADE');
like($err, qr/cannot drop extension pg_tributary while jobs exist/, 'so is DROP SCHEMA tributary CASCADE');
my $slots = $source->safe_psql('postgres', q{SELECT count(*) FROM pg_replication_slots WHERE slot_name LIKE 'tributary\_%'});
ok($slots > 0, "the jobs have $slots slots on the source");
$source->safe_psql('postgres', q{ALTER ROLE sync PASSWORD 'syncpw'});
$target->safe_psql('postgres', q{SELECT tributary.drop_job(job_name) FROM tributary.jobs; DROP EXTENSION pg_tributary});
is($source->safe_psql('postgres', q{SELECT count(*) FROM pg_replication_slots WHERE slot_name LIKE 'tributary\_%'}), '0',
	'after drop_job, DROP EXTENSION works and no slot is left on the source');

ok(!$target->log_contains('terminated by signal'), 'no process of the target died');
$target->stop;
$source->stop;
done_testing();
