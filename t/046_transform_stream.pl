# 046_transform_stream.pl -- column expressions and row filters applied in
# the change stream, not only in the snapshot.  One PostgreSQL source read
# by two full+cdc jobs (tributary_decoder and pgoutput) and a MariaDB
# source read by a third, each table with computed columns, masked columns
# (mask, mask_hash), metadata columns (source_table, source_op,
# source_commit_time, source_position) and a filter.  Writers run on the
# sources while the jobs copy and stream, moving rows into and out of the
# filter, changing keys, deleting and inserting passing and non-passing
# rows; the targets are compared with the rows computed independently with
# SQL on each source: after the snapshot, after explicit changes (single-
# and multi-row statements, updates leaving TOASTed values alone), and
# after a copy again (resync_table) and a stop and start under writes.
# Streamed rows' commit times are compared with the source's own commit
# timestamps.  A cdc job with a filter and a computed column; what
# add_table refuses.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep time);
use FindBin;
use lib $FindBin::RealBin;
use TributaryTest;
use MariaDBNode;

my $FILTER = q{amount >= 100 AND status <> 'x'};
# target column -> expression; the pgoutput job leaves the key out (mapped automatically)
my $COLUMNS = q[{"id": "id",
	"name_up": "upper(name)",
	"amount2": "amount * 2",
	"due": "(created + interval '30 days')::date",
	"phone_m": "tributary.mask(phone, 3, 4)",
	"phone_h": "tributary.mask_hash(phone, 'pepper')",
	"status": "status",
	"ver": "ver",
	"src": "tributary.source_table()",
	"op": "tributary.source_op()",
	"committed": "tributary.source_commit_time()",
	"pos": "tributary.source_position()"}];
(my $COLUMNS_NOKEY = $COLUMNS) =~ s/"id": "id",\s*//;
my $DOC_COLUMNS = q[{"id": "id", "n2": "n * 2", "note_len": "length(note)", "note_md5": "md5(note)", "op": "tributary.source_op()"}];
my $DOC_FILTER = q{n % 3 <> 0 AND length(note) > 100};

# ---------------------------------------------------------------- sources
my $source = source_node('source', 1);
# commit timestamps on the source: a streamed row's source_commit_time()
# must be the commit time of the source transaction that last wrote it
$source->append_conf('postgresql.conf', "track_commit_timestamp = on\n");
$source->restart;
$source->safe_psql('postgres', q{
	CREATE SCHEMA shop;
	CREATE TABLE shop.ctl (k int PRIMARY KEY, stop boolean NOT NULL);
	INSERT INTO shop.ctl VALUES (1, false);
	CREATE TABLE shop.orders (id int PRIMARY KEY, name text NOT NULL, amount numeric(10,2) NOT NULL,
		status text, phone text NOT NULL, created timestamp NOT NULL, ver int NOT NULL DEFAULT 0);
	ALTER TABLE shop.orders REPLICA IDENTITY FULL;
	-- rows 1..20000 are the writer's; 20001..20100 are changed only by the explicit batch
	INSERT INTO shop.orders
	SELECT g, 'name ' || g, g % 200, CASE WHEN g % 10 = 0 THEN 'x' WHEN g % 37 = 0 THEN NULL ELSE 'ok' END,
		   '138' || lpad(g::text, 8, '0'), timestamp '2024-01-01' + g * interval '1 hour', 0
	  FROM generate_series(1, 20000) g;
	INSERT INTO shop.orders
	SELECT g, 'quiet ' || g, CASE WHEN g <= 20050 OR g = 20099 THEN 150 ELSE 50 END,
		   CASE WHEN g = 20099 THEN NULL ELSE 'ok' END,
		   '138' || lpad(g::text, 8, '0'), timestamp '2024-01-01' + g * interval '1 hour', 0
	  FROM generate_series(20001, 20100) g;
	-- TOASTed values: an update that leaves them alone sends no new value (pgoutput)
	CREATE TABLE shop.docs (id int PRIMARY KEY, n int NOT NULL, note text NOT NULL);
	ALTER TABLE shop.docs ALTER COLUMN note SET STORAGE EXTERNAL;
	ALTER TABLE shop.docs REPLICA IDENTITY FULL;
	INSERT INTO shop.docs SELECT g, g, CASE WHEN g % 2 = 1 THEN repeat(md5(g::text), 200) ELSE 'short' END FROM generate_series(1, 40) g;
	CREATE TABLE shop.events (id int PRIMARY KEY, kind text NOT NULL, qty int NOT NULL);
	ALTER TABLE shop.events REPLICA IDENTITY FULL;
	INSERT INTO shop.events SELECT g, CASE WHEN g % 2 = 0 THEN 'keep' ELSE 'drop' END, g FROM generate_series(1, 1000) g;
});

my $my = MariaDBNode->new('xform');
$my->sql(q{
	CREATE DATABASE shop;
	USE shop;
	CREATE TABLE ctl (k INT PRIMARY KEY, stop INT NOT NULL);
	INSERT INTO ctl VALUES (1, 0);
	CREATE TABLE orders (id INT PRIMARY KEY, name VARCHAR(40) NOT NULL, amount DECIMAL(10,2) NOT NULL,
		status VARCHAR(5), phone VARCHAR(20) NOT NULL, created DATETIME NOT NULL, ver INT NOT NULL DEFAULT 0);
	INSERT INTO orders
	SELECT seq, CONCAT('name ', seq), seq % 200,
		   CASE WHEN seq % 10 = 0 THEN 'x' WHEN seq % 37 = 0 THEN NULL ELSE 'ok' END,
		   CONCAT('138', LPAD(seq, 8, '0')), TIMESTAMP'2024-01-01 00:00:00' + INTERVAL seq HOUR, 0
	  FROM seq_1_to_20000;
	INSERT INTO orders
	SELECT seq, CONCAT('quiet ', seq), CASE WHEN seq <= 20050 OR seq = 20099 THEN 150 ELSE 50 END,
		   CASE WHEN seq = 20099 THEN NULL ELSE 'ok' END,
		   CONCAT('138', LPAD(seq, 8, '0')), TIMESTAMP'2024-01-01 00:00:00' + INTERVAL seq HOUR, 0
	  FROM seq_20001_to_20100;
});

