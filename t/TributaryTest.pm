# TributaryTest.pm -- helpers shared by the TAP tests.
package TributaryTest;

use strict;
use warnings;
use Exporter 'import';
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use TestDeadline;

our @EXPORT = qw(crash_instance wait_recovered digest target_node source_node pg_conninfo check_row start_writer
  password_user shared_checks citus_cluster citus_targets);

# crash_instance: kill -9 every process of a running instance but the
# postmaster (backends, background workers, checkpointer, WAL writer...),
# which then reinitializes shared memory and runs crash recovery
# (restart_after_crash must be on).  Returns the number of processes
# killed, once the instance accepts connections again.
sub crash_instance
{
	my ($node) = @_;
	my $pm = $node->{_pid} or die "node is not running";
	my @children = split /\s+/, `pgrep -P $pm`;
	@children = grep { /^\d+$/ } @children;
	kill 'KILL', @children;
	wait_recovered($node, @children);
	return scalar @children;
}

# wait_recovered: after a kill -9 of some of an instance's processes,
# until they have exited and the instance accepts connections again (its
# postmaster reinitialized and ran crash recovery)
sub wait_recovered
{
	my ($node, @pids) = @_;
	for my $pid (@pids)
	{
		for (1 .. 1000)
		{
			last unless -d "/proc/$pid" && `cat /proc/$pid/stat 2>/dev/null` !~ /^\d+ \(.*\) Z/;
			usleep(10_000);
		}
	}
	$node->poll_query_until('postgres', 'SELECT true')
	  or die "the instance did not come back after the crash";
	return;
}

# digest: row count and an order-independent digest of a query's rows
sub digest
{
	my ($node, $query) = @_;
	return $node->safe_psql('postgres',
		"SELECT count(*) || ':' || coalesce(md5(string_agg(r::text, '|' ORDER BY r::text)), '') FROM ($query) r");
}

# target_node: a started target instance with pg_tributary preloaded and
# created (restart_after_crash on, room for workers); extra configuration
# lines may be given
sub target_node
{
	my ($name, $extra) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init;
	$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_tributary'
max_worker_processes = 16
restart_after_crash = on
} . ($extra // ''));
	$node->start;
	$node->safe_psql('postgres', 'CREATE EXTENSION pg_tributary');
	return $node;
}

# source_node: a started PostgreSQL source with logical decoding; with
# $decoder true its output_plugin_libraries lists tributary_decoder (else
# it keeps the default, which makes jobs fall back to pgoutput)
sub source_node
{
	my ($name, $decoder) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init(allows_streaming => 'logical');
	$node->append_conf('postgresql.conf',
		"output_plugin_libraries = 'pgoutput, test_decoding, tributary_decoder'\n")
	  if $decoder;
	$node->start;
	return $node;
}

# pg_conninfo: a pg_tributary connection string for a PostgreSQL node
sub pg_conninfo
{
	my ($node, $extra) = @_;
	return 'host=' . $node->host . ' port=' . $node->port . ' dbname=postgres' . ($extra // '');
}

# password_user: a LOGIN REPLICATION role on a PostgreSQL node that the
# node authenticates with a password (scram-sha-256, ahead of the trust
# lines the test clusters have), with SELECT on the tables of schema
# public: what a source defined by a non-superuser must use
sub password_user
{
	my ($node, $user, $password) = @_;
	$node->safe_psql('postgres', qq{
		SET password_encryption = 'scram-sha-256';
		CREATE ROLE $user LOGIN REPLICATION PASSWORD '$password';
		GRANT SELECT ON ALL TABLES IN SCHEMA public TO $user;
	});
	my $hba = $node->data_dir . '/pg_hba.conf';
	my $old = PostgreSQL::Test::Utils::slurp_file($hba);
	open my $fh, '>', $hba or die "cannot write $hba: $!";
	print $fh "local all $user scram-sha-256\nlocal replication $user scram-sha-256\n"
	  . "host all $user 127.0.0.1/32 scram-sha-256\nhost replication $user 127.0.0.1/32 scram-sha-256\n"
	  . $old;
	close $fh;
	$node->reload;
	return;
}

# citus_cluster: a Citus coordinator (with pg_tributary, both preloaded
# and created) and two workers, started, restart_after_crash on; $worker_sql,
# if given, runs on each worker before it joins (Citus refuses DDL on a
# worker that holds its metadata).  Returns ($coord, $w1, $w2).
sub citus_cluster
{
	my ($worker_sql) = @_;
	my $citus_node = sub {
		my ($name, $more) = @_;
		my $node = PostgreSQL::Test::Cluster->new($name);
		$node->init;
		$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'citus$more'
max_worker_processes = 20
max_prepared_transactions = 100
restart_after_crash = on
});
		$node->start;
		$node->safe_psql('postgres', 'CREATE EXTENSION citus');
		return $node;
	};
	my $w1 = $citus_node->('worker1', '');
	my $w2 = $citus_node->('worker2', '');
	if (defined $worker_sql)
	{
		$_->safe_psql('postgres', $worker_sql) for ($w1, $w2);
	}
	my $coord = $citus_node->('coord', ', pg_tributary');
	$coord->safe_psql('postgres', 'CREATE EXTENSION pg_tributary');
	$coord->safe_psql('postgres', sprintf(q{SELECT citus_set_coordinator_host('%s', %d)}, $coord->host, $coord->port));
	for my $w ($w1, $w2)
	{
		$coord->safe_psql('postgres', sprintf(q{SELECT citus_add_node('%s', %d)}, $w->host, $w->port));
	}
	return ($coord, $w1, $w2);
}

