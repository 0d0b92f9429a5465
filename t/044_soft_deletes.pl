# 044_soft_deletes.pl -- soft deletes (issue 14 item 5): the job option
# dml {"delete": "mark:<column>"} keeps a row deleted on the source, its
# mark column set to the source's commit time; inserting the key again
# clears the mark; a TRUNCATE marks every row.  Per job and per table, on
# a PostgreSQL and a MariaDB source; what add_table refuses.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use TributaryTest;
use MariaDBNode;

my $source = source_node('source', 1);
my $target = target_node('target');
$source->safe_psql('postgres', q{
	CREATE TABLE public.acct (id int PRIMARY KEY, v text);
	CREATE TABLE public.plain (id int PRIMARY KEY, v text);
	CREATE TABLE public.flagged (id int PRIMARY KEY, v text);
	ALTER TABLE public.acct REPLICA IDENTITY FULL;
	ALTER TABLE public.plain REPLICA IDENTITY FULL;
	ALTER TABLE public.flagged REPLICA IDENTITY FULL;
	INSERT INTO public.acct SELECT g, 'a' || g FROM generate_series(1, 50) g;
	INSERT INTO public.plain SELECT g, 'p' || g FROM generate_series(1, 50) g;
	INSERT INTO public.flagged SELECT g, 'f' || g FROM generate_series(1, 20) g;
});
my $conn = pg_conninfo($source);
$target->safe_psql('postgres', qq{
	SELECT tributary.create_source('pg', 'postgresql', '$conn');
	CREATE SCHEMA soft;
	CREATE TABLE soft.flagged (id int PRIMARY KEY, v text, is_deleted boolean NOT NULL DEFAULT false);
	CREATE TABLE soft.badtype (id int PRIMARY KEY, v text, gone text);
});

# what is refused
my ($ret, $out, $err) = $target->psql('postgres', q{SELECT tributary.create_job('bad', 'pg', 'full+cdc', '{"dml": {"delete": "mark:"}}')});
like($err, qr/invalid value for job option "dml.delete": "mark:"/, 'mark without a column: refused');
like($err, qr/Expected apply, ignore or mark:<column>/, '... saying what is valid');
($ret, $out, $err) = $target->psql('postgres', q{SELECT tributary.create_job('bad', 'pg', 'full+cdc', '{"dml": {"insert": "mark:x"}}')});
like($err, qr/invalid value for job option "dml.insert"/, 'mark for inserts: refused');
$target->safe_psql('postgres', q{SELECT tributary.create_job('bt', 'pg', 'full+cdc', '{"dml": {"delete": "mark:gone"}}')});
($ret, $out, $err) = $target->psql('postgres', q{SELECT tributary.add_table('bt', 'public.plain', 'soft.badtype')});
like($err, qr/target table soft\.badtype has no column "gone" to mark deleted rows in/, 'a text mark column: refused');
($ret, $out, $err) = $target->psql('postgres', q{SELECT tributary.add_table('bt', 'public.plain', 'soft.plain2', '{"id": "id", "gone": "v"}')});
like($err, qr/target column "gone" of soft\.plain2 is mapped to the source, so it cannot mark deleted rows/, 'a mapped mark column: refused');

# the job: soft deletes for every table (deleted_at, created on the
# target), a boolean flag for one table, plain deletes for another
$target->safe_psql('postgres', q{
	SELECT tributary.create_job('sd', 'pg', 'full+cdc',
		'{"target_schema": "soft", "dml": {"delete": "mark:deleted_at", "public.plain": {"delete": "apply"},
		  "public.flagged": {"delete": "mark:is_deleted"}}}');
	SELECT tributary.add_table('sd', 'public.acct');
	SELECT tributary.add_table('sd', 'public.plain');
	SELECT tributary.add_table('sd', 'public.flagged');
	SELECT tributary.start_job('sd');
});
is($target->safe_psql('postgres', q{SELECT tributary.wait_for_sync('sd', '60 s')}), 't', 'the job syncs');
is($target->safe_psql('postgres', q{SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'soft.acct'::regclass AND attname = 'deleted_at'}),
	'timestamp with time zone', 'a created target gets the mark column');
is($target->safe_psql('postgres', q{SELECT count(*) FROM soft.acct WHERE deleted_at IS NULL}), '50', 'copied rows are not marked');

my $before = $source->safe_psql('postgres', q{SELECT clock_timestamp()});
$source->safe_psql('postgres', q{
	DELETE FROM public.acct WHERE id <= 10;
	DELETE FROM public.plain WHERE id <= 10;
	DELETE FROM public.flagged WHERE id <= 5;
	UPDATE public.acct SET v = v || '!' WHERE id BETWEEN 11 AND 15;
});
my $after = $source->safe_psql('postgres', q{SELECT clock_timestamp()});
is($target->safe_psql('postgres', q{SELECT tributary.wait_for_sync('sd', '60 s')}), 't', 'synced after deletes');
is($target->safe_psql('postgres', qq{SELECT count(*) FROM soft.acct WHERE id <= 10 AND deleted_at BETWEEN '$before' AND '$after'}),
	'10', 'deleted rows stay, marked with the source commit time');
