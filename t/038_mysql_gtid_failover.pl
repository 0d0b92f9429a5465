# 038_mysql_gtid_failover.pl -- MariaDB failover by GTID, and the
# start_position forms earliest and gtid:<list> (issue 13 items 5 and 6).
#
# A primary and a replica (log_slave_updates, another binlog_checksum and
# max_binlog_size, so the same binlog file names hold other contents at
# other offsets) started by the test, replicating by GTID.  A full+cdc job
# reads the primary, with writes in two GTID domains; then, while the job
# runs and more writes are made, the primary stops, the replica is
# promoted and alter_source points the job's source at it.  The job's
# checkpoint file and offset do not mean the same on the replica
# (BINLOG_GTID_POS there does not hold the checkpoint's GTIDs), so it
# resumes from its GTID state: every transaction exactly once, those the
# primary wrote before it stopped and those the promoted replica writes.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use TributaryTest;
use MariaDBNode;

my $primary = MariaDBNode->new('primary', 'server-id' => 1, 'log-slave-updates' => undef);
my $replica = MariaDBNode->new('replica', 'server-id' => 2, 'log-slave-updates' => undef,
	'binlog-checksum' => 'NONE', 'max-binlog-size' => '8192');
my $pport = $primary->port;
$replica->sql(qq{
	CHANGE MASTER TO MASTER_HOST = '127.0.0.1', MASTER_PORT = $pport, MASTER_USER = 'root',
		MASTER_USE_GTID = slave_pos;
	START SLAVE;
});
$primary->sql(q{
	CREATE DATABASE shop;
	USE shop;
	CREATE TABLE shop.t (id INT PRIMARY KEY, v VARCHAR(40), n INT);
	CREATE TABLE shop.d3 (id INT PRIMARY KEY, v VARCHAR(40));
	INSERT INTO shop.t SELECT seq, CONCAT('v', seq), seq FROM seq_1_to_500;
	SET SESSION gtid_domain_id = 3;
	INSERT INTO shop.d3 SELECT seq, CONCAT('d', seq) FROM seq_1_to_50;
});

# replica_catch_up: wait until the replica applied all the primary wrote
sub replica_catch_up
{
	my $pos = $primary->sql('SELECT @@gtid_binlog_pos');
	is($replica->sql("SELECT MASTER_GTID_WAIT('$pos', 60)"), '0', "the replica has $pos");
}

my $target = target_node('target');
my $pconn = $primary->conninfo(undef, 'root');
my $rconn = $replica->conninfo(undef, 'root');
$target->safe_psql('postgres', qq{
	SELECT tributary.create_source('maria', 'mysql', '$pconn', '{"heartbeat_interval": 1, "reconnect_timeout": 300}');
	SELECT tributary.create_job('fo', 'maria', 'full+cdc', '{"target_schema": "mirror"}');
	SELECT tributary.add_table('fo', 'shop.t');
	SELECT tributary.add_table('fo', 'shop.d3');
	SELECT tributary.start_job('fo');
});
is($target->safe_psql('postgres', q{SELECT tributary.wait_for_sync('fo', '60 s')}), 't', 'the job syncs from the primary');

# compare: the job's target tables against a server's (rows as text, by id)
sub compare
{
	my ($node, $when) = @_;
	for my $t (qw(t d3))
	{
		my $cols = $t eq 't' ? 'id, v, n' : 'id, v';
		my $theirs = $node->sql("SELECT COUNT(*), COALESCE(MD5(GROUP_CONCAT(CONCAT_WS('|', $cols) ORDER BY id SEPARATOR ',')), '') FROM shop.$t");
		my $mine = $target->safe_psql('postgres',
			"SELECT count(*) || E'\\t' || coalesce(md5(string_agg(concat_ws('|', $cols), ',' ORDER BY id)), '') FROM mirror.$t");
		is($mine, $theirs, "shop.$t: the target equals the source $when");
	}
}
compare($primary, 'after the snapshot');

