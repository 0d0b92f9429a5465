# 059_citus_columns.pl -- review test: rows written through Citus's COPY
# destination (snapshot: tributary_engine_copy_from; stream: flush_direct)
# into targets whose descriptor differs from the source's: a dropped
# column ahead of the distribution column, columns in another order, an
# unmapped column with a default, a generated column.
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

$source->safe_psql('postgres', q{
	CREATE TABLE public.a (id int PRIMARY KEY, qty int, note text, ts timestamptz);
	CREATE TABLE public.g (id int PRIMARY KEY, qty int);
	ALTER TABLE public.a REPLICA IDENTITY FULL;
	ALTER TABLE public.g REPLICA IDENTITY FULL;
	INSERT INTO public.a SELECT i, i * 2, 'n' || i, '2020-01-01'::timestamptz + i * interval '1 s' FROM generate_series(1, 3000) i;
	INSERT INTO public.g SELECT i, i * 3 FROM generate_series(1, 3000) i;
});
$coord->safe_psql('postgres', q{
	CREATE TABLE public.a (gone1 int, note text, gone2 text, extra text DEFAULT 'dflt', ts timestamptz, qty int, id int PRIMARY KEY);
	ALTER TABLE public.a DROP COLUMN gone1, DROP COLUMN gone2;
	SELECT create_distributed_table('public.a', 'id');
	CREATE TABLE public.g (qty int, twice int GENERATED ALWAYS AS (qty * 2) STORED, id int PRIMARY KEY);
	SELECT create_distributed_table('public.g', 'id');
});
my $conn = pg_conninfo($source);
$coord->safe_psql('postgres', qq{
	SELECT tributary.create_source('pg', 'postgresql', '$conn');
	SELECT tributary.create_job('cols', 'pg', 'full+cdc', '{"snapshot_chunk_rows": 1000}');
	SELECT tributary.add_table('cols', 'public.a');
	SELECT tributary.add_table('cols', 'public.g');
	SELECT tributary.start_job('cols');
});
is($coord->safe_psql('postgres', q{SELECT tributary.wait_for_sync('cols', '120 s')}), 't', 'the job copies and syncs');
my $a = q{SELECT id, qty, note, ts FROM public.a};
my $g = q{SELECT id, qty FROM public.g};
is(digest($coord, $a), digest($source, $a), 'a: the snapshot equals the source');
is(digest($coord, $g), digest($source, $g), 'g: the snapshot equals the source');
is($coord->safe_psql('postgres', q{SELECT count(*) FROM public.a WHERE extra IS DISTINCT FROM 'dflt'}), '0', 'a: the unmapped column has its default after the snapshot');
is($coord->safe_psql('postgres', q{SELECT count(*) FROM public.g WHERE twice IS DISTINCT FROM qty * 2}), '0', 'g: the generated column is computed after the snapshot');

# past the catch-up window, then bulk transactions (buffered, through Citus's COPY destination)
$source->safe_psql('postgres', q{UPDATE public.a SET note = note || '.' WHERE id = 1});
is($coord->safe_psql('postgres', q{SELECT tributary.wait_for_sync('cols', '60 s')}), 't', 'the job streams');
$source->safe_psql('postgres', q{
	INSERT INTO public.a SELECT i, i * 2, 'n' || i, '2021-01-01'::timestamptz + i * interval '1 s' FROM generate_series(10001, 13000) i;
	INSERT INTO public.g SELECT i, i * 3 FROM generate_series(10001, 13000) i;
	INSERT INTO public.a SELECT i, NULL, NULL, NULL FROM generate_series(20001, 20020) i;
});
is($coord->safe_psql('postgres', q{SELECT tributary.wait_for_sync('cols', '60 s')}), 't', 'the job syncs the bulk inserts');
is(digest($coord, $a), digest($source, $a), 'a: equals the source after the stream');
is(digest($coord, $g), digest($source, $g), 'g: equals the source after the stream');
is($coord->safe_psql('postgres', q{SELECT count(*) FROM public.a WHERE extra IS DISTINCT FROM 'dflt'}), '0', 'a: the unmapped column has its default after the stream');
is($coord->safe_psql('postgres', q{SELECT count(*) FROM public.g WHERE twice IS DISTINCT FROM qty * 2}), '0', 'g: the generated column is computed after the stream');
is($coord->safe_psql('postgres', q{SELECT count(*) FROM tributary.errors WHERE job_name = 'cols'}), '0', 'no errors');
my $log = PostgreSQL::Test::Utils::slurp_file($coord->logfile);
my @fmt = $log =~ /copies source table \[public\.(\w)\] into \S+ in (\w+) format/g;
note("copy formats: @fmt");

done_testing();
