# 021_mysql_interrupt.pl -- every wait on a MySQL server can be
# interrupted, and a long one is not an error (MySQL calls go through
# Connector/C's non-blocking API and a latch wait, src/source/mysql_io.c):
#   - a snapshot chunk waiting for a table lock on the source: stop_job
#     stops the worker at once (it used to sit in a blocking read until
#     the lock went away);
#   - a lock held longer than the old 10 s read timeout: the job waits
#     and then copies (it used to fail with a lost connection);
#   - a server that accepts the connection and then says nothing:
#     check_source ends at statement_timeout, and at pg_cancel_backend.
use strict;
use warnings;
use IO::Socket::INET;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);
use FindBin;
use lib $FindBin::RealBin;
use TributaryTest;
use MariaDBNode;

my $my = MariaDBNode->new('interrupt');
$my->sql(q{
	CREATE DATABASE shop;
	CREATE TABLE shop.t (id INT PRIMARY KEY, v VARCHAR(20));
	USE shop;
	INSERT INTO shop.t SELECT seq, CONCAT('v', seq) FROM seq_1_to_100;
});
my $target = target_node('target', "tributary.database = 'postgres'\n");
my $conn = $my->conninfo('shop');
$target->safe_psql('postgres', qq{
	SELECT tributary.create_source('maria', 'mysql', '$conn', '{"heartbeat_interval": 1}');
	SELECT tributary.create_job('locked', 'maria', 'full', '{"target_schema": "a"}');
	SELECT tributary.add_table('locked', 'shop.t');
	SELECT tributary.create_job('waits', 'maria', 'full', '{"target_schema": "b"}');
	SELECT tributary.add_table('waits', 'shop.t');
});

# waiting_on_lock: whether a pg_tributary session of the source waits for
# the table's metadata lock
sub waiting_on_lock
{
	return $my->sql(q{SELECT count(*) FROM information_schema.PROCESSLIST
		WHERE STATE LIKE 'Waiting for table metadata lock%'}) > 0;
}

# 1. stop_job while a chunk waits for a lock
my $lock = $my->background("LOCK TABLES shop.t WRITE;\nSELECT SLEEP(600);\n");
ok($my->sql('SELECT 1') eq '1', 'the lock holder runs');
$target->safe_psql('postgres', q{SELECT tributary.start_job('locked')});
my $waited = 0;
for (1 .. 300)
{
	last if ($waited = waiting_on_lock());
	select(undef, undef, undef, 0.1);
}
ok($waited, 'the worker waits for the table lock on the source');
my $pid = $target->safe_psql('postgres', q{SELECT pid FROM tributary.jobs WHERE job_name = 'locked'});
ok($pid ne '', "the worker runs (pid $pid)");
my $t0 = time;
$target->safe_psql('postgres', q{SELECT tributary.stop_job('locked')});
ok($target->poll_query_until('postgres', q{SELECT state = 'stopped' FROM tributary.jobs WHERE job_name = 'locked'}),
	'the job stops while the lock is still held');
my $took = time - $t0;
ok($took < 10, sprintf('... in %.1f s', $took));
is($target->safe_psql('postgres', qq{SELECT count(*) FROM pg_stat_activity WHERE pid = $pid}), '0',
	'its worker is gone');
$lock->kill_kill;
$lock->finish;

# 2. a lock held for 15 s (longer than the old read timeout): the job waits, then copies
$lock = $my->background("LOCK TABLES shop.t WRITE;\nSELECT SLEEP(15);\nUNLOCK TABLES;\n");
ok($my->sql('SELECT 1') eq '1', 'the lock holder runs again');
$target->safe_psql('postgres', q{SELECT tributary.start_job('waits')});
is($target->safe_psql('postgres', q{SELECT tributary.wait_for_sync('waits', '120 s')}), 't',
	'the job copies once the lock is gone');
is($target->safe_psql('postgres', q{SELECT count(*) || ' ' || sum(id) FROM b.t}), '100 5050', 'every row arrived');
is($target->safe_psql('postgres', q{SELECT count(*) FROM tributary.errors WHERE job_name = 'waits'}), '0', 'no error was recorded for the wait');
is($target->safe_psql('postgres', q{SELECT string_agg(status, ',') FROM tributary.runs WHERE job_name = 'waits'}),
	'finished', 'in one run');
$lock->finish;

# 3. a server that accepts connections and never speaks
my $silent = IO::Socket::INET->new(Listen => 5, LocalAddr => '127.0.0.1', LocalPort => 0, Proto => 'tcp')
  or die "cannot listen: $!";
my $port = $silent->sockport;
$target->safe_psql('postgres', qq{SELECT tributary.create_source('silent', 'mysql',
	'host=127.0.0.1 port=$port user=root connect_timeout=120')});
$t0 = time;
my ($ret, $stdout, $stderr) = $target->psql('postgres',
	q{SET statement_timeout = '1s'; SELECT tributary.check_source('silent')});
$took = time - $t0;
isnt($ret, 0, 'check_source of a silent server fails');
like($stderr, qr/canceling statement due to statement timeout/, '... at statement_timeout');
ok($took < 10, sprintf('... after %.1f s', $took));

my $bg = $target->background_psql('postgres');
$bg->query_until(qr/started/, q{\echo started
SELECT tributary.check_source('silent');
});
ok($target->poll_query_until('postgres', q{SELECT count(*) = 1 FROM pg_stat_activity
		WHERE query LIKE '%check_source(''silent'')%' AND pid <> pg_backend_pid()}),
	'a second check_source waits');
$t0 = time;
$target->safe_psql('postgres', q{SELECT pg_cancel_backend(pid) FROM pg_stat_activity
		WHERE query LIKE '%check_source(''silent'')%' AND pid <> pg_backend_pid()});
ok($target->poll_query_until('postgres', q{SELECT count(*) = 0 FROM pg_stat_activity
		WHERE query LIKE '%check_source(''silent'')%' AND state = 'active' AND pid <> pg_backend_pid()}),
	'pg_cancel_backend ends it');
$took = time - $t0;
ok($took < 10, sprintf('... in %.1f s', $took));
eval { $bg->quit; };
like(slurp_file($target->logfile), qr/ERROR:  canceling statement due to user request/, '... as a cancel');
close $silent;

done_testing();
