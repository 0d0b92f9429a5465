# 005_cdc.pl -- change capture from a PostgreSQL source with
# tributary_decoder: full+cdc under concurrent writes, every kind of change,
# exactly once through kill -9 of the target and a source restart, cdc
# mode, DML policies, checkpoints and slot feedback.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use TributaryTest;

my $source = PostgreSQL::Test::Cluster->new('source');
$source->init(allows_streaming => 'logical');
$source->append_conf('postgresql.conf', qq{
output_plugin_libraries = 'pgoutput, test_decoding, tributary_decoder'
wal_sender_timeout = 10s
});
$source->start;
$source->safe_psql('postgres', q{
	CREATE TABLE public.accounts (id int PRIMARY KEY, owner text, balance numeric(14,2), tags text[],
	                              doc jsonb, updated timestamptz DEFAULT now());
	CREATE TABLE public.items (region text, id int, qty int, note text, PRIMARY KEY (region, id));
	CREATE TABLE public.docs (id int PRIMARY KEY, body text, version int);
	ALTER TABLE public.docs ALTER COLUMN body SET STORAGE EXTERNAL;
	CREATE TABLE public.events (id bigint PRIMARY KEY, kind text);
	ALTER TABLE public.accounts REPLICA IDENTITY FULL;
	ALTER TABLE public.items REPLICA IDENTITY FULL;
	ALTER TABLE public.docs REPLICA IDENTITY FULL;
	ALTER TABLE public.events REPLICA IDENTITY FULL;
	INSERT INTO public.accounts (id, owner, balance, tags, doc)
	SELECT g, 'owner ' || g, g * 10.5, ARRAY['t' || g % 3], jsonb_build_object('g', g) FROM generate_series(1, 20000) g;
	INSERT INTO public.items SELECT (ARRAY['eu', 'us'])[g % 2 + 1], g, g % 50, 'n' || g FROM generate_series(1, 5000) g;
	INSERT INTO public.docs SELECT g, repeat(md5(g::text), 400), 1 FROM generate_series(1, 50) g;
});

my $target = target_node('target');
my $src_conn = pg_conninfo($source);
$target->safe_psql('postgres', qq{
	SELECT tributary.create_source('src', 'postgresql', '$src_conn', '{"reconnect_timeout": 60}');
	SELECT tributary.create_job('sync', 'src', 'full+cdc',
		'{"snapshot_chunk_rows": 3000, "execution.checkpointing.interval": 200, "state.checkpoints.num-retained": 3,
		  "restart-strategy.type": "fixed-delay", "restart-strategy.fixed-delay.delay": "200 ms"}');
	SELECT tributary.add_table('sync', 'public.accounts');
	SELECT tributary.add_table('sync', 'public.items');
	SELECT tributary.add_table('sync', 'public.docs');
});

my @tables = qw(accounts items docs);
sub same_data
{
	my ($msg) = @_;
	for my $t (@tables)
	{
		is(digest($target, "SELECT * FROM public.$t"), digest($source, "SELECT * FROM public.$t"), "$msg: $t");
	}
}

sub sync
{
	my ($job) = @_;
	$job //= 'sync';
	is($target->safe_psql('postgres', "SELECT tributary.wait_for_sync('$job', '180 s')"), 't',
		"wait_for_sync($job)");
}

# a writer that keeps changing the source while the job snapshots
my $writer = start_writer($source, q{
		FOR i IN 1..3000 LOOP
			UPDATE public.accounts SET balance = balance + 1, updated = now() WHERE id = (i * 7) % 20000 + 1;
			INSERT INTO public.accounts (id, owner, balance) VALUES (100000 + i, 'new ' || i, i);
			DELETE FROM public.accounts WHERE id = (i * 13) % 20000 + 1;
			UPDATE public.items SET qty = qty + 1 WHERE region = 'eu' AND id = (i * 2) % 5000;
			COMMIT;
		END LOOP;
});

