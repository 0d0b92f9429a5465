# 035_pg_schema_changes.pl -- schema changes on PostgreSQL sources (issue 13
# item 1), through tributary_decoder and pgoutput.
#
# ALTER TABLE ... ADD COLUMN lost the new column's data silently, even with
# ddl = error.  Both decoders send a table's new definition before the
# first change that uses it; the job compares it with the columns it
# copies and applies its ddl policy to each difference:
#   - error (the default): the job stops with an error naming the table and
#     the change, and an errors row; nothing is applied past it;
#   - apply: ADD COLUMN (existing rows get the constant default, as on the
#     source), DROP COLUMN and RENAME COLUMN reach the target in the same
#     local transaction as the changes after them;
#   - ignore: the job goes on, the target keeps its columns;
#   - alert: the same, with a WARNING and an errors row.
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
my @jobs = (['err_td', 'td', '{}'], ['err_po', 'po', '{}'], ['app_td', 'td', '{"ddl": "apply"}'],
	['app_po', 'po', '{"ddl": "apply"}'], ['ign_td', 'td', '{"ddl": "ignore"}'], ['alr_td', 'td', '{"ddl": "alert"}']);
for my $j (@jobs)
{
	$source->safe_psql('postgres', qq{
		CREATE TABLE public.$j->[0] (id int PRIMARY KEY, a text, b int);
		ALTER TABLE public.$j->[0] REPLICA IDENTITY FULL;
		INSERT INTO public.$j->[0] SELECT g, 'a' || g, g FROM generate_series(1, 10) g;
	});
}
my $conn = pg_conninfo($source);
$target->safe_psql('postgres', qq{
	SELECT tributary.create_source('td', 'postgresql', '$conn');
	SELECT tributary.create_source('po', 'postgresql', '$conn', '{"decoder": "pgoutput"}');
});
for my $j (@jobs)
{
	my ($name, $src, $opts) = @$j;
	my $o = $opts eq '{}' ? '{"target_schema": "t"}' : substr($opts, 0, -1) . ', "target_schema": "t"}';
	$target->safe_psql('postgres', qq{
		SELECT tributary.create_job('$name', '$src', 'full+cdc', '$o');
		SELECT tributary.add_table('$name', 'public.$name');
		SELECT tributary.start_job('$name');
	});
	is($target->safe_psql('postgres', "SELECT tributary.wait_for_sync('$name', '60 s')"), 't', "$name syncs");
}

# every table gets a new column, filled by the rows that follow
for my $j (@jobs)
{
	$source->safe_psql('postgres', qq{
		ALTER TABLE public.$j->[0] ADD COLUMN c int DEFAULT 5;
		INSERT INTO public.$j->[0] VALUES (11, 'a11', 11, 110);
		UPDATE public.$j->[0] SET c = 7 WHERE id = 1;
	});
}

# error: the job stops at the change, naming it
for my $name ('err_td', 'err_po')
{
	ok($target->poll_query_until('postgres', "SELECT state = 'failed' FROM tributary.jobs WHERE job_name = '$name'"),
		"$name: ADD COLUMN under ddl = error stops the job");
	like($target->safe_psql('postgres', "SELECT message || ' / ' || detail FROM tributary.errors WHERE job_name = '$name' ORDER BY at DESC LIMIT 1"),
		qr/source table \[public\.$name\] changed: column "c" added \(integer\) \/ The change \(add_column\) is at source position [0-9A-F]+\/[0-9A-F]+; the job's ddl policy for it is error/,
		"$name: ... with an errors row naming the table, the change and the position");
	is($target->safe_psql('postgres', "SELECT count(*) FROM t.$name"), '10', "$name: nothing past the change was applied");
}

