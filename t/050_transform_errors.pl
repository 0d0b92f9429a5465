# 050_transform_errors.pl -- found by review 9, kept as regression tests: expressions that fail
# under dirty_data skip, the row metadata functions after such a failure,
# a filter or key that uses tributary.source_op() (refused), and EXECUTE
# revoked from the owner after add_table.
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
	CREATE TABLE public.d (id int PRIMARY KEY, a int, b int);
	CREATE TABLE public.plain (id int PRIMARY KEY, v text);
	CREATE TABLE public.ops (id int PRIMARY KEY, v text);
	CREATE TABLE public.fn (id int PRIMARY KEY, v int);
	ALTER TABLE public.d REPLICA IDENTITY FULL;
	ALTER TABLE public.plain REPLICA IDENTITY FULL;
	ALTER TABLE public.ops REPLICA IDENTITY FULL;
	ALTER TABLE public.fn REPLICA IDENTITY FULL;
	INSERT INTO public.d VALUES (1, 10, 2);
	INSERT INTO public.ops VALUES (1, 'one');
	INSERT INTO public.fn VALUES (1, 1);
});
my $conn = pg_conninfo($source);
$target->safe_psql('postgres', qq{
	SELECT tributary.create_source('pg', 'postgresql', '$conn');
	CREATE SCHEMA z;
	CREATE TABLE z.plain (id int PRIMARY KEY, v text);
	CREATE TABLE z.audit (id int, meta text);
	CREATE FUNCTION z.audit() RETURNS trigger LANGUAGE plpgsql AS \$\$
	BEGIN INSERT INTO z.audit VALUES (NEW.id, coalesce(tributary.source_op(), '<null>') || '/' || coalesce(tributary.source_table(), '<null>')); RETURN NULL; END \$\$;
	CREATE TRIGGER audit AFTER INSERT ON z.plain FOR EACH ROW EXECUTE FUNCTION z.audit();
	ALTER TABLE z.plain ENABLE ALWAYS TRIGGER audit;
	SELECT tributary.create_job('e', 'pg', 'full+cdc', '{"target_schema": "z", "dirty_data": "skip"}');
	SELECT tributary.add_table('e', 'public.d', 'z.d', '{"id": "id", "r": "a / b"}');
	SELECT tributary.add_table('e', 'public.plain', 'z.plain');
	SELECT tributary.start_job('e');
});
is($target->safe_psql('postgres', q{SELECT tributary.wait_for_sync('e', '60 s')}), 't', 'e syncs');
$source->safe_psql('postgres', q{
	BEGIN;
	INSERT INTO public.d VALUES (2, 5, 0);
	INSERT INTO public.plain VALUES (1, 'after a failed expression');
	COMMIT;
	INSERT INTO public.d VALUES (3, 9, 3);
});
is($target->safe_psql('postgres', q{SELECT tributary.wait_for_sync('e', '60 s')}), 't', 'e syncs the stream');
is($target->safe_psql('postgres', q{SELECT string_agg(id || ' ' || r, ',' ORDER BY id) FROM z.d}), '1 5,3 3', 'the row whose expression fails is skipped');
is($target->safe_psql('postgres', q{SELECT string_agg(error, E'\n') FROM tributary.dirty_rows WHERE job_name = 'e'}), 'division by zero', 'and kept as a dirty row');
is($target->safe_psql('postgres', q{SELECT string_agg(id || ' ' || meta, ',') FROM z.audit}), '1 <null>/<null>',
	'a trigger of another table after the failed expression: the metadata functions say NULL');

# a filter on tributary.source_op() (or the commit time or position) is
# refused: an update's old row would be judged by the update's operation
$target->safe_psql('postgres', q{SELECT tributary.create_job('o', 'pg', 'full+cdc', '{"target_schema": "o"}')});
my ($r, $o, $ferr) = $target->psql('postgres', q{SELECT tributary.add_table('o', 'public.ops', 'o.ops', filter => $$tributary.source_op() <> 'c'$$)});
like($ferr, qr/filter calls tributary\.source_op\(\), source_commit_time\(\) or source_position\(\)/,
	'a filter on source_op() is refused at add_table');
($r, $o, $ferr) = $target->psql('postgres', q{SELECT tributary.add_table('o', 'public.ops', 'o.ops', filter => $$tributary.source_commit_time() > '2020-01-01'$$)});
like($ferr, qr/filter calls tributary\.source_op/, 'a filter on source_commit_time() too');
is($target->safe_psql('postgres', q{SELECT count(*) FROM tributary.tables WHERE job_name = 'o'}), '0', 'nothing added');
$target->safe_psql('postgres', q{CREATE SCHEMA o; CREATE TABLE o.keyed (op text, id int, v text, PRIMARY KEY (op, id))});
($r, $o, $ferr) = $target->psql('postgres', q{SELECT tributary.add_table('o', 'public.ops', 'o.keyed', '{"op": "tributary.source_op()", "id": "id", "v": "v"}')});
like($ferr, qr/target column "op" of o\.keyed is in its primary key and computed from the change's metadata/,
	'a key column computed from source_op() is refused');

# EXECUTE revoked from the owner after add_table
password_user($source, 'repl', 'pw');
my $pwconn = pg_conninfo($source, ' user=repl password=pw');
$target->safe_psql('postgres', qq{
	CREATE ROLE owner1 LOGIN IN ROLE tributary_admin;
	SET ROLE owner1;
	SELECT tributary.create_source('pgo', 'postgresql', '$pwconn');
	RESET ROLE;});
$target->safe_psql('postgres', q{
	CREATE SCHEMA ow AUTHORIZATION owner1;
	CREATE FUNCTION public.dbl(int) RETURNS int LANGUAGE plpgsql STABLE AS 'BEGIN RETURN $1 * 2; END';
	SET ROLE owner1;
	SELECT tributary.create_job('f', 'pgo', 'full+cdc', '{"target_schema": "ow"}');
	SELECT tributary.add_table('f', 'public.fn', 'ow.fn', '{"id": "id", "v2": "public.dbl(v)"}');
	RESET ROLE;
});
$target->safe_psql('postgres', q{SELECT tributary.start_job('f')});
is($target->safe_psql('postgres', q{SELECT tributary.wait_for_sync('f', '60 s')}), 't', 'f syncs');
$target->safe_psql('postgres', q{REVOKE EXECUTE ON FUNCTION public.dbl(int) FROM PUBLIC});
$source->safe_psql('postgres', q{INSERT INTO public.fn VALUES (2, 2)});
$target->poll_query_until('postgres', q{SELECT count(*) > 0 FROM tributary.errors WHERE job_name = 'f'})
  or diag('f: no error');
is($target->safe_psql('postgres', q{SELECT count(*) FROM ow.fn WHERE id = 2}), '0', 'revoked EXECUTE: the row is not written');
like($target->safe_psql('postgres', q{SELECT string_agg(message, E'\n') FROM tributary.errors WHERE job_name = 'f'}),
	qr/permission denied for function dbl/, 'revoked EXECUTE: the job fails with permission denied');
done_testing();
