# 040_ddl_policy_matrix.pl -- every kind of schema change under every ddl
# policy, on both source kinds (issue 13): for each kind, one table and one
# job per policy; the statement on the source, then changes that depend on
# it, then what must hold:
#   error  - the job stops, with an errors row naming the table, the kind
#            and the policy; nothing after the statement is applied
#   alert  - the job runs on, with an errors row (SQLSTATE 01000)
#   ignore - the job runs on, without an errors row
#   apply  - the job runs on and the target equals the source (or, for a
#            kind apply cannot do, the job stops saying so)
# PostgreSQL: add_column, drop_column, rename_column, alter_column_type
# (TRUNCATE arrives as a change; partitions attached or detached: t/037).
# MySQL: those, truncate_table, drop_table, rename_table and other.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use TributaryTest;
use MariaDBNode;

my @policies = qw(error alert ignore apply);
my $target = target_node('target', "max_worker_processes = 24\n");
my $source = source_node('source', 1);
my $my = MariaDBNode->new('matrix', 'binlog-row-metadata' => 'FULL');
$my->sql('CREATE DATABASE shop');
my $pconn = pg_conninfo($source);
my $mconn = $my->conninfo(undef, 'root');
$target->safe_psql('postgres', qq{
	SELECT tributary.create_source('pg', 'postgresql', '$pconn', '{"heartbeat_interval": 1}');
	SELECT tributary.create_source('my', 'mysql', '$mconn', '{"heartbeat_interval": 1}');
});

# the source side of each kind: [statement, changes after it, columns to
# compare under apply, columns to compare under ignore/alert]
my %pg = (
	add_column => ['ALTER TABLE public.%s ADD COLUMN c int DEFAULT 5',
		"INSERT INTO public.%s VALUES (100, 'after', 100, 7)", '*', 'id, a, b'],
	drop_column => ['ALTER TABLE public.%s DROP COLUMN b',
		"INSERT INTO public.%s VALUES (100, 'after')", '*', 'id, a'],
	rename_column => ['ALTER TABLE public.%s RENAME COLUMN a TO a2',
		"UPDATE public.%s SET b = b + 1", '*', 'id, b'],
	alter_column_type => ['ALTER TABLE public.%s ALTER COLUMN a TYPE varchar(30)',
		"INSERT INTO public.%s VALUES (100, 'after', 100)", '*', 'id, a, b'],
);
my %my = (
	add_column => ['ALTER TABLE shop.%s ADD COLUMN c INT DEFAULT 5',
		"INSERT INTO shop.%s VALUES (100, 'after', 100, 7)", 'id, a, b, c', 'id, a, b'],
	drop_column => ['ALTER TABLE shop.%s DROP COLUMN b',
		"INSERT INTO shop.%s VALUES (100, 'after')", 'id, a', 'id, a'],
	rename_column => ['ALTER TABLE shop.%s RENAME COLUMN a TO a2',
		"UPDATE shop.%s SET b = b + 1", 'id, a2, b', 'id, b'],
	alter_column_type => ['ALTER TABLE shop.%s MODIFY b BIGINT',
		"INSERT INTO shop.%s VALUES (100, 'after', 100)", 'id, a, b', 'id, a, b'],
	truncate_table => ['TRUNCATE TABLE shop.%s',
		"INSERT INTO shop.%s VALUES (100, 'after', 100)", 'id, a, b', undef],
	drop_table => ['DROP TABLE shop.%s', undef, undef, undef],
	rename_table => ['RENAME TABLE shop.%s TO shop.%s_new',
		"INSERT INTO shop.%s_new VALUES (100, 'after', 100)", undef, undef],
	other => ['ALTER TABLE shop.%s DROP PRIMARY KEY, ADD PRIMARY KEY (id, b)',
		"INSERT INTO shop.%s VALUES (100, 'after', 100)", undef, 'id, a, b'],
);

# job_state / errors of a job
sub job_state { $target->safe_psql('postgres', "SELECT state FROM tributary.jobs WHERE job_name = '$_[0]'") }
sub errors_of
{
	$target->safe_psql('postgres', "SELECT coalesce(string_agg(sqlstate || ' ' || message || ' / ' || coalesce(detail, ''), ' | '), '') FROM tributary.errors WHERE job_name = '$_[0]'");
}

# pg_rows / my_rows: a digest of some columns of a table
sub pg_rows
{
	my ($node, $cols, $table) = @_;
	my $expr = $cols eq '*' ? 'r::text' : "concat_ws('|', $cols)";
	return $node->safe_psql('postgres',
		"SELECT count(*) || ':' || coalesce(md5(string_agg($expr, ',' ORDER BY id)), '') FROM $table r");
}
sub my_rows
{
	my ($cols, $table) = @_;
	my $out = $my->sql("SELECT COUNT(*), COALESCE(MD5(GROUP_CONCAT(CONCAT_WS('|', $cols) ORDER BY id SEPARATOR ',')), '') FROM $table");
	$out =~ s/\t/:/;
	return $out;
}