my $target = target_node('target');
my $conn = pg_conninfo($source);
my $mconn = $my->conninfo(undef, 'root');
$target->safe_psql('postgres', qq{
	SELECT tributary.create_source('pgd', 'postgresql', '$conn');
	SELECT tributary.create_source('pgo', 'postgresql', '$conn', '{"decoder": "pgoutput"}');
	SELECT tributary.create_source('maria', 'mysql', '$mconn');
	SELECT tributary.create_job('tdj', 'pgd', 'full+cdc', '{"snapshot_chunk_rows": 2000, "parallelism.default": 2}');
	SELECT tributary.create_job('poj', 'pgo', 'full+cdc', '{"snapshot_chunk_rows": 3000}');
	SELECT tributary.create_job('mdj', 'maria', 'full+cdc', '{"snapshot_chunk_rows": 2000, "parallelism.default": 2}');
});

# synced: every job given catches up with its source (a failed job is a
# failed test, with the error shown)
sub synced
{
	my ($name, @jobs) = @_;
	my $sql = 'SELECT ' . join(' AND ', map { "tributary.wait_for_sync('$_', '90 s')" } @jobs);
	my ($ret, $out, $err) = $target->psql('postgres', $sql);
	is($out, 't', $name) or diag("stderr: $err\nerrors: "
		. $target->safe_psql('postgres', q{SELECT string_agg(job_name || ': ' || message || coalesce(' / ' || detail, ''), E'\n') FROM tributary.errors}));
}

# ---------------------------------------------------------------- refusals
sub refused
{
	my ($job, $src_table, $columns, $filter, $re, $name) = @_;
	my $c = defined $columns ? "\$c\$$columns\$c\$::jsonb" : 'NULL';
	my $f = defined $filter ? "\$f\$$filter\$f\$" : 'NULL';
	my ($ret, $out, $err) = $target->psql('postgres',
		"SELECT tributary.add_table('$job', '$src_table', 'bad.t_$job', columns => $c, filter => $f)");
	ok($ret != 0 && $err =~ $re, $name) or diag("exit $ret, stderr: $err");
}
refused('tdj', 'shop.orders', '{"id": "id", "x": "nosuch * 2"}', undef,
	qr/source table \[shop\.orders\] has no column "nosuch"/, 'PostgreSQL source: an unknown column in an expression is refused');
refused('tdj', 'shop.orders', undef, 'nosuch > 1',
	qr/has no column "nosuch"/, 'PostgreSQL source: an unknown column in a filter is refused');
refused('tdj', 'shop.orders', '{"id": "id", "x": "amount * random()"}', undef,
	qr/expression for target column "x" calls a volatile function/, 'PostgreSQL source: random() in an expression is refused');
refused('tdj', 'shop.orders', undef, 'random() < 0.5',
	qr/filter calls a volatile function/, 'PostgreSQL source: random() in a filter is refused');
refused('tdj', 'shop.orders', '{"id": "id", "x": "(SELECT count(*) FROM pg_class)"}', undef,
	qr/expression for target column "x" uses a subquery/, 'PostgreSQL source: a subquery in an expression is refused');
refused('tdj', 'shop.orders', undef, 'id IN (SELECT 1)',
	qr/filter uses a subquery/, 'PostgreSQL source: a subquery in a filter is refused');
refused('mdj', 'shop.orders', '{"id": "id", "x": "upper(nosuch)"}', undef,
	qr/has no column "nosuch"/, 'MariaDB source: an unknown column in an expression is refused');
refused('mdj', 'shop.orders', undef, 'amount > random()',
	qr/filter calls a volatile function/, 'MariaDB source: random() in a filter is refused');
refused('mdj', 'shop.orders', '{"id": "id", "x": "EXISTS (SELECT 1)"}', undef,
	qr/expression for target column "x" uses a subquery/, 'MariaDB source: a subquery in an expression is refused');
is($target->safe_psql('postgres', q{SELECT count(*) || ' ' || (to_regclass('bad.t_tdj') IS NULL AND to_regclass('bad.t_mdj') IS NULL)
		FROM tributary.tables WHERE job_name IN ('tdj', 'mdj')}), '0 true',
	'refused add_table calls add no table and create no target');

# ---------------------------------------------------------------- the full+cdc jobs
$target->safe_psql('postgres', qq{
	SELECT tributary.add_table('tdj', 'shop.orders', 'td.orders', columns => \$c\$$COLUMNS\$c\$, filter => \$f\$$FILTER\$f\$);
	SELECT tributary.add_table('poj', 'shop.orders', 'po.orders', columns => \$c\$$COLUMNS_NOKEY\$c\$, filter => \$f\$$FILTER\$f\$);
	SELECT tributary.add_table('mdj', 'shop.orders', 'my.orders', columns => \$c\$$COLUMNS\$c\$, filter => \$f\$$FILTER\$f\$);
	SELECT tributary.add_table('tdj', 'shop.docs', 'td.docs', columns => \$c\$$DOC_COLUMNS\$c\$, filter => \$f\$$DOC_FILTER\$f\$);
	SELECT tributary.add_table('poj', 'shop.docs', 'po.docs', columns => \$c\$$DOC_COLUMNS\$c\$, filter => \$f\$$DOC_FILTER\$f\$);
});
is($target->safe_psql('postgres', q{SELECT string_agg(attname || ' ' || format_type(atttypid, atttypmod), ', ' ORDER BY attname)
		FROM pg_attribute WHERE attrelid = 'po.orders'::regclass AND attname IN ('id', 'due', 'committed', 'op') AND NOT attisdropped}),
	'committed timestamp with time zone, due date, id integer, op text',
	'created target: expression columns get the expression types, the unmentioned key is mapped');

