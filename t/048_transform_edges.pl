# 048_transform_edges.pl -- found by review 9, kept as regression tests: stream transforms on a
# PostgreSQL source: filter crossings, TOASTed values, a key computed by
# an expression, partitioned target, target with a trigger, soft deletes,
# strict (full+cdc) and idempotent (cdc) jobs.
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
	CREATE TABLE public.f (id int PRIMARY KEY, status text, qty int, note text);
	CREATE TABLE public.k (id int PRIMARY KEY, v text);
	CREATE TABLE public.p (id int PRIMARY KEY, region text, v text);
	CREATE TABLE public.tr (id int PRIMARY KEY, v text);
	CREATE TABLE public.sd (id int PRIMARY KEY, status text, v text);
	ALTER TABLE public.f REPLICA IDENTITY FULL;
	ALTER TABLE public.k REPLICA IDENTITY FULL;
	ALTER TABLE public.p REPLICA IDENTITY FULL;
	ALTER TABLE public.tr REPLICA IDENTITY FULL;
	ALTER TABLE public.sd REPLICA IDENTITY FULL;
	ALTER TABLE public.f ALTER COLUMN note SET STORAGE EXTERNAL;
	INSERT INTO public.f SELECT g, CASE WHEN g % 2 = 0 THEN 'a' ELSE 'b' END, g,
		CASE WHEN g <= 4 THEN (SELECT string_agg(md5(g::text || x::text), '') FROM generate_series(1, 400) x) ELSE 'n' || g END
	  FROM generate_series(1, 20) g;
	INSERT INTO public.k SELECT g, 'k' || g FROM generate_series(1, 10) g;
	INSERT INTO public.p SELECT g, CASE WHEN g % 2 = 0 THEN 'EU' ELSE 'US' END, 'p' || g FROM generate_series(1, 10) g;
	INSERT INTO public.tr SELECT g, 't' || g FROM generate_series(1, 5) g;
	INSERT INTO public.sd SELECT g, CASE WHEN g % 2 = 0 THEN 'a' ELSE 'b' END, 's' || g FROM generate_series(1, 10) g;
});
my $conn = pg_conninfo($source);
$target->safe_psql('postgres', qq{
	SELECT tributary.create_source('pg', 'postgresql', '$conn');
	CREATE SCHEMA x;
	CREATE SCHEMA y;
	CREATE TABLE x.k (kid int PRIMARY KEY, id int, v text);
	CREATE TABLE y.k (kid int PRIMARY KEY, id int, v text);
	CREATE TABLE x.p (id int, reg text, v text, PRIMARY KEY (id, reg)) PARTITION BY LIST (reg);
	CREATE TABLE x.p_eu PARTITION OF x.p FOR VALUES IN ('eu');
	CREATE TABLE x.p_us PARTITION OF x.p FOR VALUES IN ('us');
	CREATE TABLE y.p (id int, reg text, v text, PRIMARY KEY (id, reg)) PARTITION BY LIST (reg);
	CREATE TABLE y.p_eu PARTITION OF y.p FOR VALUES IN ('eu');
	CREATE TABLE y.p_us PARTITION OF y.p FOR VALUES IN ('us');
	CREATE TABLE x.tr (id int PRIMARY KEY, v text, vu text);
	CREATE TABLE x.audit (op text, id int, meta text);
	CREATE FUNCTION x.audit() RETURNS trigger LANGUAGE plpgsql AS \$\$
	BEGIN INSERT INTO x.audit VALUES (TG_OP, coalesce(NEW.id, OLD.id), coalesce(tributary.source_op(), '<null>') || '/' || coalesce(tributary.source_table(), '<null>')); RETURN NULL; END \$\$;
	CREATE TRIGGER audit AFTER INSERT OR UPDATE OR DELETE ON x.tr FOR EACH ROW EXECUTE FUNCTION x.audit();
	ALTER TABLE x.tr ENABLE ALWAYS TRIGGER audit;
	SELECT tributary.create_job('xs', 'pg', 'full+cdc', '{"target_schema": "x", "dml": {"public.sd": {"delete": "mark:deleted_at"}}}');
	SELECT tributary.add_table('xs', 'public.f', 'x.f', '{"id": "id", "status": "status", "q2": "qty * 2", "nlen": "length(note)", "nhead": "left(note, 3)"}', filter => \$\$status = 'a'\$\$);
	SELECT tributary.add_table('xs', 'public.k', 'x.k', '{"kid": "id + 1000", "id": "id", "v": "v"}');
	SELECT tributary.add_table('xs', 'public.p', 'x.p', '{"id": "id", "reg": "lower(region)", "v": "v"}', filter => 'v IS NOT NULL');
	SELECT tributary.add_table('xs', 'public.tr', 'x.tr', '{"id": "id", "v": "v", "vu": "upper(v)"}');
	SELECT tributary.add_table('xs', 'public.sd', 'x.sd', '{"id": "id", "status": "status", "v": "v"}', filter => \$\$status = 'a'\$\$);
	SELECT tributary.create_job('ys', 'pg', 'cdc', '{"target_schema": "y"}');
	SELECT tributary.add_table('ys', 'public.f', 'y.f', '{"id": "id", "status": "status", "q2": "qty * 2", "nlen": "length(note)", "nhead": "left(note, 3)"}', filter => \$\$status = 'a'\$\$);
	SELECT tributary.add_table('ys', 'public.k', 'y.k', '{"kid": "id + 1000", "id": "id", "v": "v"}');
	SELECT tributary.add_table('ys', 'public.p', 'y.p', '{"id": "id", "reg": "lower(region)", "v": "v"}', filter => 'v IS NOT NULL');
});
# the cdc job's targets start as the transforms of the source (a cdc job does not copy)
$target->safe_psql('postgres', q{
	INSERT INTO y.f (id, status, q2, nlen, nhead) SELECT g, 'a', g * 2,
		CASE WHEN g <= 4 THEN 12800 ELSE length('n' || g) END, CASE WHEN g <= 4 THEN left(md5(g::text || '1'), 3) ELSE left('n' || g, 3) END
	  FROM generate_series(2, 20, 2) g;
	INSERT INTO y.k (kid, id, v) SELECT g + 1000, g, 'k' || g FROM generate_series(1, 10) g;
	INSERT INTO y.p (id, reg, v) SELECT g, CASE WHEN g % 2 = 0 THEN 'eu' ELSE 'us' END, 'p' || g FROM generate_series(1, 10) g;
	SELECT tributary.start_job('xs');
	SELECT tributary.start_job('ys');
});
is($target->safe_psql('postgres', q{SELECT tributary.wait_for_sync('xs', '60 s')}), 't', 'xs syncs');
$target->poll_query_until('postgres', q{SELECT phase = 'streaming' FROM tributary.jobs WHERE job_name = 'ys'})
  or die 'ys does not stream';

