# 022_pg_real_schemas.pl -- PostgreSQL source schemas as users have them
# (issue 12, first groups), each compared by digest after the snapshot and
# after streamed changes, through tributary_decoder and pgoutput:
#   - source sessions with other defaults (DateStyle 'SQL, DMY',
#     IntervalStyle sql_standard, extra_float_digits 0, another TimeZone)
#     on the text paths (a table with an enum column copies and streams as
#     text): every value arrives as it is;
#   - a LATIN1 source database into this UTF8 one: text converted on every
#     path (COPY text and binary, both decoders' text and binary values);
#   - an inheritance parent: its own rows only (ONLY), children ignored;
#   - a primary key with INCLUDE columns: only the key columns are the key;
#     an auto-created target keeps the source's NOT NULL columns, column
#     collations, defaults (not one using a sequence), validated CHECK
#     constraints and indexes (expression, partial, INCLUDE, hash; not one
#     with a non-default operator class);
#   - targets with foreign keys between the job's tables: snapshots empty
#     a referenced target by DELETE (as a replica, the constraint does not
#     fire); a referencing table outside the job is refused by name;
#   - user-defined types (enum, domain with NOT NULL and CHECK, range,
#     composite, arrays of them) on auto-created targets: created from the
#     source's definitions in a schema of the same name;
#   - generated columns: created as generated (never written), or left to
#     a target created with them;
#   - aclitem[], int2vector and oidvector (empty ones too), whose binary
#     I/O does not round-trip: copied and streamed as text;
#   - unlogged and temporary source tables: refused for change capture,
#     with the reason.
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