# the writers: every kind of change against the filter, in small
# transactions, until shop.ctl says stop; inserted keys are offset by $off
# (ids $off + 100001.. pass when inserted, 200001.. and 300001.. do not)
sub writer_ids
{
	my ($sql, $off) = @_;
	my %base = (INS => 100000, LOW => 200000, XED => 300000, BRIEF => 400000, LATE => 500000);
	$sql =~ s/\b(INS|LOW|XED|BRIEF|LATE) \+ i/($base{$1} + $off) . ' + i'/ge;
	return $sql;
}
sub start_pg_writer
{
	my ($off) = @_;
	$source->safe_psql('postgres', q{UPDATE shop.ctl SET stop = false});
	return start_writer($source, writer_ids(q{
DECLARE
	i int := 0;
BEGIN
	LOOP
		i := i + 1;
		EXIT WHEN i > 20000 OR (SELECT stop FROM shop.ctl WHERE k = 1);
		INSERT INTO shop.orders VALUES
			(INS + i, 'ins ' || i, 100 + i % 300, 'ok', '139' || lpad(i::text, 8, '0'), timestamp '2024-06-01' + i * interval '1 minute', 100),
			(LOW + i, 'low ' || i, i % 100, 'ok', '137' || lpad(i::text, 8, '0'), timestamp '2024-06-01' + i * interval '1 minute', 100),
			(XED + i, 'xed ' || i, 500, 'x', '136' || lpad(i::text, 8, '0'), timestamp '2024-06-01' + i * interval '1 minute', 100);
		UPDATE shop.orders SET amount = amount + 100, ver = ver + 1 WHERE id = 1 + (i * 7) % 20000;
		UPDATE shop.orders SET amount = amount - 100, ver = ver + 1 WHERE id = 1 + (i * 11) % 20000;
		UPDATE shop.orders SET status = CASE WHEN status = 'x' THEN 'ok' ELSE 'x' END, ver = ver + 1 WHERE id = 1 + (i * 13) % 20000;
		UPDATE shop.orders SET name = name || '+', ver = ver + 1 WHERE id = 1 + (i * 17) % 20000;
		IF i % 4 = 0 THEN
			UPDATE shop.orders SET id = id + 1000000, ver = ver + 1 WHERE id = 1 + (i * 19) % 20000;
		ELSIF i % 4 = 1 THEN
			UPDATE shop.orders SET id = id + 2000000, amount = 1, ver = ver + 1 WHERE id = 1 + (i * 23) % 20000;
		ELSIF i % 4 = 2 THEN
			UPDATE shop.orders SET id = id + 3000000, amount = 999, status = 'ok', ver = ver + 1 WHERE id = 1 + (i * 29) % 20000;
		END IF;
		IF i % 3 = 0 THEN
			DELETE FROM shop.orders WHERE id = 1 + (i * 31) % 20000;
		END IF;
		IF i > 3 THEN
			UPDATE shop.orders SET amount = amount - 250, ver = ver + 1 WHERE id = INS + i - 3;
		END IF;
		IF i % 5 = 0 THEN
			DELETE FROM shop.orders WHERE id IN (INS + i - 4, LOW + i - 4, XED + i - 4);
		END IF;
		IF i % 7 = 0 THEN
			INSERT INTO shop.orders VALUES (BRIEF + i, 'brief ' || i, 400, 'ok', '135' || lpad(i::text, 8, '0'), timestamp '2024-07-01', 100);
			UPDATE shop.orders SET amount = 5, ver = ver + 1 WHERE id = BRIEF + i;
			DELETE FROM shop.orders WHERE id = BRIEF + i;
			INSERT INTO shop.orders VALUES (LATE + i, 'late ' || i, 5, 'ok', '134' || lpad(i::text, 8, '0'), timestamp '2024-07-01', 100);
			UPDATE shop.orders SET amount = 700, ver = ver + 1 WHERE id = LATE + i;
		END IF;
		COMMIT;
		PERFORM pg_sleep(0.002);
	END LOOP;
END;
}, $off));
}
my $n_my_writer = 0;
sub start_my_writer
{
	my ($off) = @_;
	$my->sql(q{UPDATE shop.ctl SET stop = 0});
	my $proc = ++$n_my_writer;
	(my $sql = writer_ids(q{
	USE shop;
	DELIMITER //
	CREATE PROCEDURE churn_PROC()
	BEGIN
	  DECLARE i INT DEFAULT 0;
	  churn_loop: LOOP
	    SET i = i + 1;
	    IF i > 20000 OR (SELECT stop FROM ctl WHERE k = 1) <> 0 THEN LEAVE churn_loop; END IF;
	    START TRANSACTION;
	    INSERT INTO orders VALUES
	      (INS + i, CONCAT('ins ', i), 100 + i % 300, 'ok', CONCAT('139', LPAD(i, 8, '0')), TIMESTAMP'2024-06-01 00:00:00' + INTERVAL i MINUTE, 100),
	      (LOW + i, CONCAT('low ', i), i % 100, 'ok', CONCAT('137', LPAD(i, 8, '0')), TIMESTAMP'2024-06-01 00:00:00' + INTERVAL i MINUTE, 100),
	      (XED + i, CONCAT('xed ', i), 500, 'x', CONCAT('136', LPAD(i, 8, '0')), TIMESTAMP'2024-06-01 00:00:00' + INTERVAL i MINUTE, 100);
	    UPDATE orders SET amount = amount + 100, ver = ver + 1 WHERE id = 1 + (i * 7) % 20000;
	    UPDATE orders SET amount = amount - 100, ver = ver + 1 WHERE id = 1 + (i * 11) % 20000;
	    UPDATE orders SET status = IF(status = 'x', 'ok', 'x'), ver = ver + 1 WHERE id = 1 + (i * 13) % 20000;
	    UPDATE orders SET name = CONCAT(name, '+'), ver = ver + 1 WHERE id = 1 + (i * 17) % 20000;
	    IF i % 4 = 0 THEN
	      UPDATE orders SET id = id + 1000000, ver = ver + 1 WHERE id = 1 + (i * 19) % 20000;
	    ELSEIF i % 4 = 1 THEN
	      UPDATE orders SET id = id + 2000000, amount = 1, ver = ver + 1 WHERE id = 1 + (i * 23) % 20000;
	    ELSEIF i % 4 = 2 THEN
	      UPDATE orders SET id = id + 3000000, amount = 999, status = 'ok', ver = ver + 1 WHERE id = 1 + (i * 29) % 20000;
	    END IF;
	    IF i % 3 = 0 THEN
	      DELETE FROM orders WHERE id = 1 + (i * 31) % 20000;
	    END IF;
	    IF i > 3 THEN
	      UPDATE orders SET amount = amount - 250, ver = ver + 1 WHERE id = INS + i - 3;
	    END IF;
	    IF i % 5 = 0 THEN
	      DELETE FROM orders WHERE id IN (INS + i - 4, LOW + i - 4, XED + i - 4);
	    END IF;
	    IF i % 7 = 0 THEN
	      INSERT INTO orders VALUES (BRIEF + i, CONCAT('brief ', i), 400, 'ok', CONCAT('135', LPAD(i, 8, '0')), '2024-07-01 00:00:00', 100);
	      UPDATE orders SET amount = 5, ver = ver + 1 WHERE id = BRIEF + i;
	      DELETE FROM orders WHERE id = BRIEF + i;
	      INSERT INTO orders VALUES (LATE + i, CONCAT('late ', i), 5, 'ok', CONCAT('134', LPAD(i, 8, '0')), '2024-07-01 00:00:00', 100);
	      UPDATE orders SET amount = 700, ver = ver + 1 WHERE id = LATE + i;
	    END IF;
	    COMMIT;
	    DO SLEEP(0.002);
	  END LOOP;
	END //
	DELIMITER ;
	CALL churn_PROC();
}, $off)) =~ s/churn_PROC/churn_$proc/g;
	return $my->background($sql);
}
my $t0 = $target->safe_psql('postgres', 'SELECT now()');
my $pg_writer = start_pg_writer(0);
my $my_writer = start_my_writer(0);