my %exp = (
	f => [q{SELECT id, status, qty * 2 AS q2, length(note) AS nlen, left(note, 3) AS nhead FROM public.f WHERE status = 'a'},
		q{SELECT id, status, q2, nlen, nhead FROM %s.f}],
	k => [q{SELECT id + 1000, id, v FROM public.k}, q{SELECT kid, id, v FROM %s.k}],
	p => [q{SELECT id, lower(region), v FROM public.p WHERE v IS NOT NULL}, q{SELECT id, reg, v FROM %s.p}],
);
sub compare
{
	my ($label) = @_;
	for my $s ('x', 'y')
	{
		my $job = $s eq 'x' ? 'xs' : 'ys';
		is($target->safe_psql('postgres', "SELECT tributary.wait_for_sync('$job', '60 s')"), 't', "$label: $job in sync");
		for my $t (sort keys %exp)
		{
			is(digest($target, sprintf($exp{$t}[1], $s)), digest($source, $exp{$t}[0]), "$label: $s.$t equals the transformed source");
		}
	}
}
compare('snapshot');

$source->safe_psql('postgres', q{
	-- crossings of the filter, updates not touching the TOASTed note
	UPDATE public.f SET qty = qty + 100 WHERE id IN (1, 2, 3, 4);
	UPDATE public.f SET status = 'a' WHERE id IN (1, 5);
	UPDATE public.f SET status = 'b' WHERE id IN (2, 6);
	UPDATE public.f SET status = 'a', qty = 7 WHERE id = 3;
	UPDATE public.f SET qty = 8 WHERE id = 4;
	UPDATE public.f SET status = 'c' WHERE id = 7;
	INSERT INTO public.f VALUES (100, 'a', 1, 'x'), (101, 'b', 1, 'y');
	DELETE FROM public.f WHERE id IN (8, 9);
	UPDATE public.f SET id = id + 200 WHERE id IN (10, 11);
	-- key computed by an expression, moved
	UPDATE public.k SET id = id + 50 WHERE id IN (1, 2);
	UPDATE public.k SET v = 'changed' WHERE id = 3;
	DELETE FROM public.k WHERE id = 4;
	-- partitioned target, rows moving partitions and across the filter
	UPDATE public.p SET region = 'US' WHERE id = 2;
	UPDATE public.p SET region = 'EU', v = NULL WHERE id = 3;
	UPDATE public.p SET v = 'back' WHERE id = 3;
	UPDATE public.p SET v = NULL WHERE id = 5;
	UPDATE public.p SET id = 60, region = 'EU' WHERE id = 6;
	DELETE FROM public.p WHERE id = 7;
	-- triggers
	UPDATE public.tr SET v = 'T1' WHERE id = 1;
	INSERT INTO public.tr VALUES (9, 'nine');
	DELETE FROM public.tr WHERE id = 2;
	-- soft deletes with a filter
	UPDATE public.sd SET status = 'b' WHERE id = 2;
	UPDATE public.sd SET status = 'a' WHERE id = 1;
	DELETE FROM public.sd WHERE id = 4;
	UPDATE public.sd SET status = 'a' WHERE id = 2;
});
compare('stream');
is($target->safe_psql('postgres', q{SELECT string_agg(id || ' ' || v || ' ' || vu, ',' ORDER BY id) FROM x.tr}),
	$source->safe_psql('postgres', q{SELECT string_agg(id || ' ' || v || ' ' || upper(v), ',' ORDER BY id) FROM public.tr}),
	'target with a trigger: equals the transformed source');