my $types = q{CREATE TYPE public.mood AS ENUM ('sad', 'ok', 'happy');};
my $tables = q{
	CREATE TABLE public.styles (id int PRIMARY KEY, d date, iv interval, f float8, ts timestamptz,
								t time, m public.mood);
	CREATE TABLE public.parent (id int PRIMARY KEY, v text);
	CREATE TABLE public.inc (id int, name text NOT NULL, loc point, PRIMARY KEY (id) INCLUDE (name, loc));
	CREATE TABLE public.sys (id int PRIMARY KEY, acl aclitem[], iv int2vector, ov oidvector, n int);
	CREATE TABLE public.gen (id int PRIMARY KEY, qty int, price numeric,
							 total numeric GENERATED ALWAYS AS (qty * price) STORED);
	CREATE TABLE public.gen2 (LIKE public.gen INCLUDING ALL);
	CREATE SCHEMA udt;
	CREATE TYPE udt.color AS ENUM ('red', 'green', 'it''s blue');
	CREATE DOMAIN udt.posint AS int NOT NULL CHECK (VALUE > 0);
	CREATE TYPE udt.span AS RANGE (subtype = float8);
	CREATE TYPE udt.item AS (name varchar(20), qty int, c udt.color);
	CREATE TABLE public.uses (id int PRIMARY KEY, c udt.color, p udt.posint, s udt.span, i udt.item,
							  cs udt.color[], n numeric(6,2));
	CREATE TABLE public.cc (id int PRIMARY KEY, qty int DEFAULT 7 CHECK (qty >= 0), name text COLLATE "C",
						   code varchar(5) COLLATE "POSIX", CONSTRAINT cc_name CHECK (length(name) < 10),
						   at timestamptz DEFAULT now(), n serial);
	CREATE UNIQUE INDEX cc_code ON public.cc (code, qty);
	CREATE INDEX cc_name_idx ON public.cc (name);
	CREATE INDEX cc_expr ON public.cc (lower(name));
	CREATE INDEX cc_partial ON public.cc (qty) WHERE qty > 100;
	CREATE UNIQUE INDEX cc_inc ON public.cc (id) INCLUDE (name);
	CREATE INDEX cc_hash ON public.cc USING hash (code);
	CREATE INDEX cc_pattern ON public.cc (name text_pattern_ops);
	CREATE TABLE public.fk_parent (id int PRIMARY KEY, v text);
	CREATE TABLE public.fk_child (id int PRIMARY KEY, parent_id int REFERENCES public.fk_parent, v text);
};
$source->safe_psql('postgres', $types . $tables . q{
	CREATE TABLE public.child (extra int) INHERITS (public.parent);
	CREATE UNLOGGED TABLE public.ul (id int PRIMARY KEY);
	ALTER TABLE public.styles REPLICA IDENTITY FULL;
	ALTER TABLE public.parent REPLICA IDENTITY FULL;
	ALTER TABLE public.inc REPLICA IDENTITY FULL;
	ALTER TABLE public.sys REPLICA IDENTITY FULL;
	ALTER TABLE public.gen REPLICA IDENTITY FULL;
	ALTER TABLE public.gen2 REPLICA IDENTITY FULL;
	ALTER TABLE public.uses REPLICA IDENTITY FULL;
	INSERT INTO public.uses VALUES (1, 'red', 1, '[1.5,2.5)', ROW('a', 1, 'green'), '{red,"it''s blue"}', 1.25),
		(2, 'it''s blue', 7, 'empty', ROW(NULL, NULL, NULL), '{}', NULL);
	ALTER TABLE public.cc REPLICA IDENTITY FULL;
	INSERT INTO public.cc VALUES (1, 0, 'b', 'x'), (2, 5, 'A', 'y');
	ALTER TABLE public.fk_parent REPLICA IDENTITY FULL;
	ALTER TABLE public.fk_child REPLICA IDENTITY FULL;
	INSERT INTO public.fk_parent SELECT g, 'p' || g FROM generate_series(1, 10) g;
	INSERT INTO public.fk_child SELECT g, g % 10 + 1, 'c' || g FROM generate_series(1, 30) g;
	INSERT INTO public.gen (id, qty, price) VALUES (1, 2, 1.5), (2, 3, 2.25);
	INSERT INTO public.gen2 (id, qty, price) VALUES (1, 2, 1.5), (2, 3, 2.25);
	INSERT INTO public.sys VALUES (1, '{postgres=arwdDxt/postgres,=r/postgres}', '', '', 1),
		(2, '{}', '1 2 3', '23 25', 2), (3, NULL, '-1', '4294967295', 3);
	INSERT INTO public.styles VALUES
		(1, '2024-03-05', '-1 days -02:03:04', 0.1::float8 + 0.2, '2024-03-05 12:34:56.789+00', '23:59:59.5', 'ok'),
		(2, '2024-03-25', '1 year 2 mons -3 days 04:05:06', 1e-300, '1999-12-31 23:00:00-05', '00:00:01', 'sad');
	INSERT INTO public.parent VALUES (1, 'p1'), (2, 'p2');
	INSERT INTO public.child VALUES (3, 'c3', 3), (4, 'c4', 4), (5, 'c5', 5);
	INSERT INTO public.inc SELECT g, 'n' || g, point(g, -g) FROM generate_series(1, 50) g;
	CREATE DATABASE latin WITH ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0;
});
$source->safe_psql('latin', $types . q{
	CREATE TABLE public.lt (id int PRIMARY KEY, s text, m public.mood);
	CREATE TABLE public.lb (id int PRIMARY KEY, s text);
	ALTER TABLE public.lt REPLICA IDENTITY FULL;
	ALTER TABLE public.lb REPLICA IDENTITY FULL;
});
# the rows with non-ASCII characters, written in UTF8 by this client
$source->safe_psql('latin', q{
	SET client_encoding = 'UTF8';
	INSERT INTO public.lt VALUES (1, 'café', 'ok'), (2, 'Ærøskøbing', 'happy');
	INSERT INTO public.lb VALUES (1, 'café'), (2, 'Ærøskøbing');
});
# every new session of the source database gets other defaults
$source->safe_psql('postgres', q{
	ALTER DATABASE postgres SET DateStyle = 'SQL, DMY';
	ALTER DATABASE postgres SET IntervalStyle = 'sql_standard';
	ALTER DATABASE postgres SET extra_float_digits = 0;
	ALTER DATABASE postgres SET TimeZone = 'Asia/Kolkata';
	ALTER DATABASE latin SET DateStyle = 'SQL, DMY';
});

