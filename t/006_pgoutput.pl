# 006_pgoutput.pl -- a source that does not allow tributary_decoder
# (output_plugin_libraries left at its default): decoder auto falls back to
# pgoutput with a publication, and the same end-to-end checks hold.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use TributaryTest;

my $source = PostgreSQL::Test::Cluster->new('source');
$source->init(allows_streaming => 'logical');
$source->start;
$source->safe_psql('postgres', q{
	CREATE TABLE public.accounts (id int PRIMARY KEY, owner text, balance numeric(14,2), tags text[], doc text);
	ALTER TABLE public.accounts ALTER COLUMN doc SET STORAGE EXTERNAL;
	CREATE TABLE public.items (region text, id int, qty int, PRIMARY KEY (region, id));
	ALTER TABLE public.accounts REPLICA IDENTITY FULL;
	ALTER TABLE public.items REPLICA IDENTITY FULL;
	INSERT INTO public.accounts
	SELECT g, 'owner ' || g, g * 1.5, ARRAY['t' || g % 3],
	       CASE WHEN g % 500 = 0 THEN repeat(md5(g::text), 300) END
	  FROM generate_series(1, 10000) g;
	INSERT INTO public.items SELECT (ARRAY['eu', 'us'])[g % 2 + 1], g, g % 50 FROM generate_series(1, 3000) g;
});
is($source->safe_psql('postgres', 'SHOW output_plugin_libraries'), 'pgoutput, test_decoding',
	'the source does not list tributary_decoder');

my $target = target_node('target');
my $src_conn = pg_conninfo($source);
$target->safe_psql('postgres', qq{
	SELECT tributary.create_source('src', 'postgresql', '$src_conn');
	SELECT tributary.create_source('forced', 'postgresql', '$src_conn', '{"decoder": "tributary_decoder"}');
	SELECT tributary.create_job('sync', 'src', 'full+cdc', '{"snapshot_chunk_rows": 2000, "restart-strategy.type": "fixed-delay"}');
	SELECT tributary.add_table('sync', 'public.accounts');
	SELECT tributary.add_table('sync', 'public.items');
});

sub same_data
{
	my ($msg) = @_;
	for my $t (qw(accounts items))
	{
		is(digest($target, "SELECT * FROM public.$t"), digest($source, "SELECT * FROM public.$t"), "$msg: $t");
	}
}

sub sync
{
	is($target->safe_psql('postgres', "SELECT tributary.wait_for_sync('sync', '180 s')"), 't', 'wait_for_sync');
}

my $writer = start_writer($source, q{
		FOR i IN 1..1500 LOOP
			UPDATE public.accounts SET balance = balance + 1 WHERE id = (i * 7) % 10000 + 1;
			INSERT INTO public.accounts (id, owner) VALUES (50000 + i, 'new ' || i);
			DELETE FROM public.accounts WHERE id = (i * 13) % 10000 + 1;
			COMMIT;
		END LOOP;
});
$target->safe_psql('postgres', "SELECT tributary.start_job('sync')");
$writer->quit;
sync();
same_data('full+cdc through pgoutput under concurrent writes');
is($target->safe_psql('postgres', "SELECT decoder || ' ' || phase FROM tributary.jobs WHERE job_name = 'sync'"),
	'pgoutput streaming', 'decoder auto fell back to pgoutput');
my $slot = $target->safe_psql('postgres', "SELECT slot FROM tributary.jobs WHERE job_name = 'sync'");
is($source->safe_psql('postgres', "SELECT string_agg(schemaname || '.' || tablename, ',' ORDER BY tablename) FROM pg_publication_tables WHERE pubname = '$slot'"),
	'public.accounts,public.items', 'the job\'s publication holds its tables');

$source->safe_psql('postgres', q{
	UPDATE public.accounts SET id = 900000 WHERE id = 3;
	UPDATE public.items SET region = 'ap', id = id + 100000 WHERE id < 10;
	UPDATE public.accounts SET balance = 0 WHERE id % 500 = 0;     -- unchanged TOASTed doc
	UPDATE public.accounts SET doc = repeat('y', 20000) WHERE id = 1000;
	DELETE FROM public.items WHERE id BETWEEN 100 AND 200;
	INSERT INTO public.accounts (id, owner, tags) VALUES (-1, E'quote '' tab\t', '{}');
});
sync();
same_data('key changes, unchanged TOAST, deletes');

$source->safe_psql('postgres', 'TRUNCATE public.items');
$source->safe_psql('postgres', q{INSERT INTO public.items VALUES ('eu', 1, 1)});
sync();
same_data('truncate');

$writer = start_writer($source, q{
		FOR i IN 1..3000 LOOP
			INSERT INTO public.accounts (id, owner, balance) VALUES (300000 + i, 'k' || i, i);
			UPDATE public.accounts SET balance = balance * 2 WHERE id = 300000 + i / 2;
			COMMIT;
		END LOOP;
});
ok($target->poll_query_until('postgres', 'SELECT count(*) > 100 FROM public.accounts WHERE id > 300000'),
	'changes are being applied');
ok(crash_instance($target) > 0, 'kill -9 of the target during streaming');
$writer->quit;
sync();
same_data('exactly once after kill -9, through pgoutput');

# asking for tributary_decoder where the source does not allow it fails clearly
$target->safe_psql('postgres', q{
	SELECT tributary.create_job('forced_job', 'forced', 'cdc');
	SELECT tributary.add_table('forced_job', 'public.items', 'public.items_forced');
	SELECT tributary.start_job('forced_job');
});
ok($target->poll_query_until('postgres', "SELECT state = 'failed' FROM tributary.jobs WHERE job_name = 'forced_job'"),
	'decoder tributary_decoder on a source that refuses it fails the job');
like($target->safe_psql('postgres', "SELECT message FROM tributary.errors WHERE job_name = 'forced_job'"),
	qr/could not create a tributary_decoder slot on source "forced": .*may not be used as an output plugin/,
	'with the source\'s reason');

$target->safe_psql('postgres', "SELECT tributary.drop_job('sync')");
is($source->safe_psql('postgres', "SELECT (SELECT count(*) FROM pg_replication_slots) || ' ' || (SELECT count(*) FROM pg_publication)"),
	'0 0', 'drop_job drops the slot and the publication');

$target->stop;
$source->stop;
done_testing();
