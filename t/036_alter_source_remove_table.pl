# 036_alter_source_remove_table.pl -- changing a running job's source and
# tables (issue 13 item 4):
#   - remove_table on a running job: the table leaves the job (its target
#     dropped on request), the other tables stream on without a restart
#     of the job by the user;
#   - alter_source after a password rotation: the job's worker, retrying
#     its lost connection, picks the new password up at its next connect
#     and goes on exactly, without restart_job; options are merged;
#   - both refuse what they must: an unknown table, a conninfo that breaks
#     create_source's rules.
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
	CREATE TABLE public.a (id int PRIMARY KEY, v text);
	CREATE TABLE public.b (id int PRIMARY KEY, v text);
	ALTER TABLE public.a REPLICA IDENTITY FULL;
	ALTER TABLE public.b REPLICA IDENTITY FULL;
	INSERT INTO public.a SELECT g, 'a' || g FROM generate_series(1, 100) g;
	INSERT INTO public.b SELECT g, 'b' || g FROM generate_series(1, 100) g;
});
password_user($source, 'sync', 'first');
my $conn = pg_conninfo($source, ' user=sync password=first');
$target->safe_psql('postgres', qq{
	SELECT tributary.create_source('src', 'postgresql', '$conn', '{"reconnect_timeout": 300}');
	SELECT tributary.create_job('j', 'src', 'full+cdc', '{"target_schema": "t"}');
	SELECT tributary.add_table('j', 'public.a');
	SELECT tributary.add_table('j', 'public.b');
	SELECT tributary.start_job('j');
});
is($target->safe_psql('postgres', "SELECT tributary.wait_for_sync('j', '60 s')"), 't', 'the job syncs');

# remove_table on the running job, dropping the target
my ($ret, $out, $err) = $target->psql('postgres', "SELECT tributary.remove_table('j', 'public.nope')");
like($err, qr/source table \[public\.nope\] is not part of job "j"/, 'remove_table names an unknown table');
$target->safe_psql('postgres', "SELECT tributary.remove_table('j', 'public.b', true)");
$source->safe_psql('postgres', q{INSERT INTO public.a VALUES (101, 'after'); INSERT INTO public.b VALUES (101, 'after');
	UPDATE public.a SET v = v || '!' WHERE id <= 5;});
is($target->safe_psql('postgres', "SELECT tributary.wait_for_sync('j', '60 s')"), 't', 'the job syncs after remove_table');
is(digest($target, 'SELECT * FROM t.a'), digest($source, 'SELECT * FROM public.a'), 'the other table streams on');
is($target->safe_psql('postgres', q{SELECT to_regclass('t.b') IS NULL}), 't', 'the removed table\'s target was dropped');
is($target->safe_psql('postgres', q{SELECT string_agg(source_table, ',') FROM tributary.tables WHERE job_name = 'j'}),
	'public.a', 'tributary.tables no longer lists it');
is($target->safe_psql('postgres', q{SELECT state FROM tributary.jobs WHERE job_name = 'j'}), 'running', 'the job runs');

# alter_source: a conninfo that create_source would refuse is refused
($ret, $out, $err) = $target->psql('postgres', q{SELECT tributary.alter_source('src', 'host=/nonexistent dbname=postgres', NULL)});
is($ret, 0, 'a superuser may give its own source a conninfo without a password');
$target->safe_psql('postgres', qq{SELECT tributary.alter_source('src', '$conn', '{"heartbeat_interval": 2}')});
is($target->safe_psql('postgres', q{SELECT (options ->> 'heartbeat_interval') || ',' || (options ->> 'reconnect_timeout') FROM tributary.sources WHERE source_name = 'src'}),
	'2,300', 'options are merged into the source\'s');

# a password rotation: the walsender goes, the worker's reconnects fail,
# alter_source gives the new password, and the job goes on by itself
my $runs = $target->safe_psql('postgres', q{SELECT count(*) FROM tributary.runs WHERE job_name = 'j'});
$source->safe_psql('postgres', q{ALTER ROLE sync PASSWORD 'second';
	SELECT pg_terminate_backend(pid) FROM pg_stat_replication WHERE usename = 'sync'});
$source->safe_psql('postgres', q{INSERT INTO public.a VALUES (102, 'during the rotation')});
ok($target->poll_query_until('postgres', q{SELECT EXISTS (SELECT FROM tributary.jobs WHERE job_name = 'j' AND last_error LIKE '%password authentication failed%')}),
	'the worker retries and fails to authenticate with the old password');
(my $conn2 = $conn) =~ s/password=first/password=second/;
$target->safe_psql('postgres', qq{SELECT tributary.alter_source('src', '$conn2')});
$source->safe_psql('postgres', q{INSERT INTO public.a VALUES (103, 'after the rotation')});
is($target->safe_psql('postgres', "SELECT tributary.wait_for_sync('j', '120 s')"), 't', 'the job recovers with the new password');
is(digest($target, 'SELECT * FROM t.a'), digest($source, 'SELECT * FROM public.a'), '... exactly');
is($target->safe_psql('postgres', q{SELECT count(*) FROM tributary.runs WHERE job_name = 'j'}), $runs,
	'... in the same run, without restart_job');

done_testing();
