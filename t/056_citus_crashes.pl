# 056_citus_crashes.pl -- held-out test of distributed targets (issue 15,
# item 4), written from docs/distributed.md's contract: a Citus
# coordinator with two workers, a full+cdc job from a PostgreSQL source
# into a distributed and a reference table while a writer runs on the
# source (inserts, updates, key moves across shards, deletes), and kill -9
# of the coordinator and of a worker during the snapshot and during the
# stream.  Each kill is aimed at a two-phase commit: a function on a
# worker waits for a new Citus prepared transaction there and then sends
# SIGKILL to the victim's processes itself (COPY TO PROGRAM), so the kill
# lands between PREPARE TRANSACTION and COMMIT PREPARED as often as the
# timing allows.  Afterwards: the job syncs, both tables equal the source
# through the coordinator (no row lost or duplicated), the coordinator's
# own heaps stay empty, no prepared transaction is left on the workers,
# and tributary.jobs / runs / errors tell what happened.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use Time::HiRes qw(usleep time);
use FindBin;
use lib $FindBin::RealBin;
use TributaryTest;

my $libdir = `pg_config --pkglibdir`;
chomp $libdir;
ok(-f "$libdir/citus.so", 'Citus is installed')
  or BAIL_OUT('citus.so is missing: run bash ../shared/vendor/build-citus.sh');

my $t0 = time;
sub elapsed { return sprintf('%.1f s', time - $t0); }

# on each worker: wait (up to timeout seconds) for a Citus prepared
# transaction that was not there at the start, then kill -9 the given
# processes from the server itself; returns the prepared transaction's gid
# or 'timeout' (the kill is sent either way)
my $spy_function = q{
	CREATE FUNCTION public.kill_at_prepare(pids text, timeout_s float8) RETURNS text LANGUAGE plpgsql AS $$
	DECLARE
		seen text[];
		g text;
		deadline timestamptz := clock_timestamp() + timeout_s * interval '1 s';
	BEGIN
		SELECT coalesce(array_agg(gid), '{}') INTO seen FROM pg_prepared_xacts;
		LOOP
			SELECT gid INTO g FROM pg_prepared_xacts WHERE gid LIKE 'citus\_%' AND gid <> ALL (seen) LIMIT 1;
			EXIT WHEN g IS NOT NULL OR clock_timestamp() > deadline;
			PERFORM pg_sleep(0.0002);
		END LOOP;
		EXECUTE format('COPY (SELECT 1 WHERE false) TO PROGRAM %L', 'kill -9 ' || pids || ' 2>/dev/null; true');
		RETURN coalesce(g, 'timeout');
	END $$;};

my ($coord, $w1, $w2) = citus_cluster($spy_function);
is($coord->safe_psql('postgres', q{SELECT count(*) FROM citus_get_active_worker_nodes()}), '2', 'a coordinator with two workers');

my $nrows = 240000;
my $source = source_node('source', 1);
citus_targets($source, $coord, $nrows, 20000);

my $conn = pg_conninfo($source);
$coord->safe_psql('postgres', qq{
	SELECT tributary.create_source('pg', 'postgresql', '$conn');
	SELECT tributary.create_job('dist', 'pg', 'full+cdc',
		'{"snapshot_chunk_rows": 4000, "restart-strategy.type": "fixed-delay", "restart-strategy.fixed-delay.delay": "500 ms"}');
	SELECT tributary.add_table('dist', 'public.region');
	SELECT tributary.add_table('dist', 'public.orders');
});
is($coord->safe_psql('postgres', q{SELECT string_agg(source_table || ': ' || write_path, '; ' ORDER BY source_table) FROM tributary.tables}),
	'public.orders: citus distributed table, through the engine; public.region: citus reference table, through the engine',
	'tributary.tables shows the write path of each target');