$target->safe_psql('postgres', "SELECT tributary.start_job('sync')");
ok($target->poll_query_until('postgres', "SELECT phase IS NOT NULL FROM tributary.jobs WHERE job_name = 'sync'"),
	'the job reports a phase');
$writer->quit;
sync();
same_data('full+cdc under concurrent writes');
ok($target->log_contains('pg_tributary job "sync" streams from [0-9A-F]+/[0-9A-F]+ of source "src" with binary values'),
	'same types on both sides: values are streamed in binary');
is($target->safe_psql('postgres', q{SELECT state || ' ' || phase FROM tributary.jobs WHERE job_name = 'sync'}),
	'running streaming', 'the job is streaming after catch-up');
is($target->safe_psql('postgres', q{SELECT string_agg(state, ',' ORDER BY source_table) FROM tributary.tables WHERE job_name = 'sync'}),
	'streaming,streaming,streaming', 'every table is streaming');

# every kind of change
$source->safe_psql('postgres', q{
	INSERT INTO public.accounts (id, owner, balance) VALUES (-1, E'quote '' tab\t nl\n', NULL);
	UPDATE public.accounts SET owner = NULL, tags = NULL, doc = '{"x": [1, {"y": null}]}' WHERE id = 2;
	UPDATE public.accounts SET id = 900000 WHERE id = 3;                      -- key change
	UPDATE public.items SET region = 'ap', id = id + 1000000 WHERE id < 10;   -- composite key change
	DELETE FROM public.items WHERE id BETWEEN 100 AND 200;
	UPDATE public.docs SET version = version + 1 WHERE id <= 10;              -- unchanged TOASTed body
	UPDATE public.docs SET body = repeat('x', 30000) WHERE id = 11;           -- new TOASTed body
	BEGIN;
	INSERT INTO public.accounts (id, owner) SELECT g, 'tx' FROM generate_series(200001, 230000) g;
	UPDATE public.accounts SET balance = 0 WHERE id BETWEEN 200001 AND 210000;
	DELETE FROM public.accounts WHERE id BETWEEN 210001 AND 215000;
	COMMIT;
});
sync();
same_data('inserts, updates, key changes, deletes, TOAST, a 45000-change transaction');

# checkpoints: retained per num-retained, position committed with the data
is($target->safe_psql('postgres', "SELECT count(*) <= 3 AND count(*) >= 1 FROM tributary.checkpoints WHERE job_name = 'sync'"),
	't', 'checkpoints are retained per state.checkpoints.num-retained');
my $slot = $target->safe_psql('postgres', "SELECT job_slot FROM tributary.job WHERE job_name = 'sync'");
ok($slot =~ /^tributary_\d+_\d+$/, 'the job has a slot on the source');
ok( $source->poll_query_until('postgres',
		"SELECT confirmed_flush_lsn >= pg_current_wal_insert_lsn() - 1000000 FROM pg_replication_slots WHERE slot_name = '$slot'"),
	'the slot is confirmed as the target flushes');

# a table added to the running job is copied, caught up and streamed
$source->safe_psql('postgres', 'ALTER TABLE public.events REPLICA IDENTITY FULL');
$source->safe_psql('postgres', q{INSERT INTO public.events SELECT g, 'e' || g FROM generate_series(1, 2000) g});
$target->safe_psql('postgres', "SELECT tributary.add_table('sync', 'public.events')");
$source->safe_psql('postgres', q{UPDATE public.events SET kind = 'changed' WHERE id <= 10; INSERT INTO public.events VALUES (5000, 'late')});
sync();
is(digest($target, 'SELECT * FROM public.events'), digest($source, 'SELECT * FROM public.events'),
	'a table added to a running job');
push @tables, 'events';

