# 017_memory.pl -- a streaming worker stays the same size: its
# TopMemoryContext grows by less than 64 kB over 50,000 source
# transactions, for a PostgreSQL and a MariaDB source (read with
# pg_log_backend_memory_contexts from the server log).  Also: the lag of
# a job that catches up counts from the source's end of log (it once read
# 0 while a job was far behind), and is 0 again once it caught up.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use TributaryTest;
use MariaDBNode;

my $TXNS = 50000;

my $source = source_node('source', 1);
$source->safe_psql('postgres', q{
	CREATE TABLE public.m (id int PRIMARY KEY, n int);
	ALTER TABLE public.m REPLICA IDENTITY FULL;
	INSERT INTO public.m SELECT g, 0 FROM generate_series(1, 100) g;
});
my $my = MariaDBNode->new('memory');
$my->sql(q{
	CREATE DATABASE shop;
	CREATE TABLE shop.m (id INT PRIMARY KEY, n INT);
	USE shop;
	INSERT INTO shop.m SELECT seq, 0 FROM seq_1_to_100;
	CREATE TABLE shop.lagt (id INT PRIMARY KEY, n INT);
	INSERT INTO shop.lagt SELECT seq, 0 FROM seq_1_to_200000;
});

my $target = target_node('target', "tributary.database = 'postgres'\n");
my $src_conn = pg_conninfo($source);
my $my_conn = $my->conninfo('shop');
$target->safe_psql('postgres', qq{
	SELECT tributary.create_source('pg', 'postgresql', '$src_conn');
	SELECT tributary.create_source('maria', 'mysql', '$my_conn');
	SELECT tributary.create_job('pgjob', 'pg', 'full+cdc', '{"target_schema": "p", "execution.checkpointing.interval": 200}');
	SELECT tributary.add_table('pgjob', 'public.m');
	SELECT tributary.create_job('myjob', 'maria', 'full+cdc', '{"target_schema": "y", "execution.checkpointing.interval": 200}');
	SELECT tributary.add_table('myjob', 'shop.m');
	SELECT tributary.add_table('myjob', 'shop.lagt');
	SELECT tributary.start_job('pgjob');
	SELECT tributary.start_job('myjob');
});
ok($target->poll_query_until('postgres', q{SELECT count(*) = 2 FROM tributary.jobs WHERE phase = 'streaming'}),
	'both jobs stream');

# top_context_used: bytes used by a job worker's TopMemoryContext itself
sub top_context_used
{
	my ($job) = @_;
	my $pid = $target->safe_psql('postgres', "SELECT pid FROM tributary.jobs WHERE job_name = '$job'");
	my $offset = -s $target->logfile;
	$target->safe_psql('postgres', "SELECT pg_log_backend_memory_contexts($pid)");
	$target->wait_for_log(qr/\[$pid\] LOG:  level: 0; TopMemoryContext: /, $offset);
	my $log = slurp_file($target->logfile, $offset);
	$log =~ /\[$pid\] LOG:  level: 0; TopMemoryContext: \d+ total in \d+ blocks; \d+ free \(\d+ chunks\); (\d+) used/
	  or die "no TopMemoryContext line for $pid";
	return $1;
}

# transactions: $n single-row transactions on both sources, applied
sub transactions
{
	my ($n) = @_;
	transactions_nowait($n);
	for my $job (qw(pgjob myjob))
	{
		$target->safe_psql('postgres', "SELECT tributary.wait_for_sync('$job', '300 s')") eq 't'
		  or die "$job did not sync";
	}
}

# transactions_nowait: $n single-row transactions on both sources
sub transactions_nowait
{
	my ($n) = @_;
	$source->safe_psql('postgres', qq{
		DO \$\$ BEGIN FOR i IN 1..$n LOOP
			UPDATE public.m SET n = n + 1 WHERE id = i % 100 + 1; COMMIT;
		END LOOP; END \$\$;
	});
	$my->sql(qq{
		USE shop;
		DELIMITER //
		CREATE OR REPLACE PROCEDURE churn(n INT) BEGIN
			DECLARE i INT DEFAULT 0;
			WHILE i < n DO UPDATE shop.m SET n = n + 1 WHERE id = i % 100 + 1; SET i = i + 1; END WHILE;
		END //
		DELIMITER ;
		SET autocommit = 1;
		CALL churn($n);
	});
}

# the lag during a catch-up counts what the source has, not what was received
for my $job (qw(pgjob myjob))
{
	$target->safe_psql('postgres', "SELECT tributary.stop_job('$job')");
	ok($target->poll_query_until('postgres', "SELECT state = 'stopped' FROM tributary.jobs WHERE job_name = '$job'"),
		"$job stopped");
}
transactions_nowait(30000);
# (a MariaDB catch-up of single-row transactions is over too fast to be
# seen: give it 600,000 row changes in three transactions)
$my->sql(q{UPDATE shop.lagt SET n = n + 1; UPDATE shop.lagt SET n = n + 1; UPDATE shop.lagt SET n = n + 1});
for my $job (qw(pgjob myjob))
{
	$target->safe_psql('postgres', "SELECT tributary.start_job('$job')");
	ok($target->poll_query_until('postgres',
			"SELECT lag_bytes > 0 AND lag_seconds > 0 FROM tributary.jobs WHERE job_name = '$job'"),
		"$job: lag_bytes and lag_seconds are above 0 while it catches up");
	is($target->safe_psql('postgres', "SELECT tributary.wait_for_sync('$job', '300 s')"), 't', "$job caught up");
	ok($target->poll_query_until('postgres',
			"SELECT lag_bytes = 0 AND lag_seconds = 0 FROM tributary.jobs WHERE job_name = '$job'"),
		"$job: the lag is 0 again");
}

# warm up (plans, caches, the relation map), then measure
transactions(2000);
my %before = map { $_ => top_context_used($_) } qw(pgjob myjob);
transactions($TXNS);
for my $job (qw(pgjob myjob))
{
	my $after = top_context_used($job);
	my $growth = $after - $before{$job};
	ok($growth < 65536, "$job: TopMemoryContext grew by $growth bytes over $TXNS source transactions ($before{$job} -> $after)");
}
is(digest($target, 'SELECT * FROM p.m'), digest($source, 'SELECT * FROM public.m'), 'the PostgreSQL job is exact');
is($target->safe_psql('postgres', 'SELECT sum(n) FROM y.m'), $my->sql('SELECT SUM(n) FROM shop.m'), 'the MariaDB job is exact');
is($target->safe_psql('postgres', 'SELECT count(*) || \' \' || sum(n) FROM y.lagt'), '200000 600000', 'and its large table too');

$target->stop;
$my->stop;
$source->stop;
done_testing();