$target->safe_psql('postgres', $types);
my $conn = pg_conninfo($source);
(my $latin = $conn) =~ s/dbname=postgres/dbname=latin/;
$target->safe_psql('postgres', qq{
	SELECT tributary.create_source('src', 'postgresql', '$conn');
	SELECT tributary.create_source('src_pgo', 'postgresql', '$conn', '{"decoder": "pgoutput"}');
	SELECT tributary.create_source('latin', 'postgresql', '$latin');
	SELECT tributary.create_source('latin_pgo', 'postgresql', '$latin', '{"decoder": "pgoutput"}');
	CREATE SCHEMA a; CREATE SCHEMA b; CREATE SCHEMA la; CREATE SCHEMA lb;
	CREATE TABLE a.styles (id int PRIMARY KEY, d date, iv interval, f float8, ts timestamptz, t time, m public.mood);
	CREATE TABLE b.styles (LIKE a.styles INCLUDING ALL);
	CREATE TABLE a.gen2 (id int PRIMARY KEY, qty int, price numeric, total numeric GENERATED ALWAYS AS (qty * price) STORED);
	CREATE TABLE b.gen2 (LIKE a.gen2 INCLUDING ALL);
	-- targets with the source's foreign key: the parent cannot be truncated alone
	CREATE TABLE a.fk_parent (id int PRIMARY KEY, v text);
	CREATE TABLE a.fk_child (id int PRIMARY KEY, parent_id int REFERENCES a.fk_parent, v text);
	CREATE TABLE b.fk_parent (id int PRIMARY KEY, v text);
	CREATE TABLE b.fk_child (id int PRIMARY KEY, parent_id int REFERENCES b.fk_parent, v text);
	INSERT INTO a.fk_parent VALUES (99, 'stale'); INSERT INTO a.fk_child VALUES (99, 99, 'stale');
	CREATE TABLE la.lt (id int PRIMARY KEY, s text, m public.mood);
	CREATE TABLE lb.lt (LIKE la.lt INCLUDING ALL);
});
for my $j (['dec', 'src', 'a'], ['pgo', 'src_pgo', 'b'])
{
	my ($job, $src, $schema) = @$j;
	$target->safe_psql('postgres', qq{
		SELECT tributary.create_job('$job', '$src', 'full+cdc', '{"target_schema": "$schema"}');
		SELECT tributary.add_table('$job', 'public.styles');
		SELECT tributary.add_table('$job', 'public.parent');
		SELECT tributary.add_table('$job', 'public.inc');
		SELECT tributary.add_table('$job', 'public.sys');
		SELECT tributary.add_table('$job', 'public.gen');
		SELECT tributary.add_table('$job', 'public.gen2');
		SELECT tributary.add_table('$job', 'public.uses');
		SELECT tributary.add_table('$job', 'public.cc');
		SELECT tributary.add_table('$job', 'public.fk_parent');
		SELECT tributary.add_table('$job', 'public.fk_child');
		SELECT tributary.start_job('$job');
	});
}
for my $j (['ldec', 'latin', 'la'], ['lpgo', 'latin_pgo', 'lb'])
{
	my ($job, $src, $schema) = @$j;
	$target->safe_psql('postgres', qq{
		SELECT tributary.create_job('$job', '$src', 'full+cdc', '{"target_schema": "$schema"}');
		SELECT tributary.add_table('$job', 'public.lt');
		SELECT tributary.add_table('$job', 'public.lb');
		SELECT tributary.start_job('$job');
	});
}
ok($target->poll_query_until('postgres', q{SELECT count(*) = 4 FROM tributary.jobs WHERE phase = 'streaming'}),
	'the four jobs stream');
is($target->safe_psql('postgres', q{SELECT string_agg(job_name || ' ' || decoder, ',' ORDER BY job_name) FROM tributary.jobs}),
	'dec tributary_decoder,ldec tributary_decoder,lpgo pgoutput,pgo pgoutput', 'through both decoders');

# the same settings on both sides for the digests
my $pin = q{SET DateStyle = ISO; SET IntervalStyle = postgres; SET extra_float_digits = 3; SET TimeZone = UTC;};

# pdigest: a digest of a query's rows, read with the pinned settings
sub pdigest
{
	my ($node, $query) = @_;
	return $node->safe_psql('postgres',
		"$pin SELECT count(*) || ':' || coalesce(md5(string_agg(r::text, '|' ORDER BY r::text)), '') FROM ($query) r");
}

