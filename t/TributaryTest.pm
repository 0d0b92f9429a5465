# TributaryTest.pm -- helpers shared by the TAP tests.
package TributaryTest;

use strict;
use warnings;
use Exporter 'import';
use PostgreSQL::Test::Utils;
use Time::HiRes qw(usleep);

our @EXPORT = qw(crash_instance digest);

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
	for my $pid (@children)
	{
		for (1 .. 1000)
		{
			last unless -d "/proc/$pid" && `cat /proc/$pid/stat 2>/dev/null` !~ /^\d+ \(.*\) Z/;
			usleep(10_000);
		}
	}
	$node->poll_query_until('postgres', 'SELECT true')
	  or die "the instance did not come back after the crash";
	return scalar @children;
}

# digest: row count and an order-independent digest of a query's rows
sub digest
{
	my ($node, $query) = @_;
	return $node->safe_psql('postgres',
		"SELECT count(*) || ':' || coalesce(md5(string_agg(r::text, '|' ORDER BY r::text)), '') FROM ($query) r");
}

1;