is($target->safe_psql('postgres', q{SELECT string_agg(op || ' ' || id || ' ' || meta, ',' ORDER BY op, id) FROM x.audit}),
	'DELETE 2 <null>/<null>,INSERT 1 <null>/<null>,INSERT 2 <null>/<null>,INSERT 3 <null>/<null>,INSERT 4 <null>/<null>,INSERT 5 <null>/<null>,INSERT 9 <null>/<null>,UPDATE 1 <null>/<null>',
	'the trigger fired once per change and the metadata functions say NULL in it');
is($target->safe_psql('postgres', q{SELECT string_agg(id || ' ' || status || ' ' || (deleted_at IS NOT NULL), ',' ORDER BY id) FROM x.sd}),
	'1 a false,2 a false,4 a true,6 a false,8 a false,10 a false',
	'soft deletes with a filter: a row leaving the filter is marked, coming back is unmarked');
is($target->safe_psql('postgres', q{SELECT string_agg(job_name || ': ' || message, E'\n') FROM tributary.errors WHERE job_name IN ('xs', 'ys')}),
	'', 'no errors');
is($target->safe_psql('postgres', q{SELECT tributary.source_table() IS NULL AND tributary.source_op() IS NULL AND tributary.source_position() IS NULL}),
	't', 'a plain session: the metadata functions are NULL');

done_testing();