# compare: each table of the postgres database, source and both targets
sub compare
{
	my ($when) = @_;
	for my $t (['styles', 'public.styles'], ['parent', 'ONLY public.parent'], ['inc', 'public.inc'],
			   ['sys', 'public.sys'], ['gen', 'public.gen'], ['gen2', 'public.gen2'],
			   ['fk_parent', 'public.fk_parent'], ['fk_child', 'public.fk_child'], ['uses', 'public.uses'], ['cc', 'public.cc'])
	{
		my ($name, $from) = @$t;
		my $want = pdigest($source, "SELECT * FROM $from");
		for my $schema ('a', 'b')
		{
			is(pdigest($target, "SELECT * FROM $schema.$name"), $want, "$name ($schema) equals the source $when");
		}
	}
	for my $name ('lt', 'lb')
	{
		my $want = $source->safe_psql('latin', "SET client_encoding = 'UTF8'; SELECT string_agg(id || '=' || s, ',' ORDER BY id) FROM public.$name");
		for my $schema ('la', 'lb')
		{
			is($target->safe_psql('postgres', "SELECT string_agg(id || '=' || s, ',' ORDER BY id) FROM $schema.$name"),
				$want, "LATIN1 $name ($schema) arrives converted $when");
		}
	}
}

is($target->safe_psql('postgres', q{SELECT tributary.wait_for_sync('dec', '60 s') AND tributary.wait_for_sync('pgo', '60 s')
		AND tributary.wait_for_sync('ldec', '60 s') AND tributary.wait_for_sync('lpgo', '60 s')}), 't', 'the snapshots are done');
is($target->safe_psql('postgres', "$pin SELECT d || ' ' || iv || ' ' || f FROM a.styles WHERE id = 1"),
	'2024-03-05 -1 days -02:03:04 0.30000000000000004', 'a text snapshot is read in ISO, postgres style, all float digits');
is($target->safe_psql('postgres', q{SELECT string_agg(id::text, ',' ORDER BY id) FROM a.parent}), '1,2',
	'the inheritance parent is copied without its children');
is($target->safe_psql('postgres', q{SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'a.inc'::regclass AND contype = 'p'}),
	'PRIMARY KEY (id)', 'the INCLUDE columns are not part of the created key');
is($target->safe_psql('postgres', q{SELECT string_agg(attname || '=' || attnotnull, ',' ORDER BY attnum)
		FROM pg_attribute WHERE attrelid = 'a.inc'::regclass AND attnum > 0}),
	'id=true,name=true,loc=false', 'NOT NULL columns are created NOT NULL');
is($target->safe_psql('postgres', q{SELECT s FROM la.lt WHERE id = 1}), 'café', 'LATIN1 text is converted in the snapshot');
is($target->safe_psql('postgres', q{SELECT string_agg(attrelid::regclass || '.' || attname || '=' || attgenerated::text, ',' ORDER BY 1)
		FROM pg_attribute WHERE attrelid IN ('a.gen'::regclass, 'b.gen'::regclass) AND attname = 'total'}),
	'a.gen.total=s,b.gen.total=s', 'a generated source column is created as a generated column');
is($target->safe_psql('postgres', q{SELECT string_agg(format_type(atttypid, atttypmod), ', ' ORDER BY attnum)
		FROM pg_attribute WHERE attrelid = 'a.uses'::regclass AND attnum > 0}),
	'integer, udt.color, udt.posint, udt.span, udt.item, udt.color[], numeric(6,2)',
	'an auto-created target gets the source\'s enum, domain, range and composite types');
is($target->safe_psql('postgres', q{SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE contypid = 'udt.posint'::regtype}),
	'CHECK ((VALUE > 0))', '... the domain with its check');
is($target->safe_psql('postgres', q{SELECT string_agg(conname || ' ' || pg_get_constraintdef(oid), '; ' ORDER BY conname)
		FROM pg_constraint WHERE conrelid = 'a.cc'::regclass AND contype = 'c'}),
	'cc_name CHECK ((length(name) < 10)); cc_qty_check CHECK ((qty >= 0))', 'an auto-created target gets the source\'s CHECK constraints');
is($target->safe_psql('postgres', q{SELECT string_agg(attname || '=' || coalesce(collname, '-'), ',' ORDER BY attnum)
		FROM pg_attribute LEFT JOIN pg_collation co ON co.oid = attcollation AND attcollation <> 100
		WHERE attrelid = 'a.cc'::regclass AND attnum > 0}),
	'id=-,qty=-,name=C,code=POSIX,at=-,n=-', '... and its columns\' collations');
