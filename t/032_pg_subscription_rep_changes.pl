# 032_pg_subscription_rep_changes.pl -- a port of the table scenarios of
# PostgreSQL's own src/test/subscription/t/001_rep_changes.pl (issue 12),
# through tributary_decoder and pgoutput, into targets created beforehand
# as the original creates them:
#   - tab_notrep, not in the job: its target stays empty;
#   - tab_ins, published for inserts only (the original's publication
#     WITH (publish = insert)): the job option dml ignores its updates and
#     deletes, so the target keeps rows the source deleted;
#   - tab_rep: inserts, deletes, and an update of every key (a = -a);
#   - tab_mixed: the target has its columns in another order and a local
#     column with a default, which keeps its value;
#   - tab_include: a primary key with INCLUDE columns;
#   - tab_full_pk: REPLICA IDENTITY FULL with a primary key, updated and
#     deleted by other columns;
#   - a TRUNCATE of several tables in one statement, and a transaction
#     touching every table.
# The original's tables without a primary key (tab_full, tab_full2,
# tab_nothing) are refused by add_table, which the test checks instead of
# their replication: pg_tributary identifies rows by their key.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use TributaryTest;

my $source = source_node('publisher', 1);
my $target = target_node('subscriber');

$source->safe_psql('postgres', q{
	CREATE TABLE tab_notrep AS SELECT generate_series(1, 10) AS a;
	CREATE TABLE tab_ins AS SELECT generate_series(1, 1002) AS a;
	ALTER TABLE tab_ins ADD PRIMARY KEY (a);
	CREATE TABLE tab_full AS SELECT generate_series(1, 10) AS a;
	CREATE TABLE tab_rep (a int primary key);
	CREATE TABLE tab_mixed (a int primary key, b text, c numeric);
	INSERT INTO tab_mixed (a, b, c) VALUES (1, 'foo', 1.1);
	CREATE TABLE tab_include (a int, b text, CONSTRAINT covering PRIMARY KEY (a) INCLUDE (b));
	CREATE TABLE tab_full_pk (a int primary key, b text);
	ALTER TABLE tab_full_pk REPLICA IDENTITY FULL;
});
$source->safe_psql('postgres', "ALTER TABLE $_ REPLICA IDENTITY FULL")
  for qw(tab_ins tab_rep tab_mixed tab_include tab_full);

# the subscriber's structure, as the original creates it (in a schema per decoder)
my $conn = pg_conninfo($source);
$target->safe_psql('postgres', qq{
	SELECT tributary.create_source('pub', 'postgresql', '$conn');
	SELECT tributary.create_source('pub_pgo', 'postgresql', '$conn', '{"decoder": "pgoutput"}');
});
my %schema = (dec => 'a', pgo => 'b');
for my $job (sort keys %schema)
{
	my $s = $schema{$job};
	$target->safe_psql('postgres', qq{
		CREATE SCHEMA $s;
		CREATE TABLE $s.tab_notrep (a int);
		CREATE TABLE $s.tab_ins (a int primary key);
		CREATE TABLE $s.tab_rep (a int primary key);
		CREATE TABLE $s.tab_mixed (d text default 'local', c numeric, b text, a int primary key);
		CREATE TABLE $s.tab_include (a int, b text, CONSTRAINT covering PRIMARY KEY (a) INCLUDE (b));
		CREATE TABLE $s.tab_full_pk (a int primary key, b text);
	});
	my $src = $job eq 'dec' ? 'pub' : 'pub_pgo';
	$target->safe_psql('postgres', qq{
		SELECT tributary.create_job('$job', '$src', 'full+cdc',
			'{"target_schema": "$s", "dml": {"public.tab_ins": {"update": "ignore", "delete": "ignore"}}}');
		SELECT tributary.add_table('$job', 'public.' || t)
		  FROM unnest(ARRAY['tab_ins', 'tab_rep', 'tab_mixed', 'tab_include', 'tab_full_pk']) t;
		SELECT tributary.start_job('$job');
	});
}
my ($ret, $out, $err) = $target->psql('postgres', "SELECT tributary.add_table('dec', 'public.tab_full')");
like($err, qr/source table \[public\.tab_full\] do not contain any primary key/,
	'a table without a primary key (the original\'s tab_full) is refused');
is($target->safe_psql('postgres', q{SELECT string_agg(job_name || ' ' || decoder, ',' ORDER BY job_name) FROM tributary.jobs}),
	'dec tributary_decoder,pgo pgoutput', 'through both decoders');