# citus_targets: on a PostgreSQL source and a Citus coordinator, the
# tables public.orders (id int primary key; distributed by id on the
# coordinator) and public.region (code text primary key; a reference
# table there), REPLICA IDENTITY FULL on the source, with $orders and
# $regions rows there, and public.ctl (stop boolean, false) for a writer
sub citus_targets
{
	my ($source, $coord, $orders, $regions) = @_;
	$source->safe_psql('postgres', qq{
		CREATE TABLE public.orders (id int PRIMARY KEY, customer int NOT NULL, amount numeric(12,2), note text);
		CREATE TABLE public.region (code text PRIMARY KEY, name text);
		ALTER TABLE public.orders REPLICA IDENTITY FULL;
		ALTER TABLE public.region REPLICA IDENTITY FULL;
		INSERT INTO public.orders SELECT g, g % 97, g * 1.5, 'order ' || g FROM generate_series(1, $orders) g;
		INSERT INTO public.region SELECT 'r' || g, 'region ' || g FROM generate_series(1, $regions) g;
		CREATE TABLE public.ctl (stop boolean);
		INSERT INTO public.ctl VALUES (false);
	});
	$coord->safe_psql('postgres', q{
		CREATE TABLE public.orders (id int PRIMARY KEY, customer int NOT NULL, amount numeric(12,2), note text);
		SELECT create_distributed_table('public.orders', 'id');
		CREATE TABLE public.region (code text PRIMARY KEY, name text);
		SELECT create_reference_table('public.region');
	});
	return;
}

# check_row: one row of check_source as "ok|detail|hint" (ok as t or f)
sub check_row
{
	my ($target, $source, $name, $tables) = @_;
	$tables //= 'NULL';
	return $target->safe_psql('postgres',
		"SELECT CASE WHEN ok THEN 't' ELSE 'f' END || '|' || coalesce(detail, '') || '|' || coalesce(hint, '')
		   FROM tributary.check_source('$source', $tables) WHERE check_name = '$name'");
}

# start_writer: run a PL/pgSQL body (a loop of small transactions, each
# ended with COMMIT) on a node in the background; returns the session, to
# be ended with ->quit (which waits for the body to finish)
sub start_writer
{
	my ($node, $body) = @_;
	my $writer = $node->background_psql('postgres');
	$writer->query_until(qr/start/, "\\echo start\nDO \$\$\nBEGIN\n$body\nEND \$\$;\n");
	return $writer;
}

# shared_checks: the end-to-end checks every source kind runs, whatever
# its connector.  The caller gives a job (stopped, full+cdc) with one
# empty source table (id int primary key, name text, qty int) added under
# target table $target_table, and $exec, which runs one source
# transaction given as a list of changes: [insert => id, name, qty],
# [update => id, name, qty] (by id) or [delete => id]; undef is NULL.
# The checks keep what the source must hold and compare the target with
# it: the snapshot of 300 rows; updates, deletes, inserts, NULLs and
# awkward text; a row inserted, updated and deleted in one transaction;
# changes made while the job is stopped (applied exactly once after it
# starts again).  Returns the number of rows the source ends with.
sub shared_checks
{
	my (%a) = @_;
	my ($target, $job, $table, $exec, $label) = @a{qw(target job target_table exec label)};
	my %model;
	my $run = sub {
		my @changes = @_;
		for my $c (@changes)
		{
			my ($op, $id, $name, $qty) = @$c;
			if ($op eq 'delete') { delete $model{$id}; }
			else { $model{$id} = [ $name, $qty ]; }
		}
		$exec->(@changes);
	};
	my $expect = sub {
		return join("\n", map {
			my ($n, $q) = @{ $model{$_} };
			join('|', $_, $n // '<null>', $q // '<null>')
		} sort { $a <=> $b } keys %model);
	};
	my $actual = sub {
		return $target->safe_psql('postgres',
			"SELECT string_agg(id || '|' || coalesce(name, '<null>') || '|' || coalesce(qty::text, '<null>'), E'\\n' ORDER BY id) FROM $table");
	};
	my $sync = sub {
		my ($what) = @_;
		is($target->safe_psql('postgres', "SELECT tributary.wait_for_sync('$job', '60 s')"), 't', "$label: $what: in sync");
		is($actual->(), $expect->(), "$label: $what: the target holds what the source does");
	};

	for my $b (0 .. 2)
	{
		$run->(map { [ insert => $_, "row $_", $_ % 17 ] } ($b * 100 + 1) .. ($b * 100 + 100));
	}
	$target->safe_psql('postgres', "SELECT tributary.start_job('$job')");
	$sync->('snapshot');

	$run->(map { [ update => $_, "updated $_", $_ * 2 ] } grep { $_ % 3 == 0 } 1 .. 300);
	$run->(map { [ delete => $_ ] } grep { $_ % 7 == 0 } 1 .. 300);
	$run->([ insert => 301, undef, undef ], [ insert => 302, '', 0 ],
		   [ insert => 303, "quote ' backslash \\ é", -5 ]);
	$run->([ insert => 304, 'short-lived', 1 ], [ update => 304, 'changed', 2 ], [ delete => 304 ]);
	$run->([ update => 1, undef, undef ]);
	$sync->('changes');

	$target->safe_psql('postgres', "SELECT tributary.stop_job('$job')");
	$target->poll_query_until('postgres',
		"SELECT pid IS NULL AND state = 'stopped' FROM tributary.jobs WHERE job_name = '$job'")
	  or die "the job's worker did not exit";
	$run->(map { [ insert => $_, "while stopped $_", 1 ] } 400 .. 449);
	$run->(map { [ update => $_, "again $_", 3 ] } 2, 4, 5);
	$target->safe_psql('postgres', "SELECT tributary.start_job('$job')");
	$sync->('after a restart');
	return scalar keys %model;
}

1;