is($target->safe_psql('postgres', q{SELECT string_agg(attname || '=' || coalesce(pg_get_expr(adbin, adrelid), '-'), ',' ORDER BY attnum)
		FROM pg_attribute LEFT JOIN pg_attrdef ON adrelid = attrelid AND adnum = attnum
		WHERE attrelid = 'a.cc'::regclass AND attnum > 0}),
	'id=-,qty=7,name=-,code=-,at=now(),n=-', '... and its defaults (not one that uses a sequence)');
is($target->safe_psql('postgres', q{SELECT string_agg(d, '; ' ORDER BY d)
		FROM (SELECT regexp_replace(pg_get_indexdef(indexrelid), ' [a-z_0-9]+ ON ', ' ON ') AS d
				FROM pg_index WHERE indrelid = 'a.cc'::regclass AND NOT indisprimary) x}),
	'CREATE INDEX ON a.cc USING btree (lower(name)); CREATE INDEX ON a.cc USING btree (name); '
	. 'CREATE INDEX ON a.cc USING btree (qty) WHERE (qty > 100); CREATE INDEX ON a.cc USING hash (code); '
	. 'CREATE UNIQUE INDEX ON a.cc USING btree (code, qty); CREATE UNIQUE INDEX ON a.cc USING btree (id) INCLUDE (name)',
	'... and its indexes: plain, expression, partial, INCLUDE, hash (not one with a non-default operator class)');
compare('after the snapshot');

# changes of every kind, under the same source defaults
$source->safe_psql('postgres', q{
	INSERT INTO public.styles VALUES (3, '2024-12-31', '-00:00:00.000001', -0.0, '2024-02-29 00:00:00+05:30', '12:00', 'happy');
	UPDATE public.styles SET d = '2023-01-13', iv = iv * 2, f = f / 3, m = 'happy' WHERE id = 1;
	DELETE FROM public.styles WHERE id = 2;
	INSERT INTO public.parent VALUES (6, 'p6');
	UPDATE public.parent SET v = 'p1 again' WHERE id = 1;
	INSERT INTO public.child VALUES (7, 'c7', 7);
	UPDATE public.child SET v = 'c3 again' WHERE id = 3;
	DELETE FROM public.parent WHERE id = 4;
	UPDATE public.inc SET name = 'renamed', loc = point(0, 0) WHERE id <= 10;
	DELETE FROM public.inc WHERE id > 45;
	INSERT INTO public.inc VALUES (100, 'hundred', point(1, 1));
	INSERT INTO public.sys VALUES (4, '{=U/postgres}', '', '0', 4);
	UPDATE public.sys SET iv = '7', ov = '', n = -n WHERE id = 2;
	DELETE FROM public.sys WHERE id = 3;
	INSERT INTO public.gen (id, qty, price) VALUES (3, 4, 0.5);
	UPDATE public.gen SET qty = qty + 10 WHERE id = 1;
	DELETE FROM public.gen WHERE id = 2;
	INSERT INTO public.gen2 (id, qty, price) VALUES (3, 4, 0.5);
	UPDATE public.gen2 SET price = 9 WHERE id = 1;
	DELETE FROM public.gen2 WHERE id = 2;
	INSERT INTO public.uses VALUES (3, 'green', 3, '(,0]', ROW('x,y', -1, 'red'), '{green}', -0.5);
	UPDATE public.uses SET c = 'green', i.qty = 9, s = '[0,1]' WHERE id = 1;
	DELETE FROM public.uses WHERE id = 2;
	INSERT INTO public.cc VALUES (3, 7, 'a', 'z');
	UPDATE public.cc SET qty = qty + 1 WHERE id = 1;
	INSERT INTO public.fk_parent VALUES (11, 'p11');
	INSERT INTO public.fk_child VALUES (31, 11, 'c31');
	DELETE FROM public.fk_child WHERE parent_id = 2;
	DELETE FROM public.fk_parent WHERE id = 2;
	UPDATE public.fk_child SET parent_id = 11 WHERE id = 1;
});
$source->safe_psql('latin', q{
	SET client_encoding = 'UTF8';
	INSERT INTO public.lt VALUES (3, 'naïve façade', 'sad');
	UPDATE public.lt SET s = s || ' ½' WHERE id = 1;
	INSERT INTO public.lb VALUES (3, 'naïve façade');
	UPDATE public.lb SET s = s || ' ½' WHERE id = 1;
});
is($target->safe_psql('postgres', q{SELECT tributary.wait_for_sync('dec', '60 s') AND tributary.wait_for_sync('pgo', '60 s')
		AND tributary.wait_for_sync('ldec', '60 s') AND tributary.wait_for_sync('lpgo', '60 s')}), 't', 'the changes are applied');