# WAL that holds nothing for the job: heartbeats keep the slot advancing over it
my $wal_end = $source->safe_psql('postgres', q{
	CREATE TABLE public.unrelated (id int PRIMARY KEY, v text);
	INSERT INTO public.unrelated SELECT g, md5(g::text) FROM generate_series(1, 20000) g;
	SELECT pg_current_wal_insert_lsn()});
ok( $source->poll_query_until('postgres',
		"SELECT confirmed_flush_lsn >= '$wal_end' FROM pg_replication_slots WHERE slot_name = '$slot'"),
	'the slot advances past WAL of other tables');

# truncate
$source->safe_psql('postgres', 'TRUNCATE public.items');
$source->safe_psql('postgres', q{INSERT INTO public.items VALUES ('eu', 1, 1, 'after truncate')});
sync();
same_data('truncate');

# kill -9 of the target while changes are applied
$writer = start_writer($source, q{
		FOR i IN 1..4000 LOOP
			INSERT INTO public.accounts (id, owner, balance) VALUES (300000 + i, 'k' || i, i);
			UPDATE public.accounts SET balance = balance * 2 WHERE id = 300000 + i / 2;
			COMMIT;
		END LOOP;
});
ok($target->poll_query_until('postgres', 'SELECT count(*) > 200 FROM public.accounts WHERE id > 300000'),
	'changes are being applied');
ok(crash_instance($target) > 0, 'kill -9 of the target during streaming');
ok($target->poll_query_until('postgres', "SELECT state = 'running' FROM tributary.jobs WHERE job_name = 'sync'"),
	'the job runs again after crash recovery');
ok(crash_instance($target) > 0, 'a second kill -9 during streaming');
$writer->quit;
sync();
same_data('exactly once after two kill -9 of the target');

# the source restarts: the worker reconnects within reconnect_timeout
$source->restart;
$source->safe_psql('postgres', q{INSERT INTO public.accounts (id, owner) VALUES (400001, 'after restart')});
sync();
same_data('after a source restart');
is($target->safe_psql('postgres', "SELECT string_agg(DISTINCT status, ',') FROM tributary.runs WHERE job_name = 'sync' AND run_id = (SELECT max(run_id) FROM tributary.runs WHERE job_name = 'sync')"),
	'running', 'the reconnect happened within the same run');

# stop and start: nothing is lost while stopped
$target->safe_psql('postgres', "SELECT tributary.stop_job('sync')");
ok($target->poll_query_until('postgres', "SELECT state = 'stopped' FROM tributary.jobs WHERE job_name = 'sync'"),
	'stopped');
$source->safe_psql('postgres', q{UPDATE public.accounts SET owner = 'while stopped' WHERE id < 100});
$target->safe_psql('postgres', "SELECT tributary.start_job('sync')");
sync();
same_data('changes made while the job was stopped');

# resync_table: a drifted target table is copied again while the source
# takes writes; the other tables stream on from the checkpoint
# (resync first: a strict stream would stop on an update of a missing row)
$target->safe_psql('postgres', 'DELETE FROM public.items WHERE id % 4 = 0');
$target->safe_psql('postgres', "SELECT tributary.resync_table('sync', 'public.items')");
ok($target->poll_query_until('postgres', "SELECT state <> 'init' FROM tributary.tables WHERE job_name = 'sync' AND source_table = 'public.items'"),
	'a new worker plans the copy (the old one is gone)');
my $resync_writer = start_writer($source, q{
	FOR i IN 1..300 LOOP
		UPDATE public.items SET qty = qty + 1 WHERE id = 1 + (i * 13) % 1000;
		UPDATE public.accounts SET balance = balance + 1 WHERE id = i;
		COMMIT;
	END LOOP;});
$resync_writer->quit;
sync();
same_data('after resync_table under writes');
ok($target->poll_query_until('postgres', "SELECT state = 'streaming' FROM tributary.tables WHERE job_name = 'sync' AND source_table = 'public.items'"),
	'the resynced table streams again once the stream passed its new view');