# the writer: one small transaction per step; inserts, updates, key moves
# across shards (original rows and new ones), deletes (original rows and
# new ones), and the same on the reference table
my $writer_sql = qq{DO \$\$ DECLARE i bigint := 0; BEGIN
	LOOP
		i := i + 1;
		EXIT WHEN (SELECT stop FROM public.ctl);
		INSERT INTO public.orders VALUES (1000000 + i, i % 13, i, 'written ' || i);
		UPDATE public.orders SET amount = amount + 1, note = note || '.' WHERE id = 1 + (i * 7919) % $nrows;
		IF i % 3 = 0 THEN UPDATE public.orders SET id = id + 2000000 WHERE id = 1 + (i * 104729) % $nrows; END IF;
		IF i % 5 = 0 THEN UPDATE public.orders SET id = id + 500000 WHERE id = 1000000 + i - 2; END IF;
		IF i % 4 = 0 THEN DELETE FROM public.orders WHERE id = 1 + (i * 15485863) % $nrows; END IF;
		IF i % 7 = 0 THEN DELETE FROM public.orders WHERE id = 1000000 + i - 3; END IF;
		IF i % 5 = 0 THEN UPDATE public.region SET name = name || '+' WHERE code = 'r' || (1 + (i * 31) % 20000); END IF;
		IF i % 10 = 0 THEN INSERT INTO public.region VALUES ('w' || i, 'written ' || i); END IF;
		IF i % 15 = 0 THEN DELETE FROM public.region WHERE code = 'r' || (1 + (i * 7877) % 20000); END IF;
		IF i % 20 = 0 THEN UPDATE public.region SET code = code || 'm' WHERE code = 'w' || (i - 10); END IF;
		COMMIT;
		PERFORM pg_sleep(0.01);
	END LOOP;
END \$\$;};
my $writer = IPC::Run::start(['psql', '-XAtq', '-d', $source->connstr('postgres'), '-c', $writer_sql],
	'>', \my $wout, '2>', \my $werr);

my $job_state = q{SELECT j.state || '/' || coalesce(j.phase, '-') || ' run ' || j.run_id || '; '
	|| (SELECT string_agg(source_table || ' ' || t.state || ' ' || rows_copied || ' rows ' || chunks_done || '/' || chunks_total
		|| ' chunks', ', ' ORDER BY source_table) FROM tributary.tables t WHERE t.job_name = 'dist')
	FROM tributary.jobs j WHERE j.job_name = 'dist'};
my $copied = q{SELECT rows_copied FROM tributary.tables WHERE job_name = 'dist' AND source_table = 'public.orders'};
my $copying = q{SELECT state = 'snapshot' FROM tributary.tables WHERE job_name = 'dist' AND source_table = 'public.orders'};

# children: the pids of an instance's processes but the postmaster
sub children
{
	my ($node) = @_;
	my $pm = $node->{_pid} or die "node is not running";
	return grep { /^\d+$/ } split /\s+/, `pgrep -P $pm`;
}

# kill_at_prepare: kill -9 the victim's processes as soon as $spy (a
# worker) shows a new Citus prepared transaction (or after 15 s); returns
# the gid seen or 'timeout'.  The postmaster of the victim reinitializes
# and runs crash recovery; returns once it accepts connections.
sub kill_at_prepare
{
	my ($spy, $victim) = @_;
	my @pids = children($victim);
	my $list = join(' ', @pids);
	my ($rc, $out, $err) = $spy->psql('postgres', qq{SELECT public.kill_at_prepare('$list', 15)});
	kill 'KILL', @pids;
	wait_recovered($victim, @pids);
	return $spy == $victim ? '(spy killed)' : $out;
}

# poll: until the query returns t on the node, or timeout seconds pass
# (a query error counts as not yet: an instance in crash recovery)
sub poll
{
	my ($node, $query, $timeout) = @_;
	my $end = time + $timeout;
	while (time < $end)
	{
		my ($rc, $out) = $node->psql('postgres', $query);
		return 1 if $rc == 0 && $out eq 't';
		usleep(100_000);
	}
	return 0;
}

# stalled: what the job says when it does not go on
sub stalled
{
	diag('job: ' . $coord->safe_psql('postgres', $job_state) . "\nlast errors:\n"
		. $coord->safe_psql('postgres', q{SELECT string_agg(run_id || ' ' || coalesce(sqlstate, '-') || ' ' || message
			|| coalesce(' | ' || detail, ''), E'\n' ORDER BY at DESC) FROM (SELECT * FROM tributary.errors
			WHERE job_name = 'dist' ORDER BY at DESC LIMIT 5) e}));
	return;
}

my $prepared = q{SELECT coalesce(string_agg(gid, ' ' ORDER BY gid), '') FROM pg_prepared_xacts};
sub prepared_note
{
	return sprintf('prepared transactions now: worker1 [%s], worker2 [%s]',
		$w1->safe_psql('postgres', $prepared), $w2->safe_psql('postgres', $prepared));
}

sub run_id { return $coord->safe_psql('postgres', q{SELECT run_id FROM tributary.jobs WHERE job_name = 'dist'}); }

$coord->safe_psql('postgres', q{SELECT tributary.start_job('dist')});

