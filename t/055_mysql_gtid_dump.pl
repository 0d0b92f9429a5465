# 055_mysql_gtid_dump.pl -- Oracle MySQL failover by GTID and start_position
# gtid:<MySQL GTID set> (issue 13): COM_BINLOG_DUMP_GTID, against the fake
# MySQL 8 server of FakeMySQL.pm (Oracle MySQL is not packaged here).
#
# A cdc job streams from a "primary" from binlog.000001:4: its checkpoint
# holds the complete executed GTID set (uuid:1-4, though it never saw a
# set on the wire).  A restart on the same server resumes by file and
# offset (the executed set there, read from PREVIOUS_GTIDS and the GTID
# events before the offset, is the checkpoint's).  Then the primary
# stops and alter_source points the job at a "promoted replica" whose
# binlog files have other names: the job resumes by GTID, sending
# COM_BINLOG_DUMP_GTID with exactly the checkpoint's set (checked byte for
# byte against an encoding made here), and the replica sends only what
# the set lacks.  The replica's copies of the primary's transactions carry
# other row values ('replayed'), so a transaction applied twice would
# show.  Last, a job with start_position gtid:<set> gets what the set
# lacks, nothing else.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use TributaryTest;
use FakeMySQL;
use Time::HiRes qw(usleep);

my $A = '3e11fa47-71ca-11e1-9e33-c80aa9429562';
my $B = '9d4c1a2b-0000-11ee-8c4b-0242ac120002';

my $primary = FakeMySQL->new(name => 'primary', server_id => 1, binlog => [
	[ 'binlog.000001', [
		{ gtid => [ $A, 1 ], insert => [ [ 1, 'a1' ] ] },
		{ gtid => [ $A, 2 ], insert => [ [ 2, 'a2' ] ] } ] ],
	[ 'binlog.000002', [
		{ gtid => [ $A, 3 ], insert => [ [ 3, 'a3' ] ] },
		{ gtid => [ $A, 4 ], update => [ [ 1, 'a1', 'a1 updated' ] ] } ] ] ]);
my $replica = FakeMySQL->new(name => 'replica', server_id => 2, binlog => [
	[ 'replica-bin.000001', [
		{ gtid => [ $A, 1 ], insert => [ [ 1, 'replayed' ] ] },
		{ gtid => [ $A, 2 ], insert => [ [ 2, 'replayed' ] ] } ] ],
	[ 'replica-bin.000002', [
		{ gtid => [ $A, 3 ], insert => [ [ 3, 'replayed' ] ] },
		{ gtid => [ $A, 4 ], update => [ [ 1, 'replayed', 'replayed' ] ] },
		{ gtid => [ $B, 1 ], insert => [ [ 4, 'b1' ] ] },
		{ gtid => [ $B, 2 ], update => [ [ 2, 'a2', 'b2' ] ] },
		{ gtid => [ $B, 3 ], insert => [ [ 5, 'b3' ] ] } ] ] ]);

my $target = target_node('target');
my $pconn = $primary->conninfo;
$target->safe_psql('postgres', qq{
	SELECT tributary.create_source('my', 'mysql', '$pconn',
		'{"heartbeat_interval": 1, "reconnect_timeout": 300, "server_id": 4242}');
});

# cdc_job: a started cdc job of shop.t into schema.t; extra job options
sub cdc_job
{
	my ($job, $source, $schema, $options) = @_;
	$target->safe_psql('postgres', qq{
		CREATE SCHEMA $schema;
		CREATE TABLE $schema.t (id INT PRIMARY KEY, v VARCHAR(40));
		SELECT tributary.create_job('$job', '$source', 'cdc', '{"target_schema": "$schema", $options}');
		SELECT tributary.add_table('$job', 'shop.t');
		SELECT tributary.start_job('$job');
	});
}

# restart_resumes: restart job j, and whether the server then sees a dump
# request matching re
sub restart_resumes
{
	my ($server, $re) = @_;
	$target->safe_psql('postgres', q{SELECT tributary.restart_job('j')});
	for (1 .. 600)
	{
		return 1 if grep { $_ =~ $re } $server->log_lines;
		usleep(100_000);
	}
	return 0;
}

