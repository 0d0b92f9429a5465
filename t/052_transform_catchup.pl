# 052_transform_catchup.pl -- found by review 9, kept as regression tests: a filtered, transformed
# table copied while a writer moves rows across the filter (catch-up,
# idempotent), and a second one added to the running job under the same
# writer (online copy, idempotent_until).
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
	CREATE TABLE public.a (id int PRIMARY KEY, status text, qty int);
	CREATE TABLE public.b (id int PRIMARY KEY, status text, qty int);
	ALTER TABLE public.a REPLICA IDENTITY FULL;
	ALTER TABLE public.b REPLICA IDENTITY FULL;
	INSERT INTO public.a SELECT g, CASE WHEN g % 3 = 0 THEN 'a' ELSE 'b' END, g FROM generate_series(1, 60000) g;
	INSERT INTO public.b SELECT g, CASE WHEN g % 3 = 0 THEN 'a' ELSE 'b' END, g FROM generate_series(1, 60000) g;
});
my $conn = pg_conninfo($source);
$target->safe_psql('postgres', qq{
	SELECT tributary.create_source('pg', 'postgresql', '$conn');
	SELECT tributary.create_job('c', 'pg', 'full+cdc', '{"target_schema": "c", "snapshot_chunk_rows": 5000}');
	SELECT tributary.add_table('c', 'public.a', 'c.a', '{"id": "id", "status": "status", "q": "qty * 10", "k": "id % 7"}', filter => \$\$status = 'a'\$\$);
});
my $body = q{
	FOR i IN 1..400 LOOP
		UPDATE public.a SET status = CASE WHEN status = 'a' THEN 'b' ELSE 'a' END, qty = qty + 1 WHERE id = (i * 7919) % 60000 + 1;
		UPDATE public.b SET status = CASE WHEN status = 'a' THEN 'b' ELSE 'a' END, qty = qty + 1 WHERE id = (i * 7919) % 60000 + 1;
		UPDATE public.a SET id = id + 100000 WHERE id = (i * 104729) % 60000 + 1;
		UPDATE public.b SET id = id + 100000 WHERE id = (i * 104729) % 60000 + 1;
		DELETE FROM public.a WHERE id = (i * 15485863) % 60000 + 1;
		DELETE FROM public.b WHERE id = (i * 15485863) % 60000 + 1;
		INSERT INTO public.a VALUES (200000 + i, CASE WHEN i % 2 = 0 THEN 'a' ELSE 'b' END, i) ON CONFLICT DO NOTHING;
		INSERT INTO public.b VALUES (200000 + i, CASE WHEN i % 2 = 0 THEN 'a' ELSE 'b' END, i) ON CONFLICT DO NOTHING;
		UPDATE public.a SET status = 'a' WHERE id = 200000 + i - 1;
		UPDATE public.b SET status = 'a' WHERE id = 200000 + i - 1;
		COMMIT;
		PERFORM pg_sleep(0.005);
	END LOOP;
};
my $writer = start_writer($source, $body);
$target->safe_psql('postgres', q{SELECT tributary.start_job('c')});
$target->poll_query_until('postgres', q{SELECT phase IN ('catchup', 'streaming') FROM tributary.jobs WHERE job_name = 'c'})
  or die 'no catch-up';
$target->safe_psql('postgres', q{SELECT tributary.add_table('c', 'public.b', 'c.b', '{"id": "id", "status": "status", "q": "qty * 10", "k": "id % 7"}', filter => $$status = 'a'$$)});
$writer->quit;
$source->safe_psql('postgres', q{UPDATE public.a SET qty = qty + 1 WHERE id = 3; UPDATE public.b SET qty = qty + 1 WHERE id = 3;});
for my $t ('a', 'b')
{
	$target->poll_query_until('postgres', qq{SELECT count(*) > 0 FROM c.$t WHERE id = 3 AND q = 40}) or diag("$t: the last update did not arrive");
	is($target->safe_psql('postgres', q{SELECT tributary.wait_for_sync('c', '60 s')}), 't', "$t: in sync");
	is(digest($target, "SELECT id, status, q, k FROM c.$t"),
		digest($source, "SELECT id, status, qty * 10, id % 7 FROM public.$t WHERE status = 'a'"),
		"$t: the target is the filtered, transformed source");
}
is($target->safe_psql('postgres', q{SELECT coalesce(string_agg(message, E'\n'), '') FROM tributary.errors WHERE job_name = 'c'}), '', 'no errors');
done_testing();