# 1. kill -9 of the coordinator during the snapshot
ok(poll($coord, qq{SELECT ($copied) >= 40000}, 120), 'the snapshot of the distributed table is under way') or stalled();
my $state = $coord->safe_psql('postgres', $job_state);
note(elapsed() . ": before the coordinator's kill: $state");
is($coord->safe_psql('postgres', $copying), 't', 'the distributed table is still being copied just before the kill');
my $run = run_id();
my $hit = kill_at_prepare($w1, $coord);
my $coord_kills = 1;
note(elapsed() . ": coordinator killed (prepared transaction seen on worker 1: $hit); " . prepared_note());
ok($coord->poll_query_until('postgres', qq{SELECT run_id > $run AND pid IS NOT NULL AND state = 'running'
	FROM tributary.jobs WHERE job_name = 'dist'}), 'the job runs again after the coordinator\'s crash recovery');
note(elapsed() . ': after it: ' . $coord->safe_psql('postgres', $job_state));

# 2. kill -9 of a worker during the snapshot
my $before = $coord->safe_psql('postgres', $copied);
ok(poll($coord, qq{SELECT ($copied) >= $before + 40000}, 120), 'the snapshot goes on after the crash') or stalled();
$state = $coord->safe_psql('postgres', $job_state);
note(elapsed() . ": before worker 2's kill: $state");
is($coord->safe_psql('postgres', $copying), 't', 'the distributed table is still being copied just before the worker\'s kill');
$hit = kill_at_prepare($w2, $w2);
note(elapsed() . ': worker 2 killed; ' . prepared_note());
ok(poll($coord, q{SELECT state = 'running' AND phase = 'streaming'
	FROM tributary.jobs WHERE job_name = 'dist'}, 150), 'the job finishes its snapshot and streams') or stalled();
note(elapsed() . ': ' . $coord->safe_psql('postgres', $job_state));

# 3. kills during streaming, each aimed at a two-phase commit of the job
my $inserted = q{SELECT coalesce(max(id), 0) FROM public.orders WHERE id BETWEEN 1000000 AND 1499999};
my @kills = ([ 'worker 1', $w1, $w1 ], [ 'the coordinator', $w2, $coord ], [ 'worker 2', $w2, $w2 ],
	[ 'the coordinator', $w1, $coord ]);
for my $k (@kills)
{
	my ($what, $spy, $victim) = @$k;
	my $mark = $coord->safe_psql('postgres', $inserted);
	my $src = $source->safe_psql('postgres', q{SELECT max(id) FROM public.orders WHERE id BETWEEN 1000000 AND 1499999});
	if (!ok(poll($coord, "SELECT ($inserted) > $mark + 100", 90),
		"the stream goes on before the kill of $what (target at $mark, source at $src)"))
	{
		stalled();
		last;
	}
	$run = run_id();
	$hit = kill_at_prepare($spy, $victim);
	$coord_kills++ if $victim == $coord;
	note(elapsed() . ": $what killed during streaming (prepared transaction seen: $hit); " . prepared_note());
	if ($victim == $coord)
	{
		ok(poll($coord, qq{SELECT run_id > $run AND pid IS NOT NULL AND state = 'running'
			FROM tributary.jobs WHERE job_name = 'dist'}, 60), "a new run starts after the crash of $what");
	}
}

# the writer stops; last changes of many rows at once
$source->safe_psql('postgres', q{UPDATE public.ctl SET stop = true});
$writer->finish;
is($werr, '', 'the writer ran without errors');
note('writer steps: ' . $source->safe_psql('postgres', q{SELECT max(id) - 1000000 FROM public.orders WHERE id BETWEEN 1000000 AND 1499999}));
$source->safe_psql('postgres', q{
	UPDATE public.orders SET id = id + 3000000 WHERE id BETWEEN 1 AND 200;
	DELETE FROM public.orders WHERE id BETWEEN 201 AND 300;
	INSERT INTO public.region VALUES ('new', 'added last');
});

is($coord->safe_psql('postgres', q{SELECT tributary.wait_for_sync('dist', '120 s')}), 't', 'the job syncs') or stalled();
note(elapsed() . ': ' . $coord->safe_psql('postgres', $job_state));

my $orders = q{SELECT id, customer, amount, note FROM public.orders};
my $region = q{SELECT code, name FROM public.region};
my $orders_ok = is(digest($coord, $orders), digest($source, $orders),
	'the distributed table equals the source, read through the coordinator');
my $region_ok = is(digest($coord, $region), digest($source, $region), 'the reference table equals the source');