# poll a MariaDB query until it returns 1 (bounded)
sub my_poll
{
	my ($sql) = @_;
	my $deadline = time + $PostgreSQL::Test::Utils::timeout_default;
	while (time < $deadline)
	{
		return 1 if $my->sql($sql) eq '1';
		usleep(50_000);
	}
	return 0;
}

# the jobs start once both writers are writing, so the snapshot runs under writes
ok($source->poll_query_until('postgres', q{SELECT count(*) >= 5 FROM shop.orders WHERE id BETWEEN 100001 AND 199999})
	  && my_poll(q{SELECT COUNT(*) >= 5 FROM shop.orders WHERE id BETWEEN 100001 AND 199999}),
	'both writers are writing before the jobs start');
$target->safe_psql('postgres', q{
	SELECT tributary.start_job('tdj');
	SELECT tributary.start_job('poj');
	SELECT tributary.start_job('mdj');
});
$target->poll_query_until('postgres',
	q{SELECT count(*) FILTER (WHERE phase = 'streaming') = 3 OR bool_or(state = 'failed') FROM tributary.jobs WHERE job_name IN ('tdj', 'poj', 'mdj')});
is($target->safe_psql('postgres', q{SELECT string_agg(job_name || ' ' || state || ' ' || coalesce(phase, '-'), ', ' ORDER BY job_name)
		FROM tributary.jobs WHERE job_name IN ('tdj', 'poj', 'mdj')}),
	'mdj running streaming, poj running streaming, tdj running streaming', 'the three jobs copy their tables and stream while the writers run')
  or diag($target->safe_psql('postgres', q{SELECT string_agg(job_name || ': ' || message, E'\n') FROM tributary.errors}));
# the writers go on until each job applied rows they inserted after it began to stream
# writers_applied: wait until each job applied rows the writers inserted
# (ids from $lo) after this call, then stop the writers and check them
sub writers_applied
{
	my ($lo, $what, $writers_ok) = @_;
	my $pg_mark = $source->safe_psql('postgres', qq{SELECT max(id) FROM shop.orders WHERE id BETWEEN $lo AND 199999});
	my $my_mark = $my->sql(qq{SELECT MAX(id) FROM shop.orders WHERE id BETWEEN $lo AND 199999});
	ok($target->poll_query_until('postgres', qq{
			SELECT (SELECT max(id) FROM td.orders WHERE id BETWEEN $lo AND 199999) > $pg_mark
			   AND (SELECT max(id) FROM po.orders WHERE id BETWEEN $lo AND 199999) > $pg_mark
			   AND (SELECT max(id) FROM my.orders WHERE id BETWEEN $lo AND 199999) > $my_mark
			    OR EXISTS (SELECT FROM tributary.jobs WHERE job_name IN ('tdj', 'poj', 'mdj') AND state <> 'running')}) &&
		$target->safe_psql('postgres', q{SELECT count(*) FROM tributary.jobs WHERE job_name IN ('tdj', 'poj', 'mdj') AND state = 'running'}) eq '3',
		$what);
	$source->safe_psql('postgres', q{UPDATE shop.ctl SET stop = true});
	$my->sql(q{UPDATE shop.ctl SET stop = 1});
	$pg_writer->quit;
	ok($my_writer->finish && $pg_writer->{stderr} !~ /ERROR/, $writers_ok) or diag("PostgreSQL writer: $pg_writer->{stderr}");
}