# cdc mode: changes from now, applied as upserts; dml policy ignores deletes
$source->safe_psql('postgres', q{
	CREATE TABLE public.log (id int PRIMARY KEY, v text);
	ALTER TABLE public.log REPLICA IDENTITY FULL;
	INSERT INTO public.log VALUES (1, 'before the job');
});
$target->safe_psql('postgres', q{
	SELECT tributary.create_job('logcdc', 'src', 'cdc', '{"dml": {"delete": "ignore"}}');
	SELECT tributary.add_table('logcdc', 'public.log');
	-- target columns the source does not have: defaults in new rows, kept in updates
	ALTER TABLE public.log ADD COLUMN synced_at timestamptz NOT NULL DEFAULT clock_timestamp(),
		ADD COLUMN origin text DEFAULT 'cdc';
	-- a row trigger on the target enabled for replicas fires for every
	-- applied change; an ordinary one does not (as on a subscriber)
	CREATE TABLE public.log_audit (op text, id int);
	CREATE FUNCTION public.log_audit() RETURNS trigger LANGUAGE plpgsql AS $$
	BEGIN INSERT INTO public.log_audit VALUES (TG_OP, coalesce(NEW.id, OLD.id)); RETURN NULL; END $$;
	CREATE TRIGGER log_audit AFTER INSERT OR UPDATE OR DELETE ON public.log
		FOR EACH ROW EXECUTE FUNCTION public.log_audit();
	ALTER TABLE public.log ENABLE ALWAYS TRIGGER log_audit;
	CREATE FUNCTION public.log_audit_origin() RETURNS trigger LANGUAGE plpgsql AS $$
	BEGIN INSERT INTO public.log_audit VALUES ('ORIGIN ' || TG_OP, 0); RETURN NULL; END $$;
	CREATE TRIGGER log_audit_origin AFTER INSERT OR UPDATE OR DELETE ON public.log
		FOR EACH ROW EXECUTE FUNCTION public.log_audit_origin();
	SELECT tributary.start_job('logcdc');
});
ok($target->poll_query_until('postgres', "SELECT phase = 'streaming' FROM tributary.jobs WHERE job_name = 'logcdc'"),
	'the cdc job streams');
$source->safe_psql('postgres', q{
	INSERT INTO public.log VALUES (2, 'two'), (3, 'three');
	UPDATE public.log SET v = 'one!' WHERE id = 1;
	DELETE FROM public.log WHERE id = 3;
});
sync('logcdc');
is($target->safe_psql('postgres', q{SELECT string_agg(id || ':' || v, ',' ORDER BY id) FROM public.log}),
	'1:one!,2:two,3:three', 'cdc: only changes after the start, an update of an uncopied row upserts, deletes ignored');
is($target->safe_psql('postgres', q{SELECT string_agg(op || ' ' || id, ',' ORDER BY id) FROM public.log_audit}),
	'INSERT 1,INSERT 2,INSERT 3', 'target row triggers fire once per applied change');
is($target->safe_psql('postgres', q{SELECT string_agg(DISTINCT origin, ',') || ' ' || bool_and(synced_at IS NOT NULL) FROM public.log}),
	'cdc true', 'new rows get the target defaults of columns the source lacks');
$target->safe_psql('postgres', q{UPDATE public.log SET origin = 'local' WHERE id = 2});
$source->safe_psql('postgres', q{UPDATE public.log SET v = 'two!' WHERE id = 2});
sync('logcdc');
is($target->safe_psql('postgres', q{SELECT v || ' ' || origin FROM public.log WHERE id = 2}),
	'two! local', 'updates keep the values of columns the source lacks');

# idempotent key changes: the target already holds the row under its new key
# (as a snapshot read after the change would), the old key is missing or not
$target->safe_psql('postgres', q{INSERT INTO public.log (id, v) VALUES (12, 'already moved'), (22, 'already there')});
$source->safe_psql('postgres', q{UPDATE public.log SET id = 12, v = 'moved' WHERE id = 1;
	INSERT INTO public.log VALUES (20, 'twenty'); UPDATE public.log SET id = 22, v = 'moved too' WHERE id = 20;});
