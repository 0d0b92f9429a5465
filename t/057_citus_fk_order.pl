# 057_citus_fk_order.pl -- review test: buffered strict inserts into a
# Citus target are written later (at the next change to the same target
# or at the local commit), while changes to other targets go at once.  A
# foreign key between two Citus tables (a distributed table referencing
# a reference table, enforced on the shards) then sees the child's change
# before the parent's insert: the source's order is lost.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use TributaryTest;

my ($coord, $w1, $w2) = citus_cluster();
my $source = source_node('source', 1);

my $ddl = q{
	CREATE TABLE public.kinds (code int PRIMARY KEY, label text);
	CREATE TABLE public.items (id int PRIMARY KEY, kind int REFERENCES public.kinds (code), note text);
};
$source->safe_psql('postgres', $ddl . q{
	ALTER TABLE public.kinds REPLICA IDENTITY FULL;
	ALTER TABLE public.items REPLICA IDENTITY FULL;
	INSERT INTO public.kinds VALUES (1, 'one');
	INSERT INTO public.items SELECT g, 1, 'item ' || g FROM generate_series(1, 100) g;
});
$coord->safe_psql('postgres', $ddl . q{
	SELECT create_reference_table('public.kinds');
	SELECT create_distributed_table('public.items', 'id');
});

note('triggers on the coordinator\'s tables: ' . $coord->safe_psql('postgres', q{SELECT string_agg(tgrelid::regclass || ' ' || tgname || ' ' || tgfoid::regproc, ', ' ORDER BY 1) FROM pg_trigger WHERE tgrelid IN ('public.items'::regclass, 'public.kinds'::regclass)}));
my $conn = pg_conninfo($source);
$coord->safe_psql('postgres', qq{
	SELECT tributary.create_source('pg', 'postgresql', '$conn');
	SELECT tributary.create_job('fk', 'pg', 'full+cdc');	-- restart-strategy none, the default
	SELECT tributary.add_table('fk', 'public.kinds');
	SELECT tributary.add_table('fk', 'public.items');
	SELECT tributary.start_job('fk');
});
is($coord->safe_psql('postgres', q{SELECT tributary.wait_for_sync('fk', '120 s')}), 't', 'the job copies both tables and syncs');
# past the catch-up window: a few transactions, then sync again
$source->safe_psql('postgres', q{UPDATE public.items SET note = note || '.' WHERE id = 100});
is($coord->safe_psql('postgres', q{SELECT tributary.wait_for_sync('fk', '60 s')}), 't', 'the job streams');

my $items = q{SELECT id, kind, note FROM public.items};
my $kinds = q{SELECT code, label FROM public.kinds};

# one source transaction: a new parent row (a strict insert, buffered),
# then a child row pointed at it (an update, written at once)
$source->safe_psql('postgres', q{
	BEGIN;
	INSERT INTO public.kinds VALUES (2, 'two');
	UPDATE public.items SET kind = 2 WHERE id = 1;
	COMMIT;
});
my ($rc, $synced, $werr) = (0, '', '');
$rc = $coord->psql('postgres', q{SELECT tributary.wait_for_sync('fk', '30 s')}, stdout => \$synced, stderr => \$werr);
note("wait_for_sync: $werr") if $werr;
my $state = $coord->safe_psql('postgres', q{SELECT state FROM tributary.jobs WHERE job_name = 'fk'});
my $errors = $coord->safe_psql('postgres', q{SELECT coalesce(string_agg(DISTINCT message, E'\n'), '') FROM tributary.errors WHERE job_name = 'fk'});
note("tributary.errors: $errors");
is($synced, 't', 'the job syncs a parent insert followed by a child update in one transaction');
is($errors, '', 'without errors');
is($state, 'running', 'and the job still runs');
is(digest($coord, $items), digest($source, $items), 'the distributed child equals the source');
is(digest($coord, $kinds), digest($source, $kinds), 'the reference parent equals the source');

done_testing();