writers_applied(100001, 'each job applies rows the writers insert after its snapshot', 'both writers ran without errors');
my $t1 = $target->safe_psql('postgres', 'SELECT now()');
note('writers: PostgreSQL ' . $source->safe_psql('postgres', q{SELECT max(id) - 100000 FROM shop.orders WHERE id BETWEEN 100001 AND 199999})
	. ' iterations, MariaDB ' . $my->sql(q{SELECT MAX(id) - 100000 FROM shop.orders WHERE id BETWEEN 100001 AND 199999}) . ' (about)');

is($target->safe_psql('postgres', q{SELECT string_agg(job_name || ' ' || decoder, ', ' ORDER BY job_name) FROM tributary.jobs WHERE job_name IN ('tdj', 'poj')}),
	'poj pgoutput, tdj tributary_decoder', 'the PostgreSQL jobs use one decoder each');

# ---------------------------------------------------------------- comparisons
my $PG_EXPECTED = qq{SELECT concat_ws('|', id, upper(name), amount * 2, (created + interval '30 days')::date,
		left(phone, 3) || repeat('*', length(phone) - 7) || right(phone, 4), encode(sha256(convert_to('pepper' || phone, 'UTF8')), 'hex'),
		coalesce(status, '<null>'), ver)
	FROM shop.orders WHERE $FILTER ORDER BY id};
my $MY_EXPECTED = q{SELECT CONCAT_WS('|', id, UPPER(name), amount * 2, DATE(created + INTERVAL 30 DAY),
		CONCAT(LEFT(phone, 3), REPEAT('*', CHAR_LENGTH(phone) - 7), RIGHT(phone, 4)), CONVERT(SHA2(CONCAT('pepper', phone), 256) USING utf8mb4),
		COALESCE(status, '<null>'), ver)
	FROM shop.orders WHERE amount >= 100 AND status <> 'x' ORDER BY id};
sub target_rows
{
	my ($table) = @_;
	return $target->safe_psql('postgres',
		"SELECT concat_ws('|', id, name_up, amount2, due, phone_m, phone_h, coalesce(status, '<null>'), ver) FROM $table ORDER BY id");
}

