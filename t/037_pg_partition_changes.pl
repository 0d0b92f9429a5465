# 037_pg_partition_changes.pl -- partitions attached to, detached from or
# dropped from a partitioned PostgreSQL source table while a job streams it.
#
# None of these writes a change to the WAL: an attached table's earlier
# rows, and a detached or dropped partition's rows, would silently differ
# between source and target.  The job records the table's leaves in the
# view its copy reads and compares them with the source's while it
# streams (every heartbeat_interval, and at once for wait_for_sync); the
# job's ddl policy for attach_partition / detach_partition decides:
#   - error (default): the job stops with an errors row naming the table;
#   - apply: the table is copied again, the other tables go on;
#   - alert: an errors row (sqlstate 01000), the job goes on;
#   - ignore: the job goes on.
# A partition created as one (CREATE TABLE ... PARTITION OF) is no change:
# every row it holds arrives through the stream.  Also: a whole
# partitioned sub-tree attached, a partition detached and attached again
# (rows written while it was out), DROP of a partition, a cdc job (which
# records the leaves at its first check), and wait_for_sync, which does not
# report a job in sync before it has looked at the leaves.
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

# one partitioned table per job: m_<job>, range partitions by id
my @jobs = qw(err app alr ign cdc);
for my $j (@jobs)
{
	$source->safe_psql('postgres', qq{
		CREATE TABLE public.m_$j (id int PRIMARY KEY, v text) PARTITION BY RANGE (id);
		CREATE TABLE public.m_${j}_1 PARTITION OF public.m_$j FOR VALUES FROM (0) TO (100);
		CREATE TABLE public.m_${j}_2 PARTITION OF public.m_$j FOR VALUES FROM (100) TO (200);
		ALTER TABLE public.m_${j}_1 REPLICA IDENTITY FULL;
		ALTER TABLE public.m_${j}_2 REPLICA IDENTITY FULL;
		INSERT INTO public.m_$j SELECT g, 'v' || g FROM generate_series(1, 150) g;
		CREATE TABLE public.other_$j (id int PRIMARY KEY, v text);
		ALTER TABLE public.other_$j REPLICA IDENTITY FULL;
		INSERT INTO public.other_$j VALUES (1, 'one');
	});
}
my $conn = pg_conninfo($source);
$target->safe_psql('postgres', qq{
	SELECT tributary.create_source('src', 'postgresql', '$conn', '{"heartbeat_interval": 1}');
});
my %policy = (err => '', app => '"ddl": "apply", ', alr => '"ddl": "alert", ', ign => '"ddl": "ignore", ',
	cdc => '');
for my $j (@jobs)
{
	my $mode = $j eq 'cdc' ? 'cdc' : 'full+cdc';
	$target->safe_psql('postgres', qq{
		SELECT tributary.create_job('$j', 'src', '$mode',
			'{$policy{$j}"target_schema": "t_$j", "restart-strategy.type": "none"}');
		SELECT tributary.add_table('$j', 'public.m_$j');
		SELECT tributary.add_table('$j', 'public.other_$j');
	});
	$target->safe_psql('postgres', qq{SELECT tributary.start_job('$j')});
	is($target->safe_psql('postgres', qq{SELECT tributary.wait_for_sync('$j', '60 s')}), 't', "job $j syncs");
}

# the leaves the job recorded: how many
sub leaves
{
	my ($j) = @_;
	return $target->safe_psql('postgres', qq{
		SELECT coalesce(array_length(string_to_array(t.jt_source_parts, ','), 1), 0)
		  FROM tributary.job_table t JOIN tributary.job j ON j.job_id = t.jt_job_id
		 WHERE j.job_name = '$j' AND t.jt_source_rel = 'm_$j'});
}
sub compare
{
	my ($j, $when) = @_;
	is(digest($target, "SELECT * FROM t_$j.m_$j"), digest($source, "SELECT * FROM public.m_$j"),
		"job $j: the target equals the source $when");
}
for my $j (qw(err app alr ign))
{
	is(leaves($j), 2, "job $j recorded the 2 leaves its copy read");
	compare($j, 'after the copy');
}
is($target->safe_psql('postgres', q{
	SELECT t.jt_source_parts FROM tributary.job_table t WHERE t.jt_source_rel = 'other_err'}), '-',
	'a table that is not partitioned is recorded as such');
is(leaves('cdc'), 2, 'a cdc job records the leaves at its first check');