# rebased: whether a job streams from where a server chose (a dump by
# GTID).  Asked after wait_for_sync returned: the job must not report
# itself in sync before that (wait.c, positions_pending)
sub rebased
{
	my ($job, $file) = @_;
	return $target->log_contains(qr/job "$job" streams source "\w+" from \Q$file\E:4 on/);
}

cdc_job('j', 'my', 'mirror', '"start_position": "binlog.000001:4"');
is($target->safe_psql('postgres', q{SELECT tributary.wait_for_sync('j', '60 s')}), 't', 'the job syncs from the primary');

sub rows
{
	my ($schema) = @_;
	return $target->safe_psql('postgres', "SELECT string_agg(id || '=' || v, ',' ORDER BY id) FROM $schema.t");
}

sub checkpoint
{
	my ($job) = @_;
	return $target->safe_psql('postgres',
		"SELECT position FROM tributary.checkpoints WHERE job_name = '$job' ORDER BY seq DESC LIMIT 1");
}
is(rows('mirror'), '1=a1 updated,2=a2,3=a3', 'it applied the primary\'s transactions');
like(checkpoint('j'), qr/^binlog\.000002:\d+ gtid $A:1-4$/,
	'its checkpoint holds the complete executed GTID set');
my @log = $primary->log_lines;
ok((grep { /^DUMP binlog\.000001:4 flags=1$/ } @log), 'the GTID set at the start was read from the binlog (non-blocking dump)');
ok((grep { /^DUMP binlog\.000001:4 flags=0$/ } @log), 'the stream dumped from the start position');
ok(!(grep { /^DUMP_GTID/ } @log), 'and not by GTID');
ok(!(grep { /^UNKNOWN/ } @log), 'the fake server knew every query') or diag(join("\n", grep { /^UNKNOWN/ } @log));

# a restart on the same server resumes by file and offset
my ($ckpt_off) = checkpoint('j') =~ /^binlog\.000002:(\d+)/;
ok(restart_resumes($primary, qr/^DUMP binlog\.000002:$ckpt_off flags=0$/), "a restarted job resumes by file and offset on the same server (binlog.000002:$ckpt_off)");
is($target->safe_psql('postgres', q{SELECT tributary.wait_for_sync('j', '60 s')}), 't', 'and syncs');
ok(!(grep { /^DUMP_GTID/ } $primary->log_lines), 'without a dump by GTID');

# a server whose binlog files have the primary's names and other contents:
# binlog.000002 has other transactions, of the same sizes, before the
# primary's, so that the checkpoint's offset is the end of a transaction
# there too, with another executed set
my $same_names = FakeMySQL->new(name => 'same_names', server_id => 3, binlog => [
	[ 'binlog.000001', [
		{ gtid => [ $A, 1 ], insert => [ [ 1, 'replayed' ] ] },
		{ gtid => [ $A, 2 ], insert => [ [ 2, 'replayed' ] ] } ] ],
	[ 'binlog.000002', [
		{ gtid => [ $B, 1 ], insert => [ [ 4, 'c1' ] ] },
		{ gtid => [ $B, 2 ], update => [ [ 2, 'a2', 'c2 updated' ] ] },
		{ gtid => [ $A, 3 ], insert => [ [ 3, 'replayed' ] ] },
		{ gtid => [ $A, 4 ], update => [ [ 1, 'replayed', 'replayed' ] ] } ] ] ]);
$target->safe_psql('postgres', qq{
	SELECT tributary.create_source('mk', 'mysql', '$pconn', '{"heartbeat_interval": 1, "reconnect_timeout": 300}');
});
cdc_job('k', 'mk', 'same', '"start_position": "binlog.000001:4"');
is($target->safe_psql('postgres', q{SELECT tributary.wait_for_sync('k', '60 s')}), 't', 'a second job syncs from the primary');
my $sconn = $same_names->conninfo;
$target->safe_psql('postgres', qq{
	SELECT tributary.alter_source('mk', '$sconn');
	SELECT tributary.restart_job('k');
});
is($target->safe_psql('postgres', q{SELECT tributary.wait_for_sync('k', '60 s')}), 't',
	'it syncs from a server with the same binlog file names');