compare('after streamed changes');
is($target->safe_psql('postgres', q{SELECT count(*) FROM tributary.jobs WHERE state = 'running'}), '4', 'every job still runs');

# refused: unlogged tables for change capture (a full job may copy them), temporary tables
my ($ret, $out, $err) = $target->psql('postgres', q{SELECT tributary.add_table('dec', 'public.ul')});
like($err, qr/source table \[public\.ul\] is unlogged, so change capture cannot see its changes/, 'an unlogged table is refused for change capture');
like($err, qr/ALTER TABLE public\.ul SET LOGGED/, '... with the fix in the hint');
$target->safe_psql('postgres', q{SELECT tributary.create_job('once', 'src', 'full', '{"target_schema": "o"}')});
is($target->safe_psql('postgres', q{SELECT tributary.add_table('once', 'public.ul') > 0}), 't', 'a full job may copy an unlogged table');

# a partitioned source table: pgoutput cannot stream it exactly (TAP 025
# streams it through tributary_decoder); a full job copies every partition
$source->safe_psql('postgres', q{
	CREATE TABLE public.pt (id int PRIMARY KEY, v text) PARTITION BY RANGE (id);
	CREATE TABLE public.pt1 PARTITION OF public.pt FOR VALUES FROM (0) TO (100);
	CREATE TABLE public.pt2 PARTITION OF public.pt FOR VALUES FROM (100) TO (200);
	INSERT INTO public.pt SELECT g, 'v' || g FROM generate_series(1, 199) g;
});
($ret, $out, $err) = $target->psql('postgres', q{SELECT tributary.add_table('pgo', 'public.pt')});
like($err, qr/source table \[public\.pt\] is partitioned, which pgoutput cannot stream exactly/,
	'a partitioned table is refused for a pgoutput source');
$target->safe_psql('postgres', q{SELECT tributary.add_table('once', 'public.pt'); SELECT tributary.start_job('once')});
is($target->safe_psql('postgres', q{SELECT tributary.wait_for_sync('once', '60 s')}), 't', 'a full job copies it');
is(pdigest($target, 'SELECT * FROM o.pt'), pdigest($source, 'SELECT * FROM public.pt'), '... with every partition\'s rows');

# a target referenced by a table the job does not sync: refused when the
# snapshot would empty it
$target->safe_psql('postgres', q{
	CREATE SCHEMA fko;
	CREATE TABLE fko.fk_parent (id int PRIMARY KEY, v text);
	CREATE TABLE fko.other (x int PRIMARY KEY, pid int REFERENCES fko.fk_parent);
	SELECT tributary.create_job('fkonce', 'src', 'full', '{"target_schema": "fko"}');
	SELECT tributary.add_table('fkonce', 'public.fk_parent');
	SELECT tributary.start_job('fkonce');
});
ok($target->poll_query_until('postgres', q{SELECT state = 'failed' FROM tributary.jobs WHERE job_name = 'fkonce'}),
	'a job whose target another table references fails');
like($target->safe_psql('postgres', q{SELECT message FROM tributary.errors WHERE job_name = 'fkonce' ORDER BY at DESC LIMIT 1}),
	qr/target table fko\.fk_parent is referenced by a foreign key of table fko\.other, which job "fkonce" does not sync/,
	'... saying which table and why');

my $tmp = $source->background_psql('postgres');
$tmp->query_safe(q{CREATE TEMPORARY TABLE tt (id int PRIMARY KEY)});
my $tmp_schema = $tmp->query_safe(q{SELECT nspname FROM pg_namespace WHERE oid = pg_my_temp_schema()});
chomp $tmp_schema;
($ret, $out, $err) = $target->psql('postgres', qq{SELECT tributary.add_table('once', '$tmp_schema.tt')});
like($err, qr/source table \[\Q$tmp_schema\E\.tt\] is a temporary table/, 'a temporary table is refused');
$tmp->quit;

done_testing();