# writes on the primary in both domains, applied by the job
$primary->sql(q{
	USE shop;
	UPDATE shop.t SET v = 'updated', n = n + 1000 WHERE id <= 100;
	DELETE FROM shop.t WHERE id BETWEEN 101 AND 150;
	SET SESSION gtid_domain_id = 3;
	INSERT INTO shop.d3 SELECT seq, 'second' FROM seq_51_to_80;
});
is($target->safe_psql('postgres', q{SELECT tributary.wait_for_sync('fo', '60 s')}), 't', 'the job applies them');
like($target->safe_psql('postgres', q{SELECT position FROM tributary.checkpoints WHERE job_name = 'fo' ORDER BY seq DESC LIMIT 1}),
	qr/^binlog\.\d{6}:\d+ gtid (0-1-\d+,3-1-\d+|3-1-\d+,0-1-\d+)$/, 'its checkpoint lists the GTIDs of both domains');

# more writes while the job runs, then the primary stops: the replica has
# them, the job may not
$primary->sql(q{
	USE shop;
	INSERT INTO shop.t SELECT seq, 'late', seq FROM seq_1001_to_1200;
	SET SESSION gtid_domain_id = 3;
	UPDATE shop.d3 SET v = 'late' WHERE id <= 10;
});
replica_catch_up();
$primary->stop;
$replica->sql(q{STOP SLAVE; RESET SLAVE ALL;});

# the promoted replica writes too; alter_source points the job at it
$replica->sql(q{
	USE shop;
	INSERT INTO shop.t SELECT seq, 'after failover', seq FROM seq_2001_to_2100;
	UPDATE shop.t SET v = 'after failover' WHERE id BETWEEN 1001 AND 1010;
	SET SESSION gtid_domain_id = 3;
	DELETE FROM shop.d3 WHERE id > 70;
});
$target->safe_psql('postgres', qq{SELECT tributary.alter_source('maria', '$rconn')});
is($target->safe_psql('postgres', q{SELECT tributary.wait_for_sync('fo', '120 s')}), 't',
	'the job syncs from the promoted replica');