ok(rebased('k', 'binlog.000002'), 'by then the job streams where the server chose');
is(rows('same'), '1=a1 updated,2=c2 updated,3=a3,4=c1', 'every transaction exactly once there too');
ok($target->log_contains(qr/source "mk" does not have binlog position binlog\.000002:\d+ as the job's checkpoint knew it \(its GTID state there is $A:1-2,$B:1-2\); resuming after GTIDs $A:1-4/),
	'the executed set at the checkpoint\'s place there is another one: resumed by GTID');
ok((grep { /^DUMP_GTID file='' pos=4 set=$A:1-4$/ } $same_names->log_lines), 'with COM_BINLOG_DUMP_GTID');
ok((grep { /^SERVE binlog\.000002:4 by GTID$/ } $same_names->log_lines),
	'from the newest file whose PREVIOUS_GTIDS the set holds');
$same_names->stop;

# failover: the primary stops, the job's source points at the replica
$primary->stop;
my $rconn = $replica->conninfo;
$target->safe_psql('postgres', qq{SELECT tributary.alter_source('my', '$rconn')});
is($target->safe_psql('postgres', q{SELECT tributary.wait_for_sync('j', '120 s')}), 't',
	'the job syncs from the promoted replica');
ok(rebased('j', 'replica-bin.000002'), 'by then the job streams where the promoted replica chose');
is(rows('mirror'), '1=a1 updated,2=b2,3=a3,4=b1,5=b3',
	'every transaction exactly once: none of the primary\'s again, all of the replica\'s own');
@log = $replica->log_lines;
my ($sent) = map { /^DUMP_GTID ([0-9a-f]+)$/ ? $1 : () } @log;
my $set = FakeMySQL::encode_set({ $A => [ [ 1, 5 ] ] });
my $expected = unpack('H*', FakeMySQL::lebytes(0, 2) . FakeMySQL::lebytes(4242, 4) . FakeMySQL::lebytes(0, 4)
	  . FakeMySQL::lebytes(4, 8) . FakeMySQL::lebytes(length $set, 4) . $set);
is($sent, $expected, 'COM_BINLOG_DUMP_GTID: flags 0, the server id, no file, position 4, the checkpoint\'s set');
ok((grep { /^DUMP_GTID file='' pos=4 set=$A:1-4$/ } @log), 'the fake server decoded the set');
ok((grep { /^SERVE replica-bin\.000002:4 by GTID$/ } @log), 'and served from the file that begins inside it');
ok((grep { /^DUMP binlog\.000002:\d+ flags=1$/ } @log), 'the checkpoint\'s file was looked for first');
ok($target->log_contains(qr/source "my" does not have binlog position binlog\.000002:\d+ as the job's checkpoint knew it \(its GTID state there is unknown\); resuming after GTIDs $A:1-4/),
	'the log says why it resumed by GTID');
like(checkpoint('j'), qr/^replica-bin\.000002:\d+ gtid $A:1-4,$B:1-3$/,
	'the checkpoint has the replica\'s positions and the whole set');
ok(!(grep { /^UNKNOWN/ } @log), 'the fake server knew every query') or diag(join("\n", grep { /^UNKNOWN/ } @log));

# after the failover a restart resumes by the replica's file and offset
my $ndump = grep { /^DUMP_GTID / } $replica->log_lines;
($ckpt_off) = checkpoint('j') =~ /^replica-bin\.000002:(\d+)/;
ok(restart_resumes($replica, qr/^DUMP replica-bin\.000002:$ckpt_off flags=0$/), 'a restart on the replica resumes by its file and offset');
is($target->safe_psql('postgres', q{SELECT tributary.wait_for_sync('j', '60 s')}), 't', 'and syncs');
is(scalar(grep { /^DUMP_GTID / } $replica->log_lines), $ndump, 'without another dump by GTID');
is(rows('mirror'), '1=a1 updated,2=b2,3=a3,4=b1,5=b3', 'nothing applied twice');

# start_position gtid:<MySQL GTID set>: what the set lacks, nothing else
cdc_job('g', 'my', 'fromgtid', qq{"start_position": "gtid:$A:1-4,$B:1-2"});
is($target->safe_psql('postgres', q{SELECT tributary.wait_for_sync('g', '60 s')}), 't', 'a job from a GTID set syncs');
ok(rebased('g', 'replica-bin.000002'), 'by then the job streams where the server chose');
is(rows('fromgtid'), '5=b3', 'it applied only the transaction after the set');
ok((grep { /^DUMP_GTID file='' pos=4 set=$A:1-4,$B:1-2$/ } $replica->log_lines), 'sent as COM_BINLOG_DUMP_GTID');
like(checkpoint('g'), qr/^replica-bin\.000002:\d+ gtid $A:1-4,$B:1-3$/, 'its checkpoint holds the whole set');

# the whole executed set: nothing to apply; the server skips every
# transaction and sends heartbeats only (also inside the transactions it
# skips, as MySQL does), whose positions the idle job follows
cdc_job('g2', 'my', 'uptodate', qq{"start_position": "gtid:$A:1-4,$B:1-3"});
is($target->safe_psql('postgres', q{SELECT tributary.wait_for_sync('g2', '60 s')}), 't',
	'a job from the whole executed set syncs with nothing to apply');
ok(rebased('g2', 'replica-bin.000002'), 'by then the job streams where the server chose');
is(rows('uptodate'), '', 'and applies nothing');

# a server whose PREVIOUS_GTIDS are in MySQL 8.3's tagged format, which is
# not read: its jobs resume by file and offset, as before GTIDs were read
my $tagged = FakeMySQL->new(name => 'tagged', server_id => 4, tagged => 1, binlog => [
	[ 'binlog.000001', [ { gtid => [ $A, 1 ], insert => [ [ 1, 't1' ] ] } ] ],
	[ 'binlog.000002', [ { gtid => [ $A, 2 ], insert => [ [ 2, 't2' ] ] } ] ] ]);
my $tconn = $tagged->conninfo;
$target->safe_psql('postgres', qq{
	SELECT tributary.create_source('tg', 'mysql', '$tconn', '{"heartbeat_interval": 1}');
});
cdc_job('t', 'tg', 'tagged', '"start_position": "binlog.000001:4"');
is($target->safe_psql('postgres', q{SELECT tributary.wait_for_sync('t', '60 s')}), 't', 'a job on a server with tagged GTID sets syncs');
is(rows('tagged'), '1=t1,2=t2', 'and applies its transactions');
$target->safe_psql('postgres', q{SELECT tributary.restart_job('t')});
my $tagged_resumed = 0;
for (1 .. 600)
{
	last if ($tagged_resumed = grep { /^DUMP binlog\.000002:\d+ flags=0$/ } $tagged->log_lines);
	usleep(100_000);
}
ok($tagged_resumed, 'a restart resumes by file and offset');
ok(!(grep { /^DUMP_GTID/ } $tagged->log_lines), 'never by GTID');
ok($target->log_contains(qr/source "tg" lists tagged GTIDs at binlog\.000001:4, which pg_tributary does not read/),
	'the log says why');
$tagged->stop;

# a set the server does not hold: the server's refusal stops the job
$target->safe_psql('postgres', qq{
	SELECT tributary.create_source('my2', 'mysql', '$rconn', '{"heartbeat_interval": 1, "reconnect_timeout": 1}');
});
cdc_job('ahead', 'my2', 'ahead', qq{"start_position": "gtid:$A:1-9", "restart-strategy.type": "none"});
ok($target->poll_query_until('postgres', q{SELECT state = 'failed' FROM tributary.jobs WHERE job_name = 'ahead'}),
	'a job whose set the server does not hold fails');
like($target->safe_psql('postgres', q{SELECT message FROM tributary.errors WHERE job_name = 'ahead'}),
	qr/Slave has more GTIDs than the master has/, 'with the server\'s error');

# checkpoints of earlier versions list the last GTID of each server only
# (uuid:4): on the server they were written on, a job resumes from them
# by file and offset; on another, a dump by GTID would take them for all
# the job applied, so the job refuses
$target->safe_psql('postgres', qq{
	SELECT tributary.create_source('ml', 'mysql', '$rconn', '{"heartbeat_interval": 1, "reconnect_timeout": 1}');
});
cdc_job('l', 'ml', 'legacy', '"start_position": "replica-bin.000001:4", "restart-strategy.type": "none"');
is($target->safe_psql('postgres', q{SELECT tributary.wait_for_sync('l', '60 s')}), 't', 'another job syncs from the replica');

# stop_with_legacy_checkpoint: stop job l, and make its checkpoint look
# like one an earlier version wrote
sub stop_with_legacy_checkpoint
{
	$target->safe_psql('postgres', q{SELECT tributary.stop_job('l')});
	$target->poll_query_until('postgres', q{SELECT state = 'stopped' FROM tributary.jobs WHERE job_name = 'l'})
	  or die 'job l did not stop';
	$target->safe_psql('postgres', qq{
		UPDATE tributary.checkpoint SET cp_position = regexp_replace(cp_position, ' gtid .*', ' gtid $A:4,$B:3')
		 WHERE cp_job_id = (SELECT job_id FROM tributary.job WHERE job_name = 'l');
	});
}
stop_with_legacy_checkpoint();
like(checkpoint('l'), qr/^replica-bin\.000002:\d+ gtid $A:4,$B:3$/, 'a checkpoint as earlier versions wrote it');
($ckpt_off) = checkpoint('l') =~ /^replica-bin\.000002:(\d+)/;
my $before = grep { /^DUMP replica-bin\.000002:$ckpt_off flags=0$/ } $replica->log_lines;
$ndump = grep { /^DUMP_GTID / } $replica->log_lines;
$target->safe_psql('postgres', q{SELECT tributary.start_job('l')});
my $after = 0;
for (1 .. 600)
{
	last if ($after = grep { /^DUMP replica-bin\.000002:$ckpt_off flags=0$/ } $replica->log_lines) > $before;
	usleep(100_000);
}
ok($after > $before, 'on its own server the job resumes from it by file and offset');
is(scalar(grep { /^DUMP_GTID / } $replica->log_lines), $ndump, 'not by GTID');
is($target->safe_psql('postgres', q{SELECT tributary.wait_for_sync('l', '60 s')}), 't', 'and syncs');

my $other = FakeMySQL->new(name => 'other', server_id => 5, binlog => [
	[ 'other-bin.000001', [ { gtid => [ $A, 1 ], insert => [ [ 1, 'other' ] ] } ] ] ]);
stop_with_legacy_checkpoint();
my $oconn = $other->conninfo;
$target->safe_psql('postgres', qq{
	SELECT tributary.alter_source('ml', '$oconn');
	SELECT tributary.start_job('l');
});
ok($target->poll_query_until('postgres', q{SELECT state = 'failed' FROM tributary.jobs WHERE job_name = 'l'}),
	'on another server the job does not resume by GTID from it');
like($target->safe_psql('postgres', q{SELECT message || ' / ' || detail FROM tributary.errors WHERE job_name = 'l' ORDER BY at DESC LIMIT 1}),
	qr/source "ml" does not have the job's binlog position replica-bin\.000002:\d+ \/ The job's checkpoint lists only the last GTID of each server \($A:4,$B:3\)/,
	'it fails saying so, and why');
ok(!(grep { /^DUMP_GTID/ } $other->log_lines), 'nothing was sent by GTID');
$other->stop;

# a server that reports no binlog_checksum: an error of the job, not a
# crash of the worker inside Connector/C (which would restart the server)
my $log_at = -s $target->logfile;
my $nock = FakeMySQL->new(name => 'nock', server_id => 6, no_checksum => 1, binlog => [
	[ 'nock-bin.000001', [ { gtid => [ $A, 1 ], insert => [ [ 1, 'nock' ] ] } ] ] ]);
my $nconn = $nock->conninfo;
$target->safe_psql('postgres', qq{
	SELECT tributary.alter_source('ml', '$nconn');
	SELECT tributary.start_job('l');
});
ok($target->poll_query_until('postgres', q{SELECT EXISTS (SELECT FROM tributary.errors WHERE job_name = 'l' AND message LIKE '%reports no binlog_checksum%')}),
	'a server without binlog_checksum is the job\'s error');
ok(!$target->log_contains(qr/terminated by signal/, $log_at), 'and no process of the server died of a signal');
$nock->stop;

$replica->stop;
$target->stop;
done_testing();