# result: a query on each target, after both jobs synced
sub result
{
	my ($query) = @_;
	my @r;
	for my $job (sort keys %schema)
	{
		is($target->safe_psql('postgres', "SELECT tributary.wait_for_sync('$job', '60 s')"), 't', "$job syncs");
		(my $q = $query) =~ s/\bS\./$schema{$job}./g;
		push @r, $target->safe_psql('postgres', $q);
	}
	is($r[1], $r[0], 'both decoders give the same result');
	return $r[0];
}

is(result('SELECT count(*) FROM S.tab_notrep'), '0', 'check non-replicated table is empty on subscriber');
is(result('SELECT count(*) FROM S.tab_ins'), '1002', 'check initial data was copied to subscriber');

$source->safe_psql('postgres', q{
	INSERT INTO tab_ins SELECT generate_series(1003, 1052);
	DELETE FROM tab_ins WHERE a > 1020;
	UPDATE tab_ins SET a = -a WHERE a > 1010;
	INSERT INTO tab_rep SELECT generate_series(1, 50);
	DELETE FROM tab_rep WHERE a > 20;
	UPDATE tab_rep SET a = -a;
	INSERT INTO tab_mixed VALUES (2, 'bar', 2.2);
	INSERT INTO tab_full_pk VALUES (1, 'foo'), (2, 'baz');
	INSERT INTO tab_include SELECT generate_series(1, 50), 'x';
	DELETE FROM tab_include WHERE a > 20;
	UPDATE tab_include SET a = -a;
});
is(result('SELECT count(*), min(a), max(a) FROM S.tab_ins'), '1052|1|1052',
	'check replicated inserts on subscriber (updates and deletes ignored)');
is(result('SELECT count(*), min(a), max(a) FROM S.tab_rep'), '20|-20|-1', 'check replicated changes on subscriber');
is(result('SELECT * FROM S.tab_mixed ORDER BY a'), "local|1.1|foo|1\nlocal|2.2|bar|2",
	'check replicated changes with different column order');
is(result('SELECT count(*), min(a), max(a) FROM S.tab_include'), '20|-20|-1',
	'check replicated changes with primary key index with included columns');

# updates and deletes by other columns under REPLICA IDENTITY FULL
$source->safe_psql('postgres', q{
	UPDATE tab_full_pk SET b = 'bar' WHERE a = 1;
	UPDATE tab_full_pk SET b = NULL WHERE a = 2;
	UPDATE tab_mixed SET b = 'baz' WHERE a = 1;
	DELETE FROM tab_full_pk WHERE b IS NULL;
});
is(result('SELECT * FROM S.tab_full_pk ORDER BY a'), '1|bar', 'update works with REPLICA IDENTITY FULL and a primary key');
is(result('SELECT * FROM S.tab_mixed ORDER BY a'), "local|1.1|baz|1\nlocal|2.2|bar|2",
	'update works with different column order and subscriber local values');

# one transaction over every table, then a TRUNCATE of several
$source->safe_psql('postgres', q{
	BEGIN;
	INSERT INTO tab_rep VALUES (100);
	INSERT INTO tab_ins VALUES (5000);
	UPDATE tab_mixed SET c = c * 10;
	DELETE FROM tab_include WHERE a = -1;
	INSERT INTO tab_full_pk VALUES (3, 'three');
	COMMIT;
});
is(result('SELECT (SELECT count(*) FROM S.tab_rep) || \',\' || (SELECT count(*) FROM S.tab_ins) || \',\' || '
		  . '(SELECT sum(c) FROM S.tab_mixed) || \',\' || (SELECT count(*) FROM S.tab_include) || \',\' || (SELECT count(*) FROM S.tab_full_pk)'),
	'21,1053,33.0,19,2', 'a transaction over every table arrives whole');
$source->safe_psql('postgres', 'TRUNCATE tab_rep, tab_include, tab_full_pk');
is(result('SELECT (SELECT count(*) FROM S.tab_rep) + (SELECT count(*) FROM S.tab_include) + (SELECT count(*) FROM S.tab_full_pk)'),
	'0', 'a TRUNCATE of several tables empties their targets');
$source->safe_psql('postgres', 'INSERT INTO tab_rep VALUES (1), (2)');
is(result('SELECT count(*) FROM S.tab_rep'), '2', 'changes after the TRUNCATE arrive');

# dropping the jobs leaves no slot on the source
$target->safe_psql('postgres', "SELECT tributary.drop_job('$_')") for sort keys %schema;
is($source->safe_psql('postgres', 'SELECT count(*) FROM pg_replication_slots'), '0',
	'check replication slots were dropped on publisher');

done_testing();