# rows lost, duplicated or different, by key
for my $t ([ 'orders', 'id', $orders_ok, $orders ], [ 'region', 'code', $region_ok, $region ])
{
	my ($table, $key, $ok, $query) = @$t;
	is($coord->safe_psql('postgres', "SELECT count(*) - count(DISTINCT $key) FROM public.$table"), '0',
		"no key of $table appears twice through the coordinator");
	next if $ok;
	my %src = map { my ($k, $r) = split /\t/, $_, 2; ($k => $r) }
	  split /\n/, $source->safe_psql('postgres', "SELECT $key || chr(9) || r::text FROM ($query) r");
	my %dst = map { my ($k, $r) = split /\t/, $_, 2; ($k => $r) }
	  split /\n/, $coord->safe_psql('postgres', "SELECT $key || chr(9) || r::text FROM ($query) r");
	my @lost = grep { !exists $dst{$_} } sort keys %src;
	my @extra = grep { !exists $src{$_} } sort keys %dst;
	my @diff = grep { exists $dst{$_} && $dst{$_} ne $src{$_} } sort keys %src;
	diag(sprintf("%s: %d rows lost (%s), %d rows extra (%s), %d rows differ (%s)", $table,
		scalar @lost, join(' ', @lost[0 .. ($#lost < 19 ? $#lost : 19)]),
		scalar @extra, join(' ', @extra[0 .. ($#extra < 19 ? $#extra : 19)]),
		scalar @diff, join(' ', map { "$_: source $src{$_} target $dst{$_}" } @diff[0 .. ($#diff < 9 ? $#diff : 9)])));
}

is($coord->safe_psql('postgres', q{SELECT pg_relation_size('public.orders') + pg_relation_size('public.region')}), '0',
	'the coordinator\'s own heaps of both tables stay empty');
is($coord->safe_psql('postgres', q{SELECT count(DISTINCT nodeport) FROM citus_shards WHERE table_name = 'public.orders'::regclass}),
	'2', 'the distributed table has shards on both workers');

# no prepared transaction is left on the workers (Citus's recovery, within a minute)
my $t_prep = time;
for my $w ([ 'worker 1', $w1 ], [ 'worker 2', $w2 ])
{
	my ($name, $node) = @$w;
	ok($node->poll_query_until('postgres', q{SELECT count(*) = 0 FROM pg_prepared_xacts}),
		"no prepared transaction is left on $name")
	  or diag("left on $name: " . $node->safe_psql('postgres', $prepared));
}
note(sprintf('%s: prepared transactions gone %.1f s after the sync', elapsed(), time - $t_prep));
# (Citus deletes its records of committed transactions at its next recovery)
ok(poll($coord, q{SELECT count(*) = 0 FROM pg_dist_transaction}, 150),
	'and the coordinator eventually keeps no record of one (pg_dist_transaction)')
  or diag('pg_dist_transaction: ' . $coord->safe_psql('postgres', q{SELECT count(*) FROM pg_dist_transaction}));
note(sprintf('%s: pg_dist_transaction empty %.1f s after the sync', elapsed(), time - $t_prep));

# what the catalog says
is($coord->safe_psql('postgres', q{SELECT state || ' ' || phase || ' ' || (pid IS NOT NULL)
	FROM tributary.jobs WHERE job_name = 'dist'}), 'running streaming true', 'tributary.jobs: the job streams');
note("tributary.jobs: " . $coord->safe_psql('postgres', q{SELECT row_to_json(j) FROM tributary.jobs j WHERE job_name = 'dist'}));
note("tributary.runs:\n" . $coord->safe_psql('postgres', q{SELECT run_id || ' ' || status || ' crashed=' || crashed || ' '
	|| coalesce(message, '') FROM tributary.runs WHERE job_name = 'dist' ORDER BY run_id}));
note("tributary.errors:\n" . $coord->safe_psql('postgres', q{SELECT run_id || ' ' || coalesce(sqlstate, '-') || ' ' || message
	|| coalesce(' | ' || detail, '') FROM tributary.errors WHERE job_name = 'dist' ORDER BY at}));
is($coord->safe_psql('postgres', q{SELECT count(*) FROM tributary.runs WHERE job_name = 'dist'
	AND status = 'failed' AND crashed AND message LIKE '%cut short by a server crash%'}), $coord_kills,
	"tributary.runs: the $coord_kills runs the coordinator's crashes cut short say so");
is($coord->safe_psql('postgres', q{SELECT string_agg(status, ',') FROM tributary.runs WHERE job_name = 'dist' AND status NOT IN ('failed')}),
	'running', 'tributary.runs: every run but the last ended failed, the last runs');
is($coord->safe_psql('postgres', q{SELECT count(*) FROM tributary.errors WHERE job_name = 'dist' AND (message IS NULL OR message = '')}),
	'0', 'tributary.errors: every error has a message');
is($coord->safe_psql('postgres', q{SELECT count(*) FROM tributary.runs r WHERE job_name = 'dist' AND status = 'failed'
	AND NOT crashed AND NOT EXISTS (SELECT FROM tributary.errors e WHERE e.run_id = r.run_id)}),
	'0', 'tributary.errors: every failed run that was not cut short by a crash has its error');

done_testing();
