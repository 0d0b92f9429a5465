# 013_pgoutput_types.pl -- pgoutput with user-defined types: the stream
# carries a TYPE message ('Y') before the RELATION of a table with an
# enum, domain, composite or range column (and one for arrays of them),
# which once crashed the server.  Both decoder = pgoutput and decoder =
# auto on a source that does not allow tributary_decoder, inserts, updates
# and deletes of every such column, an ORIGIN-tagged transaction, and a
# logical decoding message on the source: the target equals the source and
# no process died.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use TributaryTest;

my $types = q{
	CREATE TYPE public.mood AS ENUM ('sad', 'ok', 'happy');
	CREATE DOMAIN public.posint AS int CHECK (VALUE > 0);
	CREATE TYPE public.pair AS (a int, b text);
	CREATE TYPE public.floatrange AS RANGE (subtype = float8);
};

# the source does not list tributary_decoder: auto falls back to pgoutput
my $source = source_node('source', 0);
$source->safe_psql('postgres', $types . q{
	CREATE TABLE public.udt (id int PRIMARY KEY, m public.mood, p public.posint, c public.pair,
							 r public.floatrange, ma public.mood[], ir int4range);
	ALTER TABLE public.udt REPLICA IDENTITY FULL;
	INSERT INTO public.udt SELECT g, (ARRAY['sad', 'ok', 'happy']::public.mood[])[g % 3 + 1], g,
		ROW(g, 'p' || g)::public.pair, public.floatrange(g, g + 0.5), ARRAY['ok', 'sad']::public.mood[],
		int4range(g, g + 10)
	  FROM generate_series(1, 200) g;
});

my $target = target_node('target');
$target->safe_psql('postgres', $types);
my $src_conn = pg_conninfo($source);
$target->safe_psql('postgres', qq{
	SELECT tributary.create_source('src_auto', 'postgresql', '$src_conn');
	SELECT tributary.create_source('src_pgo', 'postgresql', '$src_conn', '{"decoder": "pgoutput"}');
	CREATE SCHEMA a; CREATE SCHEMA b;
	SELECT tributary.create_job('auto', 'src_auto', 'full+cdc', '{"target_schema": "a"}');
	SELECT tributary.add_table('auto', 'public.udt');
	SELECT tributary.create_job('pgo', 'src_pgo', 'cdc', '{"target_schema": "b"}');
	SELECT tributary.add_table('pgo', 'public.udt');
	SELECT tributary.start_job('auto');
	SELECT tributary.start_job('pgo');
});
ok($target->poll_query_until('postgres',
		q{SELECT count(*) = 2 FROM tributary.jobs WHERE phase = 'streaming'}),
	'both jobs stream');
is($target->safe_psql('postgres', q{SELECT string_agg(job_name || ' ' || decoder, ',' ORDER BY job_name) FROM tributary.jobs}),
	'auto pgoutput,pgo pgoutput', 'both use pgoutput');

# the cdc job starts empty: give it the snapshot's rows by hand
$target->safe_psql('postgres', q{INSERT INTO b.udt SELECT * FROM a.udt});

$source->safe_psql('postgres', q{
	INSERT INTO public.udt VALUES (1001, 'happy', 7, ROW(1, 'x y'), '[1.5,2.5)', '{happy}', '[1,2)');
	UPDATE public.udt SET m = 'sad', c = ROW((c).a + 1, (c).b || '!'), r = public.floatrange(0, 1) WHERE id % 7 = 0;
	UPDATE public.udt SET ma = ARRAY['happy', 'happy']::public.mood[], p = p + 1 WHERE id % 5 = 0;
	DELETE FROM public.udt WHERE id % 11 = 0;
	SELECT pg_logical_emit_message(true, 'someone.else', 'a message of another application');
	SELECT pg_replication_origin_create('elsewhere');
});
# a transaction replayed from another origin carries an ORIGIN message
$source->safe_psql('postgres', q{
	SELECT pg_replication_origin_session_setup('elsewhere');
	BEGIN;
	SELECT pg_replication_origin_xact_setup('0/1', now());
	INSERT INTO public.udt VALUES (1002, 'ok', 1, NULL, 'empty', '{}', NULL);
	COMMIT;
});

for my $job (qw(auto pgo))
{
	is($target->safe_psql('postgres', "SELECT tributary.wait_for_sync('$job', '120 s')"), 't', "$job: wait_for_sync");
	my $schema = $job eq 'auto' ? 'a' : 'b';
	is(digest($target, "SELECT * FROM $schema.udt"), digest($source, 'SELECT * FROM public.udt'),
		"$job: enum, domain, composite, range and array columns arrive exactly");
	is($target->safe_psql('postgres', "SELECT state FROM tributary.jobs WHERE job_name = '$job'"), 'running',
		"$job: still running");
}
ok(!$target->log_contains('terminated by signal'), 'no process of the target died');

$target->stop;
$source->stop;
done_testing();