# same_rows: the target's rows are exactly the expected ones; on a
# difference, the first rows missing and extra are shown
sub same_rows
{
	my ($name, $got, $exp) = @_;
	my @g = split /\n/, $got;
	my @e = split /\n/, $exp;
	my %g = map { $_ => 1 } @g;
	my %e = map { $_ => 1 } @e;
	my @missing = grep { !$g{$_} } @e;
	my @extra = grep { !$e{$_} } @g;
	my $ok = ok(@e > 0 && @g == @e && !@missing && !@extra, $name . ' (' . scalar(@e) . ' rows)');
	unless ($ok)
	{
		diag(scalar(@g) . ' rows on the target, ' . scalar(@e) . ' expected; ' . scalar(@missing) . ' missing, ' . scalar(@extra) . ' extra');
		diag("missing: $_") for @missing[0 .. ($#missing < 9 ? $#missing : 9)];
		diag("extra:   $_") for @extra[0 .. ($#extra < 9 ? $#extra : 9)];
	}
	return $ok;
}

# commit_times: the streamed rows of a target table carry the commit time
# of the source transaction that last wrote the row (xmin's commit
# timestamp on the source), to the microsecond
sub commit_times
{
	my ($name, $table) = @_;
	my %src = map { split /\|/ } split /\n/, $source->safe_psql('postgres',
		qq{SELECT id || '|' || extract(epoch FROM pg_xact_commit_timestamp(xmin)) FROM shop.orders WHERE $FILTER});
	my @got = split /\n/, $target->safe_psql('postgres',
		qq{SELECT id || '|' || coalesce(extract(epoch FROM committed)::text, '<null>') FROM $table WHERE op <> 'r'});
	my @bad = grep { my ($id, $ts) = split /\|/; !defined $src{$id} || $src{$id} ne $ts } @got;
	ok(@got > 0 && !@bad, $name . ' (' . scalar(@got) . ' streamed rows)')
	  or diag(scalar(@bad) . ' differ, e.g. ' . join(', ', map { my ($id) = split /\|/; "$_ (source: " . ($src{$id} // 'none') . ')' } @bad[0 .. ($#bad < 4 ? $#bad : 4)]));
}

sub compare_all
{
	my ($when) = @_;
	my $pg = $source->safe_psql('postgres', $PG_EXPECTED);
	same_rows("tributary_decoder job: $when: the target holds the filtered, computed source rows", target_rows('td.orders'), $pg);
	same_rows("pgoutput job: $when: the target holds the filtered, computed source rows", target_rows('po.orders'), $pg);
	same_rows("MariaDB job: $when: the target holds the filtered, computed source rows", target_rows('my.orders'), $my->sql($MY_EXPECTED));
	commit_times("tributary_decoder job: $when: source_commit_time() of each streamed row is its last source transaction's commit time", 'td.orders');
	commit_times("pgoutput job: $when: source_commit_time() of each streamed row is its last source transaction's commit time", 'po.orders');
}

synced('the three jobs are in sync after the writers stopped', qw(tdj poj mdj));
compare_all('snapshot under writes');
is($target->safe_psql('postgres', q{SELECT string_agg(phone_m, ',' ORDER BY id) FROM (SELECT id, phone_m FROM td.orders WHERE id = 20001
		UNION ALL SELECT id, phone_m FROM my.orders WHERE id = 20001) s}),
	'138****0001,138****0001', 'tributary.mask(phone, 3, 4) masks 13800020001 as 138****0001 (both source kinds)');

# metadata columns after the snapshot and the writers' changes
sub meta_checks
{
	my ($label, $table, $srcname, $from, $upto) = @_;
	my $q = sub { $target->safe_psql('postgres', $_[0]) };
	is($q->("SELECT count(*) FILTER (WHERE src IS DISTINCT FROM '$srcname') || ' of ' || count(*) FROM $table") =~ s/ of [1-9]\d*$/ of some/r,
		'0 of some', "$label: source_table() is '$srcname' on every row");
	is($q->("SELECT string_agg(DISTINCT coalesce(op, '<null>'), ',' ORDER BY coalesce(op, '<null>')) FROM $table"),
		'c,r,u', "$label: source_op() values are r (snapshot rows), c and u (streamed rows)");
	my $spelling = $table eq 'my.orders' ? '^[^:]+:[0-9]+$' : '^[0-9A-F]+/[0-9A-F]+$';
	is($q->("SELECT count(*) FILTER (WHERE (op = 'r') = (committed IS NOT NULL)) || ' ' || count(*) FILTER (WHERE (op = 'r') = (pos IS NOT NULL))
			|| ' ' || count(*) FILTER (WHERE pos !~ '$spelling')
			|| ' ' || (SELECT count(*) FROM (SELECT pos FROM $table WHERE op <> 'r' GROUP BY pos HAVING count(DISTINCT committed) > 1) s)
			FROM $table"), '0 0 0 0',
		"$label: source_commit_time() and source_position() are NULL exactly on the snapshot rows; positions are spelled "
		. ($table eq 'my.orders' ? 'file:offset' : 'as LSNs') . ', one commit time each');
	note("$label: sample positions: " . $q->("SELECT string_agg(DISTINCT pos, ', ') FROM (SELECT pos FROM $table WHERE op <> 'r' ORDER BY committed DESC LIMIT 3) s"));
	like($q->("SELECT count(*) FILTER (WHERE ver = 0 AND op IS DISTINCT FROM 'r') || ' ' || count(*) FILTER (WHERE ver = 0) || ' '
			|| count(*) FILTER (WHERE (ver = 100 AND op NOT IN ('r', 'c')) OR (ver <> 100 AND op = 'c')) FROM $table"), qr{^0 [1-9]\d* 0$},
		"$label: source_op() fits each row's history (r on rows unchanged since the load, c only on rows last written by an insert)");
	return if $table ne 'my.orders';	# the PostgreSQL jobs' commit times are checked exactly (commit_times)
	like($q->("SELECT count(*) FILTER (WHERE NOT committed BETWEEN timestamptz '$from' - interval '2 s' AND timestamptz '$upto' + interval '2 s')
			|| '/' || count(*) FROM $table WHERE op <> 'r'"), qr{^0/[1-9]\d*$},
		"$label: stream rows carry commit times from the writer's run");
}
like($target->safe_psql('postgres', q{SELECT count(*) FILTER (WHERE (d.committed, d.pos) IS DISTINCT FROM (o.committed, o.pos)) || '/' || count(*)
		FROM td.orders d JOIN po.orders o USING (id) WHERE d.op <> 'r' AND o.op <> 'r'}), qr{^0/[1-9]\d*$},
	'a row streamed by both decoders has the same source_commit_time() and source_position() in both');
meta_checks('tributary_decoder job', 'td.orders', 'shop.orders', $t0, $t1);
meta_checks('pgoutput job', 'po.orders', 'shop.orders', $t0, $t1);
meta_checks('MariaDB job', 'my.orders', 'shop.orders', $t0, $t1);

# ---------------------------------------------------------------- explicit changes while streaming
# the same statements on both source kinds, on rows nothing else touches
my $batch = q{
	START TRANSACTION;
	UPDATE shop.orders SET name = 'renamed', ver = ver + 1 WHERE id = 20001;          -- both pass: updated
	UPDATE shop.orders SET amount = 20, ver = ver + 1 WHERE id = 20002;               -- stops passing: deleted
	UPDATE shop.orders SET amount = 250, ver = ver + 1 WHERE id = 20051;              -- starts passing: inserted
	UPDATE shop.orders SET amount = 60, ver = ver + 1 WHERE id = 20052;               -- neither: nothing
	UPDATE shop.orders SET id = 20201, ver = ver + 1 WHERE id = 20003;                -- new key, passes
	UPDATE shop.orders SET id = 20202, amount = 10, ver = ver + 1 WHERE id = 20004;   -- new key, stops passing
	UPDATE shop.orders SET id = 20203, amount = 300, ver = ver + 1 WHERE id = 20053;  -- new key, starts passing
	DELETE FROM shop.orders WHERE id IN (20005, 20054);                               -- a passing and a non-passing row
	INSERT INTO shop.orders VALUES (20301, 'fresh', 120, 'ok', '13912345678', '2024-03-01 10:00:00', 100);
	INSERT INTO shop.orders VALUES (20302, 'fresh low', 99.99, 'ok', '13912345679', '2024-03-01 10:00:00', 100);
	UPDATE shop.orders SET status = 'x', ver = ver + 1 WHERE id = 20006;              -- stops passing by status
	UPDATE shop.orders SET status = 'ok', ver = ver + 1 WHERE id = 20099;             -- NULL status to ok: starts passing
	COMMIT;
	START TRANSACTION;
	INSERT INTO shop.orders VALUES (20303, 'brief', 500, 'ok', '13912345670', '2024-03-01 10:00:00', 100);
	UPDATE shop.orders SET amount = 1, ver = ver + 1 WHERE id = 20303;
	DELETE FROM shop.orders WHERE id = 20303;
	INSERT INTO shop.orders VALUES (20304, 'late', 5, 'ok', '13912345671', '2024-03-01 10:00:00', 100);
	UPDATE shop.orders SET amount = 500, ver = ver + 1 WHERE id = 20304;
	COMMIT;
	UPDATE shop.orders SET amount = 100, ver = ver + 1 WHERE id = 20007;              -- down to the boundary: still passes
	UPDATE shop.orders SET amount = 99.99, ver = ver + 1 WHERE id = 20008;            -- just below: deleted
	UPDATE shop.orders SET amount = 99, ver = ver + 1 WHERE id = 20052;               -- neither, again
	START TRANSACTION;
	UPDATE shop.orders SET amount = amount + 60, ver = ver + 1 WHERE id BETWEEN 20040 AND 20070;  -- one statement: rows keep, start, stop passing
	DELETE FROM shop.orders WHERE id BETWEEN 20045 AND 20060;                         -- one statement: passing and non-passing rows
	COMMIT;
};
my $tb0 = $target->safe_psql('postgres', 'SELECT now()');
$source->safe_psql('postgres', $batch);
$source->safe_psql('postgres', q{
	UPDATE shop.docs SET n = n + 1 WHERE id <= 20;                     -- TOASTed note unchanged; rows cross the filter both ways
	UPDATE shop.docs SET note = note || 'x' WHERE id = 21;
	UPDATE shop.docs SET note = 'tiny' WHERE id = 23;                  -- stops passing
	UPDATE shop.docs SET note = repeat('y', 9000) WHERE id = 22;       -- starts passing
	UPDATE shop.docs SET id = id + 100 WHERE id = 25;                  -- new key, note unchanged
	UPDATE shop.docs SET id = id + 100, n = 3 WHERE id = 29;           -- new key, stops passing
	DELETE FROM shop.docs WHERE id IN (31, 32);                        -- a passing and a non-passing row
});
(my $my_batch = $batch) =~ s/--[^\n]*//g;
$my->sql($my_batch);
my $tb1 = $target->safe_psql('postgres', 'SELECT now()');
synced('the three jobs are in sync after the explicit changes', qw(tdj poj mdj));
compare_all('after streaming');
my $touched = '20001, 20002, 20003, 20004, 20005, 20006, 20007, 20008, 20040, 20045, 20051, 20052, 20053, 20054, 20061, 20070, 20099, 20201, 20202, 20203, 20301, 20302, 20303, 20304';
my $docs_expected = $source->safe_psql('postgres', qq{SELECT concat_ws('|', id, n * 2, length(note), md5(note)) FROM shop.docs WHERE $DOC_FILTER ORDER BY id});
for my $t (['tributary_decoder job', 'td.docs'], ['pgoutput job', 'po.docs'])
{
	same_rows("$t->[0]: updates leaving a TOASTed value alone: the target holds the filtered, computed rows",
		$target->safe_psql('postgres', "SELECT concat_ws('|', id, n2, note_len, note_md5) FROM $t->[1] ORDER BY id"), $docs_expected);
}
for my $t (['tributary_decoder job', 'td.orders'], ['pgoutput job', 'po.orders'], ['MariaDB job', 'my.orders'])
{
	my ($label, $table) = @$t;
	is($target->safe_psql('postgres', qq{SELECT string_agg(id || ':' || op || ':' || (committed BETWEEN timestamptz '$tb0' - interval '2 s'
			AND timestamptz '$tb1' + interval '2 s'), ',' ORDER BY id) FROM $table WHERE id IN ($touched)}),
		'20001:u:true,20007:u:true,20040:u:true,20061:u:true,20070:u:true,20099:u:true,20201:u:true,20203:u:true,20301:c:true,20304:u:true',
		"$label: the changed rows present are exactly those that pass, with source_op and the batch's commit time");
}
is($target->safe_psql('postgres', q{SELECT count(*) FILTER (WHERE op = 'r' AND committed IS NULL) || '/' || count(*) FROM td.orders WHERE id BETWEEN 20009 AND 20039}),
	'31/31', 'rows the stream did not touch keep op r and no commit time');

# ---------------------------------------------------------------- a copy again and a restart, under writes
# the writers run again (inserted keys 150001..); meanwhile the
# tributary_decoder and MariaDB jobs copy the table again while they
# stream (its changes kept, then applied through the transforms), and the
# pgoutput job is stopped and started (it resumes from its checkpoint)
$pg_writer = start_pg_writer(50000);
$my_writer = start_my_writer(50000);
ok($source->poll_query_until('postgres', q{SELECT count(*) >= 5 FROM shop.orders WHERE id BETWEEN 150001 AND 199999})
	  && my_poll(q{SELECT COUNT(*) >= 5 FROM shop.orders WHERE id BETWEEN 150001 AND 199999}),
	'second run: both writers are writing');
$target->safe_psql('postgres', q{
	SELECT tributary.resync_table('tdj', 'shop.orders');
	SELECT tributary.resync_table('mdj', 'shop.orders');
	SELECT tributary.stop_job('poj');
});
$target->poll_query_until('postgres', q{SELECT state = 'stopped' FROM tributary.jobs WHERE job_name = 'poj'});
$target->safe_psql('postgres', q{SELECT tributary.start_job('poj')});
$target->poll_query_until('postgres', q{SELECT count(*) FILTER (WHERE t.state = 'streaming' AND j.state = 'running' AND j.phase = 'streaming') = 3
		OR bool_or(j.state = 'failed') FROM tributary.tables t JOIN tributary.jobs j USING (job_name)
		WHERE job_name IN ('tdj', 'poj', 'mdj') AND t.source_table = 'shop.orders'});
is($target->safe_psql('postgres', q{SELECT string_agg(job_name || ' ' || j.state || ' ' || t.state, ', ' ORDER BY job_name)
		FROM tributary.tables t JOIN tributary.jobs j USING (job_name) WHERE job_name IN ('tdj', 'poj', 'mdj') AND t.source_table = 'shop.orders'}),
	'mdj running streaming, poj running streaming, tdj running streaming',
	'second run: the copies again and the restart are done while the writers run')
  or diag($target->safe_psql('postgres', q{SELECT string_agg(job_name || ': ' || message, E'\n') FROM tributary.errors}));
writers_applied(150001, 'second run: each job applies rows the writers insert after that', 'second run: both writers ran without errors');
my $t2 = $target->safe_psql('postgres', 'SELECT now()');
synced('second run: the three jobs are in sync after the writers stopped', qw(tdj poj mdj));
compare_all('copied again or restarted under writes');
for my $t (['tributary_decoder job', 'td.orders'], ['pgoutput job', 'po.orders'], ['MariaDB job', 'my.orders'])
{
	my ($label, $table) = @$t;
	is($target->safe_psql('postgres', qq{SELECT count(*) FILTER (WHERE src IS DISTINCT FROM 'shop.orders')
			+ count(*) FILTER (WHERE op IS NULL OR op NOT IN ('r', 'c', 'u'))
			+ count(*) FILTER (WHERE (op = 'r') = (committed IS NOT NULL) OR (op = 'r') = (pos IS NOT NULL))
			+ count(*) FILTER (WHERE ver = 0 AND op <> 'r')
			+ count(*) FILTER (WHERE (ver = 100 AND op NOT IN ('r', 'c')) OR (ver <> 100 AND op = 'c'))
			+ count(*) FILTER (WHERE op <> 'r' AND NOT committed BETWEEN timestamptz '$t0' - interval '2 s' AND timestamptz '$t2' + interval '2 s')
			|| ' ' || (count(*) FILTER (WHERE op = 'c' AND id BETWEEN 150001 AND 199999) > 0)
			|| ' ' || (count(*) FILTER (WHERE op = 'u' AND committed > timestamptz '$t1') > 0) FROM $table}),
		'0 true true', "$label: second run: metadata columns consistent (source_table, op against history, commit time and position null exactly on r), c and u rows streamed after the copy");
}

# ---------------------------------------------------------------- a cdc job
$target->safe_psql('postgres', q{
	SELECT tributary.create_job('cdcj', 'pgd', 'cdc');
	SELECT tributary.add_table('cdcj', 'shop.events', 'cd.events',
		columns => $c${"kind": "kind", "qty10": "qty * 10", "tag": "kind || '-' || qty", "op": "tributary.source_op()",
		               "committed": "tributary.source_commit_time()"}$c$,
		filter => $f$kind = 'keep' AND qty > 0$f$);
	SELECT tributary.start_job('cdcj');
});
synced('cdc job: in sync after its start', 'cdcj');
$source->safe_psql('postgres', q{
	INSERT INTO shop.events SELECT g, CASE WHEN g % 2 = 0 THEN 'keep' ELSE 'drop' END, g - 1000 FROM generate_series(1001, 1040) g;
	UPDATE shop.events SET kind = 'keep' WHERE id IN (1001, 1003);     -- start passing
	UPDATE shop.events SET qty = -1 WHERE id IN (1002, 1004);          -- stop passing
	UPDATE shop.events SET id = id + 5000 WHERE id = 1006;             -- new key, passes
	UPDATE shop.events SET qty = qty + 1 WHERE id = 1008;              -- both pass
	UPDATE shop.events SET qty = qty + 1 WHERE id = 1009;              -- neither
	DELETE FROM shop.events WHERE id IN (1010, 1011);                  -- a passing and a non-passing row
	INSERT INTO shop.events VALUES (1041, 'keep', 0);                  -- not passing (qty 0)
});
synced('cdc job: in sync after the changes', 'cdcj');
same_rows('cdc job: the target holds the filtered, computed rows inserted after its start',
	$target->safe_psql('postgres', q{SELECT concat_ws('|', id, kind, qty10, tag) FROM cd.events ORDER BY id}),
	$source->safe_psql('postgres', q{SELECT concat_ws('|', id, kind, qty * 10, kind || '-' || qty) FROM shop.events
		WHERE id > 1000 AND kind = 'keep' AND qty > 0 ORDER BY id}));
is($target->safe_psql('postgres', q{SELECT count(*) FILTER (WHERE id <= 1000) || ' ' || string_agg(DISTINCT op, ',' ORDER BY op) || ' '
		|| count(*) FILTER (WHERE committed IS NULL) FROM cd.events}),
	'0 c,u 0', 'cdc job: no row from before its start, ops c and u only, every row has a commit time');

# ---------------------------------------------------------------- the end
is($target->safe_psql('postgres', q{SELECT coalesce(string_agg(job_name || ': ' || message, E'\n'), 'none') FROM tributary.errors}), 'none',
	'no job recorded an error');
is($target->safe_psql('postgres', q{SELECT string_agg(job_name || ' ' || state, ', ' ORDER BY job_name) FROM tributary.jobs}),
	'cdcj running, mdj running, poj running, tdj running', 'every job still runs');

$my->stop;
done_testing();