compare($replica, 'after the failover');
ok($target->log_contains(qr/source "maria" does not have binlog position binlog\.\d{6}:\d+ as the job's checkpoint knew it .*resuming after GTIDs/),
	'the job resumed by GTID, saying why');
ok($target->log_contains(qr/job "fo" streams source "maria" from binlog\.\d{6}:\d+ on/), 'and from where');
is($target->safe_psql('postgres', q{SELECT state FROM tributary.jobs WHERE job_name = 'fo'}), 'running', 'the job runs');

# after the failover: restarts resume from the replica's own positions
$replica->sql(q{INSERT INTO shop.t VALUES (3000, 'before restart', 1)});
$target->safe_psql('postgres', q{SELECT tributary.restart_job('fo')});
$replica->sql(q{INSERT INTO shop.t VALUES (3001, 'after restart', 1)});
is($target->safe_psql('postgres', q{SELECT tributary.wait_for_sync('fo', '60 s')}), 't', 'a restarted job syncs');
compare($replica, 'after a restart on the replica');
is($target->safe_psql('postgres', q{SELECT string_agg(DISTINCT state, ',') FROM tributary.tables WHERE job_name = 'fo'}),
	'streaming', 'its tables are past the catch-up bound the failover set');

# --- start_position: earliest (every change the binlog still has; the
# table's CREATE passes under ddl ignore) and a GTID list
$target->safe_psql('postgres', qq{
	SELECT tributary.create_source('rep', 'mysql', '$rconn', '{"heartbeat_interval": 1}');
	CREATE SCHEMA early;
	CREATE TABLE early.t (id INT PRIMARY KEY, v VARCHAR(40), n INT);
	SELECT tributary.create_job('early', 'rep', 'cdc', '{"start_position": "earliest", "target_schema": "early", "ddl": "ignore"}');
	SELECT tributary.add_table('early', 'shop.t');
	SELECT tributary.start_job('early');
});
is($target->safe_psql('postgres', q{SELECT tributary.wait_for_sync('early', '60 s')}), 't', 'a cdc job from earliest syncs');
is(digest($target, 'SELECT * FROM early.t'), digest($target, 'SELECT * FROM mirror.t'),
	'from the oldest binlog on, it has every row');

my $gtid_now = $replica->sql('SELECT @@gtid_binlog_pos');
$replica->sql(q{INSERT INTO shop.t VALUES (4000, 'after the gtid', 1), (4001, 'after the gtid', 2)});
$target->safe_psql('postgres', qq{
	CREATE SCHEMA fromgtid;
	CREATE TABLE fromgtid.t (id INT PRIMARY KEY, v VARCHAR(40), n INT);
	SELECT tributary.create_job('fromgtid', 'rep', 'cdc', '{"start_position": "gtid:$gtid_now", "target_schema": "fromgtid"}');
	SELECT tributary.add_table('fromgtid', 'shop.t');
	SELECT tributary.start_job('fromgtid');
});
$replica->sql(q{UPDATE shop.t SET n = 99 WHERE id = 4001});
is($target->safe_psql('postgres', q{SELECT tributary.wait_for_sync('fromgtid', '60 s')}), 't', 'a cdc job from a GTID list syncs');
is($target->safe_psql('postgres', q{SELECT string_agg(id || ':' || n, ',' ORDER BY id) FROM fromgtid.t}), '4000:1,4001:99',
	"it has exactly the changes after $gtid_now");

# start_position time:<timestamptz>: the first transaction committed at or
# after it (binlog timestamps have whole seconds: the test waits for the
# server's clock to pass to the next second between the two writes)
my $sec = $replica->sql('SELECT UNIX_TIMESTAMP()');
$replica->sql(q{INSERT INTO shop.t VALUES (5000, 'before the time', 1)});
my $later = $sec;
my $deadline = time() + 30;
while ($later <= $sec && time() < $deadline)
{
	$later = $replica->sql('SELECT UNIX_TIMESTAMP()');
}
ok($later > $sec, "the server's clock passed to second $later");
my $ts = $target->safe_psql('postgres', "SELECT to_timestamp($later)::text");
$replica->sql(q{INSERT INTO shop.t VALUES (5001, 'after the time', 1); UPDATE shop.t SET n = 2 WHERE id = 5001});
$target->safe_psql('postgres', qq{
	SELECT tributary.create_job('fromtime', 'rep', 'cdc', '{"start_position": "time:$ts", "target_schema": "fromtime"}');
	SELECT tributary.add_table('fromtime', 'shop.t');
	SELECT tributary.start_job('fromtime');
});
is($target->safe_psql('postgres', q{SELECT tributary.wait_for_sync('fromtime', '60 s')}), 't', 'a cdc job from a time syncs');
is($target->safe_psql('postgres', q{SELECT string_agg(id || ':' || n, ',' ORDER BY id) FROM fromtime.t}), '5001:2',
	"it has exactly the transactions committed at or after $ts");
ok($target->log_contains(qr/start_position time:\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.0{6}\+00 of source "rep" is binlog position binlog\.\d{6}:\d+/),
	'the log says which position the time (stored in UTC) is');
is($target->safe_psql('postgres', q{SELECT (job_effective_options->>'start_position') FROM tributary.job_effective_options('fromtime')}),
	$target->safe_psql('postgres', "SELECT 'time:' || to_char(to_timestamp($later) AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00'"),
	'start_position time: is stored as an absolute UTC time');

# refused forms, and a MySQL GTID set on a MariaDB server
my ($ret, $out, $err) = $target->psql('postgres',
	q{SELECT tributary.create_job('badgtid', 'rep', 'cdc', '{"start_position": "gtid:0-1"}')});
like($err, qr/invalid GTID set "0-1"/, 'create_job refuses a malformed GTID list');
($ret, $out, $err) = $target->psql('postgres',
	q{SELECT tributary.create_job('badtime', 'rep', 'cdc', '{"start_position": "time:yesterday-ish"}')});
like($err, qr/invalid input syntax for type timestamp with time zone: "yesterday-ish"/, 'and a time that is none');
($ret, $out, $err) = $target->psql('postgres',
	q{SELECT tributary.create_job('inftime', 'rep', 'cdc', '{"start_position": "time:infinity"}')});
like($err, qr/invalid start_position "time:infinity"/, 'and an infinite one');
$target->safe_psql('postgres', q{
	SELECT tributary.create_job('mygtid', 'rep', 'cdc',
		'{"start_position": "gtid:3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5", "target_schema": "mg", "restart-strategy.type": "none"}');
	SELECT tributary.add_table('mygtid', 'shop.d3');
	SELECT tributary.start_job('mygtid');
});
ok($target->poll_query_until('postgres', q{SELECT state = 'failed' FROM tributary.jobs WHERE job_name = 'mygtid'}),
	'a MySQL GTID set on a MariaDB server stops the job');
like($target->safe_psql('postgres', q{SELECT message FROM tributary.errors WHERE job_name = 'mygtid'}),
	qr/cannot start streaming from GTID set 3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5/, '... saying so');

done_testing();