is(digest($target, 'SELECT id, v FROM soft.acct WHERE deleted_at IS NULL'), digest($source, 'SELECT id, v FROM public.acct'),
	'the rows not marked equal the source');
is(digest($target, 'SELECT * FROM soft.plain'), digest($source, 'SELECT * FROM public.plain'),
	'a table with plain deletes (per-table option) deletes');
is($target->safe_psql('postgres', q{SELECT string_agg(id::text, ',' ORDER BY id) FROM soft.flagged WHERE is_deleted}),
	'1,2,3,4,5', 'a boolean mark column is set');

# the key inserted again: the mark is cleared, the new values arrive
$source->safe_psql('postgres', q{
	INSERT INTO public.acct VALUES (3, 'back'), (4, 'back too');
	INSERT INTO public.flagged VALUES (2, 'back');
	DELETE FROM public.acct WHERE id = 4;
});
is($target->safe_psql('postgres', q{SELECT tributary.wait_for_sync('sd', '60 s')}), 't', 'synced after inserts again');
is($target->safe_psql('postgres', q{SELECT string_agg(id || ' ' || v || ' ' || (deleted_at IS NOT NULL), ',' ORDER BY id) FROM soft.acct WHERE id IN (3, 4)}),
	'3 back false,4 back too true', 'an insert again clears the mark, a delete again sets it');
is($target->safe_psql('postgres', q{SELECT v || ' ' || is_deleted FROM soft.flagged WHERE id = 2}), 'back false', 'a boolean mark is cleared');
is(digest($target, 'SELECT id, v FROM soft.acct WHERE deleted_at IS NULL'), digest($source, 'SELECT id, v FROM public.acct'),
	'the rows not marked equal the source');

# a TRUNCATE marks every row
$source->safe_psql('postgres', q{TRUNCATE public.flagged});
is($target->safe_psql('postgres', q{SELECT tributary.wait_for_sync('sd', '60 s')}), 't', 'synced after a truncate');
is($target->safe_psql('postgres', q{SELECT count(*) || ' ' || count(*) FILTER (WHERE is_deleted) FROM soft.flagged}), '20 20',
	'a truncate marks every row, and keeps them');
is($target->safe_psql('postgres', q{SELECT state FROM tributary.jobs WHERE job_name = 'sd'}), 'running', 'the job runs');

# --- MariaDB
my $my = MariaDBNode->new('soft', 'binlog-row-metadata' => 'FULL');
$my->sql(q{
	CREATE DATABASE shop;
	USE shop;
	CREATE TABLE shop.orders (id INT PRIMARY KEY, note VARCHAR(20));
	INSERT INTO shop.orders SELECT seq, CONCAT('o', seq) FROM seq_1_to_30;
});
my $mconn = $my->conninfo(undef, 'root');
$target->safe_psql('postgres', qq{
	SELECT tributary.create_source('maria', 'mysql', '$mconn');
	SELECT tributary.create_job('msd', 'maria', 'full+cdc', '{"target_schema": "msoft", "dml": {"delete": "mark:deleted_at"}}');
	SELECT tributary.add_table('msd', 'shop.orders');
	SELECT tributary.start_job('msd');
});
is($target->safe_psql('postgres', q{SELECT tributary.wait_for_sync('msd', '60 s')}), 't', 'the MariaDB job syncs');
my $mbefore = $my->sql(q{SELECT UNIX_TIMESTAMP()});
$my->sql(q{USE shop; DELETE FROM shop.orders WHERE id IN (1, 2, 3); INSERT INTO shop.orders VALUES (2, 'again')});
my $mafter = $my->sql(q{SELECT UNIX_TIMESTAMP()});
is($target->safe_psql('postgres', q{SELECT tributary.wait_for_sync('msd', '60 s')}), 't', 'synced after deletes');
is($target->safe_psql('postgres', qq{SELECT string_agg(id || ' ' || note || ' ' || (deleted_at IS NOT NULL
		AND extract(epoch FROM deleted_at) BETWEEN $mbefore AND $mafter + 1), ',' ORDER BY id) FROM msoft.orders WHERE id <= 3}),
	'1 o1 true,2 again false,3 o3 true', 'MariaDB: deleted rows marked with the binlog commit time, an insert again clears it');
is($target->safe_psql('postgres', q{SELECT count(*) FROM msoft.orders WHERE deleted_at IS NULL}),
	$my->sql(q{SELECT COUNT(*) FROM shop.orders}), 'MariaDB: the rows not marked are the source rows');
is($target->safe_psql('postgres', q{SELECT count(*) FROM tributary.errors WHERE job_name IN ('sd', 'msd')}), '0', 'no errors');

$my->stop;
done_testing();