# a partition created as one is no change: its rows are streamed
for my $j (@jobs)
{
	$source->safe_psql('postgres', qq{
		CREATE TABLE public.m_${j}_3 PARTITION OF public.m_$j FOR VALUES FROM (200) TO (300);
		ALTER TABLE public.m_${j}_3 REPLICA IDENTITY FULL;
		INSERT INTO public.m_$j SELECT g, 'new ' || g FROM generate_series(200, 220) g;
		UPDATE public.m_$j SET v = 'moved' , id = id + 100 WHERE id BETWEEN 150 AND 160;
	});
	is($target->safe_psql('postgres', qq{SELECT tributary.wait_for_sync('$j', '60 s')}), 't',
		"job $j: a created partition is no change");
	is(leaves($j), 3, "job $j recorded the new leaf");
}
compare($_, 'with a created partition') for qw(err app alr ign);

# an existing table with rows, attached
for my $j (@jobs)
{
	$source->safe_psql('postgres', qq{
		CREATE TABLE public.m_${j}_4 (id int NOT NULL, v text);
		ALTER TABLE public.m_${j}_4 REPLICA IDENTITY FULL;
		INSERT INTO public.m_${j}_4 SELECT g, 'held before ' || g FROM generate_series(300, 310) g;
		ALTER TABLE public.m_$j ATTACH PARTITION public.m_${j}_4 FOR VALUES FROM (300) TO (400);
		INSERT INTO public.m_$j VALUES (311, 'after attach');
		INSERT INTO public.other_$j VALUES (2, 'two');
	});
}

# error: the job stops, naming the table, the partition and the kind
ok($target->poll_query_until('postgres', q{SELECT state = 'failed' FROM tributary.jobs WHERE job_name = 'err'}),
	'ddl error: the job stops at an attached partition');
my $err = $target->safe_psql('postgres', q{SELECT message || ' | ' || detail || ' | ' || sqlstate FROM tributary.errors
	WHERE job_name = 'err' ORDER BY at DESC LIMIT 1});
like($err, qr/^source table \[public\.m_err\] changed: table \[public\.m_err_4\] was attached as a partition after the job read the table; rows it held before were never changes the job could see \| The change \(attach_partition\) is at source position [0-9A-F]+\/[0-9A-F]+; the job's ddl policy for it is error\. \| 55000$/,
	'... with an error that says why: ' . $err);
my ($ret, $out, $stderr) = $target->psql('postgres', q{SELECT tributary.wait_for_sync('err', '5 s')});
like($stderr, qr/job "err" failed/, 'wait_for_sync says the job failed');

# the way out the hint gives: copy the table again
$target->safe_psql('postgres', q{SELECT tributary.resync_table('err', 'public.m_err'); SELECT tributary.start_job('err')});
is($target->safe_psql('postgres', q{SELECT tributary.wait_for_sync('err', '60 s')}), 't', 'after resync_table the job syncs');
compare('err', 'after resync_table');
is(leaves('err'), 4, 'and recorded the 4 leaves');

# apply: the table is copied again, the job runs on
is($target->safe_psql('postgres', q{SELECT tributary.wait_for_sync('app', '60 s')}), 't', 'ddl apply: the job syncs');
compare('app', 'after the attached partition was copied');
ok($target->log_contains(qr/job "app" copies source table \[public\.m_app\] again: table \[public\.m_app_4\] was attached/),
	'the log says the table is copied again, and why');
is($target->safe_psql('postgres', q{SELECT state FROM tributary.jobs WHERE job_name = 'app'}), 'running', 'the job runs');
is(digest($target, 'SELECT * FROM t_app.other_app'), digest($source, 'SELECT * FROM public.other_app'),
	'its other table goes on');

# alert and ignore: the job goes on, without the rows held before
for my $j (qw(alr ign))
{
	is($target->safe_psql('postgres', qq{SELECT tributary.wait_for_sync('$j', '60 s')}), 't', "ddl $j: the job goes on");
	is($target->safe_psql('postgres', qq{SELECT string_agg(id::text, ',' ORDER BY id) FROM t_$j.m_$j WHERE id >= 300}),
		'311', "ddl $j: the rows held before are not copied, those after are streamed");
	is(leaves($j), 4, "ddl $j: the new leaves are recorded");
}
like($target->safe_psql('postgres', q{SELECT sqlstate || ' ' || message FROM tributary.errors WHERE job_name = 'alr'}),
	qr/^01000 source table \[public\.m_alr\] changed: table \[public\.m_alr_4\] was attached/, 'alert leaves an errors row');