sync('logcdc');
is($target->safe_psql('postgres', q{SELECT string_agg(id || ':' || v, ',' ORDER BY id) FROM public.log WHERE id IN (1, 12, 20, 22)}),
	'12:moved,22:moved too', 'a key-changing update upserts the new key and drops the old one when replayed');

# dirty data: skip keeps bad rows in tributary.dirty_rows up to the limit;
# the default policy fails the job naming the table, the column and the position
$source->safe_psql('postgres', q{
	CREATE TABLE public.measure (id int PRIMARY KEY, v numeric, note text);
	ALTER TABLE public.measure REPLICA IDENTITY FULL;
});
$target->safe_psql('postgres', q{
	CREATE TABLE public.measure (id int PRIMARY KEY, v numeric(5,2) CHECK (v >= 0), note text);
	CREATE TABLE public.measure_strict (id int PRIMARY KEY, v numeric(5,2) CHECK (v >= 0), note text);
	SELECT tributary.create_job('tolerant', 'src', 'full+cdc', '{"dirty_data": "skip", "dirty_data_limit": 3}');
	SELECT tributary.add_table('tolerant', 'public.measure');
	SELECT tributary.create_job('strict', 'src', 'full+cdc');
	SELECT tributary.add_table('strict', 'public.measure', 'public.measure_strict');
	SELECT tributary.start_job('tolerant');
	SELECT tributary.start_job('strict');
});
ok($target->poll_query_until('postgres', "SELECT count(*) = 2 FROM tributary.jobs WHERE job_name IN ('tolerant', 'strict') AND phase = 'streaming'"),
	'both dirty-data jobs stream');
ok($target->log_contains('pg_tributary job "tolerant" streams from [0-9A-F]+/[0-9A-F]+ of source "src" with text values'),
	'different types (numeric vs numeric(5,2)): values are streamed as text');
$source->safe_psql('postgres', q{
	INSERT INTO public.measure VALUES (1, 1.5, 'ok'), (2, -3, 'violates the check'), (3, 123456, 'overflows numeric(5,2)'), (4, 2.25, 'ok');
	UPDATE public.measure SET v = 4.75 WHERE id = 4;
});
sync('tolerant');
is($target->safe_psql('postgres', q{SELECT string_agg(id || ':' || v, ',' ORDER BY id) FROM public.measure}),
	'1:1.50,4:4.75', 'skip: the good rows are applied');
is($target->safe_psql('postgres', q{SELECT string_agg(row ->> 'id' || ' ' || (error ~ 'check constraint|numeric field overflow')::text, ',' ORDER BY row ->> 'id')
	  FROM tributary.dirty_rows WHERE job_name = 'tolerant'}),
	'2 true,3 true', 'skip: the bad rows are kept in dirty_rows with their error');
ok($target->poll_query_until('postgres', "SELECT state = 'failed' FROM tributary.jobs WHERE job_name = 'strict'"),
	'error (default): the job fails');
like($target->safe_psql('postgres', q{SELECT sqlstate || ' ' || message || ' | ' || context FROM tributary.errors WHERE job_name = 'strict'}),
	qr/^23514 new row for relation "measure_strict" violates check constraint .* \| .*pg_tributary job "strict": INSERT of source table \[public.measure\] into public.measure_strict, source transaction at [0-9A-F]+\/[0-9A-F]+/s,
	'the error names the job, the tables and the source position');
$source->safe_psql('postgres', q{INSERT INTO public.measure SELECT g, -g, 'bad' FROM generate_series(10, 11) g});
ok($target->poll_query_until('postgres', "SELECT state = 'failed' FROM tributary.jobs WHERE job_name = 'tolerant'"),
	'skip: the job fails past dirty_data_limit');
