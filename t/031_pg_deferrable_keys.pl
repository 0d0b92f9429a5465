# 031_pg_deferrable_keys.pl -- DEFERRABLE primary keys (issue 12 item 9),
# through tributary_decoder and pgoutput.
#
# A key swap (UPDATE t SET id = 3 - id) or shift (UPDATE t SET id = id + 1)
# is valid on a source whose primary key is DEFERRABLE, and arrives as one
# update per row: after the first one the target holds a key twice.  An
# auto-created target dropped DEFERRABLE, so the job failed on the
# duplicate; a target created with a DEFERRABLE key was reported as having
# no primary key.  Now auto-created targets keep DEFERRABLE (and INITIALLY
# DEFERRED), a target's DEFERRABLE key is its key, and a change finds the
# row equal to its whole old image among the rows holding its key.
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
	CREATE TABLE public.dk (id int PRIMARY KEY DEFERRABLE, v text);
	CREATE TABLE public.dd (id int, k2 text, v text, CONSTRAINT dd_pk PRIMARY KEY (id, k2) DEFERRABLE INITIALLY DEFERRED);
	CREATE TABLE public.pre (id int PRIMARY KEY DEFERRABLE, v text);
	ALTER TABLE public.dk REPLICA IDENTITY FULL;
	ALTER TABLE public.dd REPLICA IDENTITY FULL;
	ALTER TABLE public.pre REPLICA IDENTITY FULL;
	INSERT INTO public.dk SELECT g, 'v' || g FROM generate_series(1, 100) g;
	INSERT INTO public.dd SELECT g, 'k', 'v' || g FROM generate_series(1, 100) g;
	INSERT INTO public.pre SELECT g, 'v' || g FROM generate_series(1, 100) g;
});
my $conn = pg_conninfo($source);
$target->safe_psql('postgres', qq{
	SELECT tributary.create_source('src', 'postgresql', '$conn');
	SELECT tributary.create_source('src_pgo', 'postgresql', '$conn', '{"decoder": "pgoutput"}');
	CREATE SCHEMA a; CREATE SCHEMA b;
	-- targets created by the user with a DEFERRABLE key
	CREATE TABLE a.pre (id int PRIMARY KEY DEFERRABLE, v text);
	CREATE TABLE b.pre (id int PRIMARY KEY DEFERRABLE INITIALLY DEFERRED, v text);
});
for my $j (['dec', 'src', 'a'], ['pgo', 'src_pgo', 'b'])
{
	my ($job, $src, $schema) = @$j;
	$target->safe_psql('postgres', qq{
		SELECT tributary.create_job('$job', '$src', 'full+cdc', '{"target_schema": "$schema"}');
		SELECT tributary.add_table('$job', 'public.dk');
		SELECT tributary.add_table('$job', 'public.dd');
		SELECT tributary.add_table('$job', 'public.pre');
		SELECT tributary.start_job('$job');
	});
}
is($target->safe_psql('postgres', q{
	SELECT string_agg(c.conrelid::regclass || ' ' || c.condeferrable || ' ' || c.condeferred, ', ' ORDER BY c.conrelid::regclass::text)
	  FROM pg_constraint c WHERE c.contype = 'p' AND c.connamespace IN ('a'::regnamespace, 'b'::regnamespace)}),
	'a.dd true true, a.dk true false, a.pre true false, b.dd true true, b.dk true false, b.pre true true',
	'auto-created targets keep DEFERRABLE and INITIALLY DEFERRED');

# compare: every table equal on source and both targets
sub compare
{
	my ($when) = @_;
	for my $job ('dec', 'pgo')
	{
		is($target->safe_psql('postgres', "SELECT tributary.wait_for_sync('$job', '60 s')"), 't', "$job syncs $when");
	}
	for my $t ('dk', 'dd', 'pre')
	{
		my $want = digest($source, "SELECT * FROM public.$t");
		is(digest($target, "SELECT * FROM $_.$t"), $want, "$t ($_) equals the source $when") for ('a', 'b');
	}
}
compare('after the snapshot');
is($target->safe_psql('postgres', q{SELECT string_agg(job_name || ' ' || decoder, ',' ORDER BY job_name) FROM tributary.jobs}),
	'dec tributary_decoder,pgo pgoutput', 'through both decoders');

# key swaps and shifts, valid only because the keys are deferrable
$source->safe_psql('postgres', q{
	UPDATE public.dk SET id = 3 - id WHERE id IN (1, 2);
	UPDATE public.dk SET id = id + 1;
	UPDATE public.pre SET id = 101 - id;
	BEGIN;
	UPDATE public.dd SET id = id + 1;
	UPDATE public.dd SET id = 0 WHERE id = 101;
	COMMIT;
	-- rows equal but for their key: either one may take the other's key
	INSERT INTO public.dk VALUES (500, 'same'), (501, 'same');
	UPDATE public.dk SET id = 1001 - id WHERE id IN (500, 501);
	DELETE FROM public.dk WHERE id = 501;
});
compare('after key swaps and shifts');

# the target puts the moved row before the one that still holds its key
# (free space a VACUUM made at the start of the table): the index returns
# it first, and only the whole old image tells the two apart
$source->safe_psql('postgres', 'DELETE FROM public.pre WHERE id <= 50');
compare('after deletes');
$target->safe_psql('postgres', 'VACUUM a.pre; VACUUM b.pre');
$source->safe_psql('postgres', 'UPDATE public.pre SET id = 151 - id WHERE id IN (75, 76)');
compare('after a swap into free space');
is($source->safe_psql('postgres', q{SELECT min(id) || ' ' || max(id) FROM public.dk WHERE id < 500}), '2 101',
	'the source shifted every key');

# and after a restart of the workers, from their checkpoints
$target->safe_psql('postgres', "SELECT tributary.restart_job('dec'); SELECT tributary.restart_job('pgo')");
$source->safe_psql('postgres', q{UPDATE public.pre SET id = id + 1000; UPDATE public.dk SET id = -id;});
compare('after a restart');

done_testing();