is($target->safe_psql('postgres', q{SELECT count(*) FROM tributary.errors WHERE job_name = 'ign'}), '0', 'ignore does not');

# a cdc job (default policy error) stops too; apply cannot copy for it
ok($target->poll_query_until('postgres', q{SELECT state = 'failed' FROM tributary.jobs WHERE job_name = 'cdc'}),
	'a cdc job stops at an attached partition');
$target->safe_psql('postgres', q{SELECT tributary.alter_job('cdc', '{"ddl": "apply"}')});
$source->safe_psql('postgres', q{
	CREATE TABLE public.m_cdc_5 (id int NOT NULL, v text);
	ALTER TABLE public.m_cdc_5 REPLICA IDENTITY FULL;
	ALTER TABLE public.m_cdc ATTACH PARTITION public.m_cdc_5 FOR VALUES FROM (400) TO (500);
});
$target->safe_psql('postgres', q{SELECT tributary.start_job('cdc')});
ok($target->poll_query_until('postgres', q{SELECT state = 'failed' FROM tributary.jobs WHERE job_name = 'cdc'}),
	'with ddl apply it stops as well');
like($target->safe_psql('postgres', q{SELECT message || ' | ' || detail FROM tributary.errors WHERE job_name = 'cdc' ORDER BY at DESC LIMIT 1}),
	qr/attached as a partition.*The job's ddl policy for attach_partition is apply, which pg_tributary can do for/,
	'... saying it cannot copy the table again');

# detach, and attach again after writing to it while it was out
$source->safe_psql('postgres', q{
	ALTER TABLE public.m_app DETACH PARTITION public.m_app_1;
	UPDATE public.m_app_1 SET v = 'changed while detached' WHERE id < 10;
	ALTER TABLE public.m_app ATTACH PARTITION public.m_app_1 FOR VALUES FROM (0) TO (100);
});
is($target->safe_psql('postgres', q{SELECT tributary.wait_for_sync('app', '60 s')}), 't', 'a partition detached and attached again');
compare('app', 'after a partition was detached, changed and attached again');

# a whole partitioned sub-tree, attached: its leaf was created as a
# partition, but of a table that was not part of m_app then
$source->safe_psql('postgres', q{
	CREATE TABLE public.m_app_sub (id int NOT NULL, v text) PARTITION BY RANGE (id);
	CREATE TABLE public.m_app_sub_a PARTITION OF public.m_app_sub FOR VALUES FROM (500) TO (600);
	ALTER TABLE public.m_app_sub_a REPLICA IDENTITY FULL;
	INSERT INTO public.m_app_sub VALUES (500, 'in the sub-tree before');
	ALTER TABLE public.m_app ATTACH PARTITION public.m_app_sub FOR VALUES FROM (500) TO (600);
});
is($target->safe_psql('postgres', q{SELECT tributary.wait_for_sync('app', '60 s')}), 't', 'a sub-tree attached');
compare('app', 'after a partitioned sub-tree was attached');

# detached and dropped partitions: their rows leave the source table
$source->safe_psql('postgres', q{ALTER TABLE public.m_app DETACH PARTITION public.m_app_2});
is($target->safe_psql('postgres', q{SELECT tributary.wait_for_sync('app', '60 s')}), 't', 'a partition detached');
compare('app', 'after a partition was detached');
$source->safe_psql('postgres', q{DROP TABLE public.m_app_3});
is($target->safe_psql('postgres', q{SELECT tributary.wait_for_sync('app', '60 s')}), 't', 'a partition dropped');
compare('app', 'after a partition was dropped');
ok($target->log_contains(qr/job "app" copies source table \[public\.m_app\] again: a partition \(OID \d+\) was detached or dropped/),
	'the log says why');

# under ddl error, a dropped partition stops the job
$source->safe_psql('postgres', q{DROP TABLE public.m_err_1});
ok($target->poll_query_until('postgres', q{SELECT state = 'failed' FROM tributary.jobs WHERE job_name = 'err'}),
	'ddl error: the job stops at a dropped partition');
like($target->safe_psql('postgres', q{SELECT message FROM tributary.errors WHERE job_name = 'err' ORDER BY at DESC LIMIT 1}),
	qr/^source table \[public\.m_err\] changed: a partition \(OID \d+\) was detached or dropped; the rows it held are still on the target$/,
	'... naming what happened');