like($target->safe_psql('postgres', q{SELECT message FROM tributary.errors WHERE job_name = 'tolerant'}),
	qr/job "tolerant" passed its dirty data limit of 3 rows/, 'with an error that says so');
is($target->safe_psql('postgres', q{SELECT count(*) FROM tributary.dirty_rows WHERE job_name = 'tolerant'}),
	'2', 'the transaction that passed the limit was not committed');
$target->safe_psql('postgres', q{SELECT tributary.drop_job('tolerant'); SELECT tributary.drop_job('strict');});

# drop_job drops the slot on the source
$target->safe_psql('postgres', "SELECT tributary.drop_job('logcdc')");
is($source->safe_psql('postgres', "SELECT count(*) FROM pg_replication_slots WHERE slot_name LIKE 'tributary%'"),
	'1', 'drop_job dropped its slot');

# restart from scratch: a new slot, a new copy
$target->safe_psql('postgres', "SELECT tributary.restart_job('sync', false)");
sync();
same_data('restart_job(from_checkpoint => false)');
isnt($target->safe_psql('postgres', "SELECT job_slot FROM tributary.job WHERE job_name = 'sync'"), '',
	'the job has a slot again');
is($source->safe_psql('postgres', "SELECT count(*) FROM pg_replication_slots WHERE slot_name LIKE 'tributary%'"),
	'1', 'the old slot was replaced');

is($target->safe_psql('postgres', q{SELECT count(*) FROM tributary.errors WHERE job_name = 'sync'}), '0',
	'no run of the job failed (crashes aside)');

# add_tables over a PostgreSQL source: a pattern, an exclusion, a name template
$target->safe_psql('postgres', q{SELECT tributary.create_job('bypattern', 'src', 'full+cdc')});
is($target->safe_psql('postgres', q{SELECT tributary.add_tables('bypattern', 'public\.(accounts|items|docs)', 'pat', 'copy_${table}', 'public\.docs')}),
	'2', 'add_tables adds the matching PostgreSQL tables');
is($target->safe_psql('postgres', "SELECT string_agg(source_table || ' -> ' || target_table, ', ' ORDER BY source_table) FROM tributary.tables WHERE job_name = 'bypattern'"),
	'public.accounts -> pat.copy_accounts, public.items -> pat.copy_items', 'named by the template, the excluded table left out');

# the end-to-end checks every source kind runs (TributaryTest::shared_checks)
$source->safe_psql('postgres',
	'CREATE TABLE public.e2e (id int PRIMARY KEY, name text, qty int); ALTER TABLE public.e2e REPLICA IDENTITY FULL');
$target->safe_psql('postgres', q{
	CREATE SCHEMA shared;
	SELECT tributary.create_job('e2e', 'src', 'full+cdc', '{"snapshot_chunk_rows": 70, "parallelism.default": 2}');
	SELECT tributary.add_table('e2e', 'public.e2e', 'shared.e2e');
});
sub pg_literal { my ($v) = @_; return 'NULL' unless defined $v; $v =~ s/'/''/g; return "'$v'"; }
shared_checks(target => $target, job => 'e2e', target_table => 'shared.e2e', label => 'postgresql',
	exec => sub {
		my $sql = 'BEGIN;';
		for my $c (@_)
		{
			my ($op, $id, $name, $qty) = @$c;
			$sql .= $op eq 'insert' ? "INSERT INTO public.e2e VALUES ($id, " . pg_literal($name) . ', ' . pg_literal($qty) . ');'
			  : $op eq 'update' ? 'UPDATE public.e2e SET name = ' . pg_literal($name) . ', qty = ' . pg_literal($qty) . " WHERE id = $id;"
			  : "DELETE FROM public.e2e WHERE id = $id;";
		}
		$source->safe_psql('postgres', "$sql COMMIT;");
	});

$target->stop;
$source->stop;
done_testing();
