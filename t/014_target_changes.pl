# 014_target_changes.pl -- the target changes under a streaming job: the
# relation map is rebuilt (relcache invalidation), so values arrive right
# or the job fails with a clear error, never with a signal or garbage.
#  - a target column's type changes (int -> text: values arrive as text;
#    text -> int: a source value the new type cannot take stops the job,
#    naming the column; after the fix the job resumes from its checkpoint)
#  - a mapped target column is dropped (the job stops, naming it), then
#    added back (the job resumes)
#  - a target that is not a table (a view) is refused clearly
#  - a dirty row of a binary stream keeps the row's values
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use TributaryTest;

my $source = source_node('source', 1);
$source->safe_psql('postgres', q{
	CREATE TABLE public.t (id int PRIMARY KEY, n int, s text, v int);
	ALTER TABLE public.t REPLICA IDENTITY FULL;
	INSERT INTO public.t SELECT g, g, 's' || g, g FROM generate_series(1, 100) g;
	CREATE TABLE public.d (id int PRIMARY KEY, n int, at timestamptz);
	ALTER TABLE public.d REPLICA IDENTITY FULL;
});

my $target = target_node('target');
my $src_conn = pg_conninfo($source);
$target->safe_psql('postgres', qq{
	SELECT tributary.create_source('src', 'postgresql', '$src_conn');
	SELECT tributary.create_job('j', 'src', 'full+cdc', '{"execution.checkpointing.interval": 100}');
	SELECT tributary.add_table('j', 'public.t');
	SELECT tributary.start_job('j');
});

sub streaming
{
	my ($msg) = @_;
	ok($target->poll_query_until('postgres',
			q{SELECT state = 'running' AND phase = 'streaming' FROM tributary.jobs WHERE job_name = 'j'}),
		"the job streams ($msg)");
}
sub synced
{
	my ($msg) = @_;
	is($target->safe_psql('postgres', q{SELECT tributary.wait_for_sync('j', '60 s')}), 't', "wait_for_sync ($msg)");
}
sub failed_with
{
	my ($re, $msg) = @_;
	ok($target->poll_query_until('postgres', q{SELECT state = 'failed' FROM tributary.jobs WHERE job_name = 'j'}),
		"the job fails ($msg)");
	like($target->safe_psql('postgres',
			q{SELECT sqlstate || ' ' || message || ' / ' || coalesce(context, '') FROM tributary.errors WHERE job_name = 'j' ORDER BY at DESC LIMIT 1}),
		$re, "... with a clear error ($msg)");
}
my $same = sub {
	my ($cols, $msg) = @_;
	is(digest($target, "SELECT $cols FROM public.t"), digest($source, "SELECT $cols FROM public.t"), $msg);
};

streaming('start');
is($target->safe_psql('postgres', q{SELECT decoder FROM tributary.jobs}), 'tributary_decoder', 'tributary_decoder');
ok($target->log_contains('with binary values'), 'the stream carries binary values');

# int -> text on the target: the int values of the stream arrive as text
$target->safe_psql('postgres', 'ALTER TABLE public.t ALTER COLUMN n TYPE text');
$source->safe_psql('postgres', q{UPDATE public.t SET n = n * 10 WHERE id <= 50; INSERT INTO public.t VALUES (101, 1010, 's101', 1)});
synced('n is text');
$same->('id, n::text, s, v', 'int values of the stream arrive in the column that became text');
is($target->safe_psql('postgres', 'SELECT n FROM public.t WHERE id = 7'), '70', 'a value checked directly');

# text -> int on the target: a source value int cannot take stops the job
$target->safe_psql('postgres', q{ALTER TABLE public.t ALTER COLUMN s TYPE int USING 0});
$source->safe_psql('postgres', q{UPDATE public.t SET s = 'not a number' WHERE id = 3});
failed_with(qr/22P02 invalid input syntax for type integer: .*column "s"/s,
	'a text value into the column that became int');
is($target->safe_psql('postgres', 'SELECT s FROM public.t WHERE id = 3'), '0', 'nothing was stored for it');
# the fix: the column takes text again, the job resumes from its checkpoint
$target->safe_psql('postgres', q{ALTER TABLE public.t ALTER COLUMN s TYPE text; UPDATE public.t t SET s = 's' || id});
$target->safe_psql('postgres', q{SELECT tributary.start_job('j')});
streaming('after the fix');
synced('after the fix');
$same->('id, n::text, s, v', 'the job converged after the target was fixed');

# a mapped column dropped on the target stops the job, naming it
$target->safe_psql('postgres', 'ALTER TABLE public.t DROP COLUMN v');
$source->safe_psql('postgres', q{UPDATE public.t SET v = v + 1 WHERE id = 9});
failed_with(qr/target table public.t has no column "v" any more/, 'a dropped mapped column');
# added back: the job resumes and the change that stopped it arrives
$target->safe_psql('postgres', 'ALTER TABLE public.t ADD COLUMN v int; UPDATE public.t SET v = 0');
$target->safe_psql('postgres', q{SELECT tributary.start_job('j')});
streaming('column added back');
synced('column added back');
is($target->safe_psql('postgres', 'SELECT v FROM public.t WHERE id = 9'), '10', 'the update that stopped the job arrived');
$source->safe_psql('postgres', q{UPDATE public.t SET v = id});
synced('v again');
$same->('id, n::text, s, v', 'all columns equal again');

# a target that is not a table is refused clearly (partitioned targets work: t/033)
$target->safe_psql('postgres', q{CREATE VIEW public.dv AS SELECT 1 AS id, 2 AS n, now() AS at});
my ($rc, $out, $err) = $target->psql('postgres', q{SELECT tributary.add_table('j', 'public.d', 'public.dv')});
like($err, qr/target public.dv is not a table/, 'a view as target is refused at add_table');

# dirty rows of a binary stream keep their values
$target->safe_psql('postgres', q{
	CREATE TABLE public.dd (id int PRIMARY KEY, n int CHECK (n < 1000), at timestamptz);
	SELECT tributary.create_job('dj', 'src', 'cdc', '{"dirty_data": "skip"}');
	SELECT tributary.add_table('dj', 'public.d', 'public.dd');
	SELECT tributary.start_job('dj');
});
ok($target->poll_query_until('postgres', q{SELECT phase = 'streaming' FROM tributary.jobs WHERE job_name = 'dj'}),
	'the dirty-data job streams');
$source->safe_psql('postgres', q{INSERT INTO public.d VALUES (1, 5, '2024-05-06 07:08:09+00'), (2, 5000, '2024-05-06 07:08:09+00'), (3, 7, NULL)});
is($target->safe_psql('postgres', q{SELECT tributary.wait_for_sync('dj', '60 s')}), 't', 'wait_for_sync (dirty job)');
is($target->safe_psql('postgres', q{SELECT string_agg(id::text, ',' ORDER BY id) FROM public.dd}), '1,3',
	'the row breaking the CHECK was skipped');
is($target->safe_psql('postgres', q{SET TimeZone = 'UTC'; SELECT row->>'id' || ' ' || (row->>'n') || ' ' || (row->>'at')::timestamptz FROM tributary.dirty_rows}),
	'2 5000 2024-05-06 07:08:09+00', 'the dirty row keeps the values the binary stream carried');

ok(!$target->log_contains('terminated by signal'), 'no process of the target died');
$target->stop;
$source->stop;
done_testing();