# a source table dropped and created again under its name (no WAL record
# says so either): error stops the job, apply copies the table again,
# alert records a plain drop and goes on
$source->safe_psql('postgres', q{
	CREATE TABLE public.solo_e (id int PRIMARY KEY, v text);
	CREATE TABLE public.solo_a (id int PRIMARY KEY, v text);
	CREATE TABLE public.solo_l (id int PRIMARY KEY, v text);
	ALTER TABLE public.solo_e REPLICA IDENTITY FULL;
	ALTER TABLE public.solo_a REPLICA IDENTITY FULL;
	ALTER TABLE public.solo_l REPLICA IDENTITY FULL;
	INSERT INTO public.solo_e SELECT g, 'old ' || g FROM generate_series(1, 20) g;
	INSERT INTO public.solo_a SELECT g, 'old ' || g FROM generate_series(1, 20) g;
	INSERT INTO public.solo_l SELECT g, 'old ' || g FROM generate_series(1, 20) g;
});
for my $p (['solo_e', '{}'], ['solo_a', '{"drop_table": "apply"}'], ['solo_l', '{"drop_table": "alert"}'])
{
	my ($t, $ddl) = @$p;
	$target->safe_psql('postgres', qq{
		SELECT tributary.create_job('$t', 'src', 'full+cdc', '{"target_schema": "s_$t", "ddl": $ddl, "restart-strategy.type": "none"}');
		SELECT tributary.add_table('$t', 'public.$t');
		SELECT tributary.start_job('$t');
	});
	is($target->safe_psql('postgres', qq{SELECT tributary.wait_for_sync('$t', '60 s')}), 't', "job $t syncs");
}
$source->safe_psql('postgres', q{
	DROP TABLE public.solo_e; DROP TABLE public.solo_a; DROP TABLE public.solo_l;
	CREATE TABLE public.solo_e (id int PRIMARY KEY, v text);
	CREATE TABLE public.solo_a (id int PRIMARY KEY, v text);
	ALTER TABLE public.solo_e REPLICA IDENTITY FULL;
	ALTER TABLE public.solo_a REPLICA IDENTITY FULL;
	INSERT INTO public.solo_e SELECT g, 'new ' || g FROM generate_series(15, 30) g;
	INSERT INTO public.solo_a SELECT g, 'new ' || g FROM generate_series(15, 30) g;
});
ok($target->poll_query_until('postgres', q{SELECT state = 'failed' FROM tributary.jobs WHERE job_name = 'solo_e'}),
	'a table dropped and created again stops the job (ddl error)');
like($target->safe_psql('postgres', q{SELECT message FROM tributary.errors WHERE job_name = 'solo_e' ORDER BY at DESC LIMIT 1}),
	qr/^source table \[public\.solo_e\] changed: the table was dropped and created again under its name; the target holds the dropped table's rows$/,
	'... saying what happened');
# the way out the hint gives: copy it again; changes of the dropped table
# met again before the new copy's view are not the job's
$target->safe_psql('postgres', q{SELECT tributary.resync_table('solo_e', 'public.solo_e'); SELECT tributary.start_job('solo_e')});
$source->safe_psql('postgres', q{UPDATE public.solo_e SET v = 'after resync' WHERE id = 15});
is($target->safe_psql('postgres', q{SELECT tributary.wait_for_sync('solo_e', '60 s')}), 't', 'after resync_table the job syncs');
is(digest($target, 'SELECT * FROM s_solo_e.solo_e'), digest($source, 'SELECT * FROM public.solo_e'),
	'... and equals the table created again');
is($target->safe_psql('postgres', q{SELECT tributary.wait_for_sync('solo_a', '60 s')}), 't', 'ddl apply: the job syncs');
is(digest($target, 'SELECT * FROM s_solo_a.solo_a'), digest($source, 'SELECT * FROM public.solo_a'),
	'the table created again was copied again: the target equals it');
is($target->safe_psql('postgres', q{SELECT tributary.wait_for_sync('solo_l', '60 s')}), 't', 'ddl alert: the job goes on');
like($target->safe_psql('postgres', q{SELECT sqlstate || ' ' || message FROM tributary.errors WHERE job_name = 'solo_l'}),
	qr/^01000 source table \[public\.solo_l\] changed: the table was dropped or renamed; the target keeps its rows$/, 'a plain drop is recorded');
is($target->safe_psql('postgres', q{SELECT count(*) FROM s_solo_l.solo_l}), '20', 'and the target keeps its rows');

done_testing();