# one kind on one source kind: four tables, four jobs, the statement, checks
sub run_kind
{
	my ($skind, $kind, $spec) = @_;
	my ($statement, $after, $apply_cols, $keep_cols) = @$spec;
	my $pre = $skind eq 'pg' ? 'p' : 'm';
	for my $policy (@policies)
	{
		my $t = "${pre}_${kind}_$policy";
		if ($skind eq 'pg')
		{
			$source->safe_psql('postgres', qq{
				CREATE TABLE public.$t (id int PRIMARY KEY, a text, b int);
				ALTER TABLE public.$t REPLICA IDENTITY FULL;
				INSERT INTO public.$t SELECT g, 'a' || g, g FROM generate_series(1, 10) g;
			});
		}
		else
		{
			$my->sql(qq{CREATE TABLE shop.$t (id INT PRIMARY KEY, a VARCHAR(20), b INT);
				INSERT INTO shop.$t VALUES (1, 'a1', 1), (2, 'a2', 2), (3, 'a3', 3);});
		}
		my $src = $skind eq 'pg' ? "public.$t" : "shop.$t";
		$target->safe_psql('postgres', qq{
			SELECT tributary.create_job('$t', '$skind', 'full+cdc',
				'{"target_schema": "x", "ddl": {"$kind": "$policy"}, "restart-strategy.type": "none"}');
			SELECT tributary.add_table('$t', '$src');
			SELECT tributary.start_job('$t');
		});
	}
	for my $policy (@policies)
	{
		my $t = "${pre}_${kind}_$policy";
		is($target->safe_psql('postgres', "SELECT tributary.wait_for_sync('$t', '60 s')"), 't', "$t syncs");
		# a change first: the stream has the table's definition before the statement
		if ($skind eq 'pg') { $source->safe_psql('postgres', "UPDATE public.$t SET b = b WHERE id = 1") }
		else { $my->sql("UPDATE shop.$t SET b = b WHERE id = 1") }
		is($target->safe_psql('postgres', "SELECT tributary.wait_for_sync('$t', '60 s')"), 't', "$t streams");
	}
	for my $policy (@policies)
	{
		my $t = "${pre}_${kind}_$policy";
		my @stmts = (sprintf($statement, $t, $t));
		push @stmts, sprintf($after, $t) if defined $after;
		if ($skind eq 'pg') { $source->safe_psql('postgres', join(";\n", @stmts)) }
		else { $my->sql(join(";\n", @stmts)) }
	}
	for my $policy (@policies)
	{
		my $t = "${pre}_${kind}_$policy";
		my $cannot = ($policy eq 'apply' && $kind eq 'other');
		if ($policy eq 'error' || $cannot)
		{
			ok($target->poll_query_until('postgres', "SELECT state = 'failed' FROM tributary.jobs WHERE job_name = '$t'"),
				"$t: the job stops");
			like(errors_of($t), $cannot
				? qr/The job's ddl policy for other is apply, which pg_tributary can do for add_column/
				: qr/^55000 source table \[[a-z]+\.$t\] changed: .* \/ The change \($kind\) is at source position \S+; the job's ddl policy for it is error\./,
				"$t: the errors row says why");
			is($target->safe_psql('postgres', "SELECT count(*) FROM x.$t WHERE id = 100"), '0', "$t: nothing after it was applied")
			  if defined $after && $kind ne 'rename_table';
			next;
		}
		is($target->safe_psql('postgres', "SELECT tributary.wait_for_sync('$t', '60 s')"), 't', "$t: the job runs on");
		is(job_state($t), 'running', "$t: running");
		if ($policy eq 'alert')
		{
			like(errors_of($t), qr/^01000 source table \[[a-z]+\.$t\] changed: .* \/ The change \($kind\) is at source position \S+; the job's ddl policy for it is alert\./,
				"$t: an errors row (alert)");
		}
		else
		{
			is(errors_of($t), '', "$t: no errors row");
		}
		my $cols = $policy eq 'apply' ? $apply_cols : $keep_cols;
		next unless defined $cols;
		if ($skind eq 'pg')
		{
			is(pg_rows($target, $cols, "x.$t"), pg_rows($source, $cols, "public.$t"),
				"$t: the target equals the source ($cols)");
		}
		else
		{
			is(pg_rows($target, $cols, "x.$t"), my_rows($cols, "shop.$t"), "$t: the target equals the source ($cols)");
		}
	}
	# the kind's own outcomes under apply
	my $t = "${pre}_${kind}_apply";
	if ($kind eq 'drop_table')
	{
		is($target->safe_psql('postgres', "SELECT count(*) FROM tributary.tables WHERE job_name = '$t'"), '0',
			"$t: the dropped table left the job");
	}
	elsif ($kind eq 'rename_table')
	{
		is($target->safe_psql('postgres', "SELECT source_table || '>' || target_table FROM tributary.tables WHERE job_name = '$t'"),
			"shop.${t}_new>x.${t}_new", "$t: the job follows the new name");
		is(pg_rows($target, 'id, a, b', "x.${t}_new"), my_rows('id, a, b', "shop.${t}_new"), "$t: and the rows after it");
	}
	elsif ($kind eq 'truncate_table')
	{
		is($target->safe_psql('postgres', "SELECT string_agg(id::text, ',') FROM x.$t"), '100', "$t: truncated, then the row after");
	}
	# the jobs are done with: their workers go
	$target->safe_psql('postgres', "SELECT tributary.drop_job('${pre}_${kind}_$_')") for @policies;
}

run_kind('pg', $_, $pg{$_}) for sort keys %pg;
run_kind('my', $_, $my{$_}) for sort keys %my;

done_testing();