# apply: the target follows
sub same
{
	my ($name, $cols, $when) = @_;
	is($target->safe_psql('postgres', "SELECT tributary.wait_for_sync('$name', '60 s')"), 't', "$name syncs $when");
	is(digest($target, "SELECT $cols FROM t.$name"), digest($source, "SELECT $cols FROM public.$name"),
		"$name equals the source $when");
}
for my $name ('app_td', 'app_po')
{
	same($name, '*', 'after ADD COLUMN (apply)');
	is($target->safe_psql('postgres', "SELECT c FROM t.$name WHERE id = 2"), '5', "$name: existing rows got the default");
	$source->safe_psql('postgres', qq{
		ALTER TABLE public.$name RENAME COLUMN a TO a2;
		UPDATE public.$name SET a2 = 'renamed' WHERE id <= 3;
		INSERT INTO public.$name VALUES (12, 'a12', 12, 120);
	});
	same($name, '*', 'after RENAME COLUMN (apply)');
	is($target->safe_psql('postgres', "SELECT string_agg(attname, ',' ORDER BY attnum) FROM pg_attribute WHERE attrelid = 't.$name'::regclass AND attnum > 0 AND NOT attisdropped"),
		'id,a2,b,c', "$name: the target column was renamed");
	$source->safe_psql('postgres', qq{
		ALTER TABLE public.$name DROP COLUMN b;
		UPDATE public.$name SET c = c + 1;
		DELETE FROM public.$name WHERE id = 4;
	});
	same($name, '*', 'after DROP COLUMN (apply)');

	# type changes: widening, text to varchar, a type modifier alone
	$source->safe_psql('postgres', qq{
		ALTER TABLE public.$name ALTER COLUMN c TYPE bigint;
		UPDATE public.$name SET c = 5000000000 WHERE id = 1;
		ALTER TABLE public.$name ALTER COLUMN a2 TYPE varchar(40);
		INSERT INTO public.$name VALUES (13, 'a13', 130);
		ALTER TABLE public.$name ALTER COLUMN a2 TYPE varchar(60);
		UPDATE public.$name SET a2 = repeat('x', 50) WHERE id = 2;
	});
	same($name, '*', 'after ALTER COLUMN ... TYPE (apply)');
	is($target->safe_psql('postgres', "SELECT string_agg(attname || ' ' || format_type(atttypid, atttypmod), ', ' ORDER BY attnum) FROM pg_attribute WHERE attrelid = 't.$name'::regclass AND attnum > 0 AND NOT attisdropped"),
		'id integer, a2 character varying(60), c bigint', "$name: the target columns took the new types");
}

# ignore and alert: the job goes on without the column
for my $name ('ign_td', 'alr_td')
{
	same($name, 'id, a, b', 'after ADD COLUMN (' . ($name =~ /ign/ ? 'ignore' : 'alert') . ')');
	is($target->safe_psql('postgres', "SELECT count(*) FROM pg_attribute WHERE attrelid = 't.$name'::regclass AND attname = 'c'"),
		'0', "$name: the target keeps its columns");
}
is($target->safe_psql('postgres', "SELECT count(*) FROM tributary.errors WHERE job_name = 'ign_td'"), '0', 'ignore records nothing');
like($target->safe_psql('postgres', "SELECT sqlstate || ' ' || message FROM tributary.errors WHERE job_name = 'alr_td'"),
	qr/^01000 source table \[public\.alr_td\] changed: column "c" added \(integer\)$/, 'alert records the change and goes on');

# a type change within a running stream, under alert
$source->safe_psql('postgres', q{ALTER TABLE public.alr_td ALTER COLUMN b TYPE bigint; INSERT INTO public.alr_td VALUES (20, 'a20', 20, 1)});
same('alr_td', 'id, a, b', 'after a type change (alert)');
like($target->safe_psql('postgres', "SELECT string_agg(message, ' | ' ORDER BY at) FROM tributary.errors WHERE job_name = 'alr_td'"),
	qr/column "b" changed type from integer to bigint/, 'the type change is recorded');

done_testing();
