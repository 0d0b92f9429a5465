# 012_security.pl -- a delegated admin cannot become superuser, read what
# it may not or write where it may not (docs/security.md).  Every attack
# of issue 9 is played as a non-superuser member of tributary_admin
# (alice) or as a plain role (mallory), and the test asserts the refusal
# and that nothing leaked or changed: digests of the victims' tables,
# rolsuper, no file written by COPY TO PROGRAM, no secret in a view a role
# can read or in the server log.  Legitimate use by alice (her own source
# with a password, her own jobs and tables) works end to end.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use TributaryTest;
use MariaDBNode;

my $owned = "$PostgreSQL::Test::Utils::tmp_check/owned.txt";

# --- the source: syncsu is a superuser there (the worst case for pasted
# SQL), authenticated with a password
my $source = source_node('source', 1);
$source->safe_psql('postgres', q{
	CREATE TABLE public.items (id int PRIMARY KEY, qty int NOT NULL, price numeric(10,2), note text);
	ALTER TABLE public.items REPLICA IDENTITY FULL;
	INSERT INTO public.items SELECT g, g % 7, g * 1.5, 'note ' || g FROM generate_series(1, 500) g;
	CREATE TABLE public.pay (id int PRIMARY KEY, amount int);
	ALTER TABLE public.pay REPLICA IDENTITY FULL;
	CREATE ROLE alice;
});
password_user($source, 'syncsu', 'supw');
$source->safe_psql('postgres', 'ALTER ROLE syncsu SUPERUSER');
my $src_conn = pg_conninfo($source);

# --- the target: alice (tributary_admin), bob (owns tables), mallory
my $target = target_node('target', "tributary.database = 'postgres'\n");
$target->safe_psql('postgres', q{
	CREATE ROLE alice LOGIN IN ROLE tributary_admin;
	CREATE ROLE bob LOGIN;
	CREATE ROLE mallory LOGIN;
	CREATE SCHEMA alice AUTHORIZATION alice;
	CREATE SCHEMA bob AUTHORIZATION bob;
	GRANT USAGE ON SCHEMA bob TO alice;
	SET ROLE bob;
	CREATE TABLE bob.secret (id int PRIMARY KEY, qty int, price numeric(10,2), note text);
	INSERT INTO bob.secret VALUES (1, 1, 1, 'bob''s secret');
	CREATE TABLE bob.payroll (id int PRIMARY KEY, amount int);
	INSERT INTO bob.payroll VALUES (1, 1000), (2, 2000);
	-- shared with alice for writing, but not for updates later on
	CREATE TABLE bob.shared (id int PRIMARY KEY, amount int CHECK (amount < 1000000));
	GRANT INSERT, UPDATE, DELETE ON bob.shared TO alice;
	CREATE TABLE bob.ins_only (id int PRIMARY KEY, amount int);
	GRANT INSERT ON bob.ins_only TO alice;
	-- row-level security applies to alice
	CREATE TABLE bob.rls (id int PRIMARY KEY, amount int);
	ALTER TABLE bob.rls ENABLE ROW LEVEL SECURITY;
	CREATE POLICY only_small ON bob.rls USING (amount < 100);
	GRANT ALL ON bob.rls TO alice;
	-- a function alice may not execute
	CREATE FUNCTION bob.secret_fn(int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT $1';
	REVOKE EXECUTE ON FUNCTION bob.secret_fn(int) FROM PUBLIC;
	RESET ROLE;
	-- a target-only function, to show where expressions run
	CREATE FUNCTION public.twice(int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT $1 * 2';
});

# as_alice / as_mallory: run SQL as the role; returns (stdout, stderr).
# log_statement is off for the session (superuser settings are made
# before SET ROLE), so the calls' passwords stay out of the log unless
# pg_tributary itself writes them
sub as_role
{
	my ($role, $sql) = @_;
	my ($out, $err) = ('', '');
	$target->psql('postgres', "SET log_statement = 'none'; SET ROLE $role; $sql",
		stdout => \$out, stderr => \$err);
	return ($out, $err);
}
sub as_alice { return as_role('alice', @_); }
sub as_mallory { return as_role('mallory', @_); }

# refused: a call of alice's fails with an error matching $re
sub refused
{
	my ($role, $sql, $re, $name) = @_;
	my ($out, $err) = as_role($role, $sql);
	like($err, $re, $name);
	return $err;
}

my $victims = q{SELECT * FROM bob.secret UNION ALL SELECT id, amount, NULL, NULL FROM bob.payroll};
my $victims_before = digest($target, $victims);
sub not_superuser
{
	is($target->safe_psql('postgres', "SELECT rolsuper FROM pg_roles WHERE rolname = 'alice'"), 'f',
		"alice is still not a superuser ($_[0])");
}

# ---------------------------------------------------------------------------
# 1. superuser through a password-less source
my $superuser = $target->safe_psql('postgres', 'SELECT current_user');
my $self_conn = 'host=' . $target->host . ' port=' . $target->port . " user=$superuser dbname=postgres";
refused('alice', "SELECT tributary.create_source('self', 'postgresql', '$self_conn')",
	qr/password is required.*\n.*Non-superusers must provide a password/,
	'1: a source without a password is refused at create_source');
refused('alice', "SELECT tributary.create_source('empty', 'postgresql', '')",
	qr/password is required/, '1: an empty conninfo is refused');
refused('alice', "SELECT tributary.create_source('pf', 'postgresql', '$self_conn password=x passfile=/tmp/pgpass')",
	qr/only superusers may use connection option "passfile"/, '1: the server\'s password file is refused');
my ($out, $err) = as_alice("SELECT tributary.create_source('self', 'postgresql', '$self_conn password=whatever')");
is($err, '', '1: with a password in the string the source is defined');
as_alice(q{SELECT tributary.create_job('steal', 'self', 'full')});
refused('alice', q{SELECT tributary.add_table('steal', 'pg_catalog.pg_authid', 'alice.authid')},
	qr/password is required.*\n.*the server does not request a password/,
	'1: a trust-authenticated connection is refused at add_table');
refused('alice', q{SELECT tributary.add_table('steal', 'bob.secret', 'alice.secret')},
	qr/password is required/, '1: ... for every table');
refused('alice', q{SELECT * FROM tributary.check_source('self')},
	qr/password is required/, '1: and at check_source');
is($target->safe_psql('postgres', q{SELECT count(*) FROM pg_tables WHERE schemaname = 'alice'}), '0',
	'1: no table was copied into alice\'s schema');
not_superuser('password-less source');

# ---------------------------------------------------------------------------
# alice's legitimate source: a password the server asks for
($out, $err) = as_alice("SELECT tributary.create_source('mine', 'postgresql', '$src_conn user=syncsu password=supw sslpassword=sslsecret')");
is($err, '', 'alice defines her own source, with a password');
is((as_alice(q{SELECT ok FROM tributary.check_source('mine') WHERE check_name = 'connection'}))[0], 't',
	'check_source connects with it');

# ---------------------------------------------------------------------------
# 2. statements and OS commands through filter and columns
as_alice(q{SELECT tributary.create_job('copyjob', 'mine', 'full')});
refused('alice', qq{SELECT tributary.add_table('copyjob', 'public.items', 'alice.items_f', NULL,
	'true); COPY (SELECT 1) TO PROGRAM ''id > $owned''; SELECT 1 WHERE (true')},
	qr/syntax error/, '2: a filter that closes the expression is a syntax error');
refused('alice', q{SELECT tributary.add_table('copyjob', 'public.items', 'alice.items_f', NULL,
	'true); COMMIT; ALTER ROLE alice SUPERUSER; SELECT 1 WHERE (true')},
	qr/syntax error/, '2: ... also with COMMIT and ALTER ROLE');
refused('alice', qq{SELECT tributary.add_table('copyjob', 'public.items', 'alice.items_f',
	'{"id": "id", "x": "1) FROM pg_authid; COPY (SELECT 1) TO PROGRAM ''id > $owned''; SELECT (1"}')},
	qr/syntax error/, '2: a column expression that closes itself is a syntax error');
refused('alice', q{SELECT tributary.add_table('copyjob', 'public.items', 'alice.items_f', NULL,
	'qty > 0; ALTER ROLE alice SUPERUSER')},
	qr/is not a single expression/, '2: two statements are not an expression');
refused('alice', q{SELECT tributary.add_table('copyjob', 'public.items', 'alice.items_f', NULL,
	'(SELECT rolsuper FROM pg_authid WHERE rolname = ''postgres'')')},
	qr/uses a subquery/, '2: subqueries are refused');
refused('alice', qq{SELECT tributary.add_table('copyjob', 'public.items', 'alice.items_f', NULL,
	'pg_catalog.length(pg_catalog.pg_read_file(''/etc/passwd'')) > 0')},
	qr/volatile function/, '2: volatile functions are refused');
refused('alice', q{SELECT tributary.add_table('copyjob', 'public.items', 'alice.items_f',
	'{"id": "id", "x": "bob.secret_fn(qty)"}')},
	qr/permission denied for function secret_fn/, '2: functions are checked for the owner\'s EXECUTE');
ok(!-e $owned, '2: no file was written by COPY TO PROGRAM');
is($source->safe_psql('postgres', q{SELECT rolsuper FROM pg_roles WHERE rolname = 'alice'}), 'f',
	'2: alice did not become superuser on the source');
not_superuser('filters');

# safe expressions still work, evaluated on the target (public.twice exists
# only there)
($out, $err) = as_alice(q{SELECT tributary.add_table('copyjob', 'public.items', 'alice.items_f',
	'{"id": "id", "q2": "public.twice(qty)", "label": "upper(note) || ''/'' || price"}', 'qty > 2 AND note LIKE ''note 1%''')});
is($err =~ /ERROR/ ? $err : '', '', '2: a safe filter and expressions are accepted');
as_alice(q{SELECT tributary.start_job('copyjob')});
is((as_alice(q{SELECT tributary.wait_for_sync('copyjob', '60 s')}))[0], 't', '2: the full job finishes');
is(digest($target, 'SELECT id, q2, label FROM alice.items_f'),
	digest($source, q{SELECT id, qty * 2, upper(note) || '/' || price FROM public.items WHERE qty > 2 AND note LIKE 'note 1%'}),
	'2: filter and expressions evaluated on the target equal the same SQL over the source');

# owner code that changes search_path for the session (found by a review):
# constant folding runs alice's function at add_table; it must not leave
# its search_path to the rest of the call, which runs as the extension's
# owner and would reach alice's operator
as_alice(q{
	CREATE FUNCTION alice.set_path(int) RETURNS int LANGUAGE plpgsql IMMUTABLE AS
		$$BEGIN PERFORM pg_catalog.set_config('search_path', 'alice, pg_catalog', false); RETURN $1; END$$;
	CREATE FUNCTION alice.pwn(jsonb, text) RETURNS jsonb LANGUAGE plpgsql AS
		$$BEGIN
			IF (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user) THEN
				EXECUTE 'ALTER ROLE alice SUPERUSER';
			END IF;
			RETURN pg_catalog.jsonb_object_field($1, $2);
		END$$;
	CREATE OPERATOR alice.-> (LEFTARG = jsonb, RIGHTARG = text, FUNCTION = alice.pwn);
	CREATE FUNCTION alice.pwn8(bigint, bigint) RETURNS bigint LANGUAGE plpgsql AS
		$$BEGIN
			IF (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user) THEN
				EXECUTE 'ALTER ROLE alice SUPERUSER';
			END IF;
			RETURN pg_catalog.int8pl($1, $2);
		END$$;
	CREATE OPERATOR alice.+ (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = alice.pwn8);
	CREATE FUNCTION alice.pwn4(int, int) RETURNS int LANGUAGE plpgsql AS
		$$BEGIN
			IF (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user) THEN
				EXECUTE 'ALTER ROLE alice SUPERUSER';
			END IF;
			RETURN pg_catalog.int4pl($1, $2);
		END$$;
	CREATE OPERATOR alice.+ (LEFTARG = int, RIGHTARG = int, FUNCTION = alice.pwn4);
});
($out, $err) = as_alice(q{SELECT tributary.create_job('pathjob', 'mine', 'full');
	SELECT tributary.add_table('pathjob', 'public.pay', 'alice.pay_f', NULL, 'alice.set_path(1) > 0')});
unlike($err, qr/ERROR/, 'a transform calling a function that sets search_path is accepted');
not_superuser('a transform that sets search_path');
# a trigger on a target (alice's own, or bob's table alice may write) that
# sets search_path for the session: the worker's catalog statements, which
# run as the superuser, must not reach alice's operators
as_alice(q{
	CREATE TABLE alice.trg_target (id int PRIMARY KEY, qty int NOT NULL, price numeric(10,2), note text);
	CREATE FUNCTION alice.trg() RETURNS trigger LANGUAGE plpgsql AS
		$$BEGIN PERFORM pg_catalog.set_config('search_path', 'alice, pg_catalog', false); RETURN NEW; END$$;
	CREATE TRIGGER t BEFORE INSERT ON alice.trg_target FOR EACH ROW EXECUTE FUNCTION alice.trg();
	ALTER TABLE alice.trg_target ENABLE ALWAYS TRIGGER t;
	SELECT tributary.create_job('trgjob', 'mine', 'full');
	SELECT tributary.add_table('trgjob', 'public.items', 'alice.trg_target');
	SELECT tributary.start_job('trgjob');
});
is((as_alice(q{SELECT tributary.wait_for_sync('trgjob', '60 s')}))[0], 't', 'the job into a table with such a trigger finishes');
is($target->safe_psql('postgres', 'SELECT count(*) FROM alice.trg_target'), '500', '... and copies its rows');
not_superuser('a target trigger that sets search_path');

# ---------------------------------------------------------------------------
# 3. writes to tables alice may not write
as_alice(q{SELECT tributary.create_job('cdcjob', 'mine', 'cdc', '{"dirty_data": "skip"}')});
refused('alice', q{SELECT tributary.add_table('cdcjob', 'public.pay', 'bob.payroll')},
	qr/permission denied for table bob.payroll.*\n.*DETAIL:  Job "cdcjob" writes the table as its owner, role "alice", which lacks INSERT, UPDATE, DELETE/,
	'3: another role\'s table is refused, naming the missing privileges');
refused('alice', q{SELECT tributary.add_table('cdcjob', 'public.pay', 'pg_catalog.pg_authid')},
	qr/target schema "pg_catalog" is a system schema/, '3: pg_authid is refused');
refused('alice', q{SELECT tributary.add_table('cdcjob', 'public.pay', 'tributary.job')},
	qr/target schema "tributary" is a system schema/, '3: pg_tributary\'s own catalog is refused');
refused('alice', q{SELECT tributary.add_table('cdcjob', 'public.pay', 'bob.rls')},
	qr/target table bob.rls has row-level security enabled/, '3: a table with row-level security is refused');
($out, $err) = as_alice(q{SELECT tributary.add_table('cdcjob', 'public.pay', 'bob.shared')});
is($err, '', '3: a table bob granted INSERT, UPDATE, DELETE to alice is accepted for a cdc job');
refused('alice', q{SELECT tributary.add_table('copyjob', 'public.pay', 'bob.ins_only')},
	qr/lacks TRUNCATE on it/, '3: a full job needs TRUNCATE too');
as_alice(q{SELECT tributary.start_job('cdcjob')});
$target->poll_query_until('postgres',
	q{SELECT state = 'running' AND phase = 'streaming' FROM tributary.jobs WHERE job_name = 'cdcjob'})
  or die 'cdcjob does not stream';
$source->safe_psql('postgres', q{INSERT INTO public.pay VALUES (1, 10), (2, 20), (3, 5000000)});
is((as_alice(q{SELECT tributary.wait_for_sync('cdcjob', '60 s')}))[0], 't', '3: the cdc job applies its inserts');
is($target->safe_psql('postgres', q{SELECT string_agg(id || ':' || amount, ',' ORDER BY id) FROM bob.shared}),
	'1:10,2:20', '3: rows arrive in the shared table (the one breaking its CHECK is a dirty row)');
# bob takes UPDATE back: the worker checks again and stops
my $shared_before = digest($target, 'SELECT * FROM bob.shared');
$target->safe_psql('postgres', 'REVOKE UPDATE ON bob.shared FROM alice');
$source->safe_psql('postgres', 'UPDATE public.pay SET amount = amount + 1 WHERE id = 1');
ok($target->poll_query_until('postgres',
		q{SELECT count(*) > 0 FROM tributary.errors WHERE job_name = 'cdcjob' AND sqlstate = '42501'}),
	'3: the worker refuses the update once UPDATE is revoked');
is(digest($target, 'SELECT * FROM bob.shared'), $shared_before, '3: the shared table did not change');
like($target->safe_psql('postgres', q{SELECT message FROM tributary.errors WHERE job_name = 'cdcjob' ORDER BY at DESC LIMIT 1}),
	qr/permission denied for table bob.shared/, '3: the error names the table');
as_alice(q{SELECT tributary.stop_job('cdcjob')});
is(digest($target, $victims), $victims_before, '3: bob\'s tables are unchanged');

# ---------------------------------------------------------------------------
# 4. other owners' jobs and sources
$target->safe_psql('postgres', qq{
	SET log_statement = 'none';
	SELECT tributary.create_source('pg_src', 'postgresql', '$src_conn password=pgsecret');
	SELECT tributary.create_job('pjob', 'pg_src', 'full');
	SELECT tributary.add_table('pjob', 'public.items', 'public.items_p');
});
for my $call (
	q{tributary.add_table('pjob', 'public.pay', 'alice.pay')},
	q{tributary.start_job('pjob')},
	q{tributary.stop_job('pjob')},
	q{tributary.restart_job('pjob', false)},
	q{tributary.resync_table('pjob', 'public.items')},
	q{tributary.alter_job('pjob', '{"create_tables": false}')},
	q{tributary.add_tables('pjob', 'public[.].*')},
	q{tributary.wait_for_sync('pjob', '1 s')},
	q{tributary.job_effective_options('pjob')},
	q{tributary.drop_job('pjob')})
{
	refused('alice', "SELECT $call", qr/must be owner of job "pjob"/, "4: $call is refused");
}
refused('alice', q{SELECT tributary.create_job('on_pg', 'pg_src', 'full')},
	qr/must be owner of source "pg_src"/, '4: a job on another role\'s source is refused');
refused('alice', q{SELECT * FROM tributary.check_source('pg_src')},
	qr/must be owner of source "pg_src"/, '4: check_source of another role\'s source is refused');
refused('alice', q{SELECT tributary.drop_source('pg_src')},
	qr/must be owner of source "pg_src"/, '4: drop_source of another role\'s source is refused');
is($target->safe_psql('postgres', q{SELECT count(*) FROM tributary.tables WHERE job_name = 'pjob'}), '1',
	'4: the superuser\'s job still has its one table');

# ---------------------------------------------------------------------------
# 5. the catalog is written through the API only, whatever search_path says
refused('alice', q{UPDATE tributary.job SET job_owner = 'alice' WHERE job_name = 'pjob'},
	qr/permission denied for table job/, '5: no UPDATE of the catalog');
refused('alice', q{INSERT INTO tributary.job_table SELECT * FROM tributary.job_table},
	qr/permission denied for table job_table/, '5: no INSERT into the catalog');
refused('alice', q{DELETE FROM tributary.checkpoint}, qr/permission denied for table checkpoint/,
	'5: no DELETE from the catalog');
for my $fn (q{tributary._api_stop_job('pjob')}, q{tributary._exec_as(10, 'ALTER ROLE alice SUPERUSER')},
	q{tributary._drop_job_slot(1)}, q{tributary._remote_table_info('pg_src', 'public', 'items')},
	q{tributary._check_target('bob.payroll', 10, 'full', 'x')})
{
	refused('alice', "SELECT $fn", qr/permission denied for function/, "5: internal $fn is not executable");
}
# look-alikes of pg_catalog objects earlier in search_path change nothing
as_alice(q{
	CREATE FUNCTION alice.pg_has_role(oid, oid, text) RETURNS boolean LANGUAGE sql AS 'SELECT true';
	CREATE FUNCTION alice.pg_has_role(regrole, text) RETURNS boolean LANGUAGE sql AS 'SELECT true';
	CREATE VIEW alice.pg_roles AS SELECT oid, rolname, true AS rolsuper FROM pg_catalog.pg_roles;
});
refused('alice', q{SET search_path = alice, pg_catalog; SELECT tributary.stop_job('pjob')},
	qr/must be owner of job "pjob"/, '5: a pg_has_role look-alike in search_path does not help');
refused('alice', q{SET search_path = alice, pg_catalog; SELECT tributary.create_source('x', 'postgresql', 'host=/tmp')},
	qr/password is required/, '5: a pg_roles look-alike does not make alice a superuser');
($out, $err) = as_alice(q{SET search_path = alice, pg_catalog; SELECT count(*) FROM tributary.jobs});
is($out, $target->safe_psql('postgres', q{SELECT count(*) FROM tributary.job WHERE job_owner = 'alice'::regrole}),
	'5: the views ignore the look-alikes (alice sees her own jobs only)');
not_superuser('catalog');

# ---------------------------------------------------------------------------
# 6. secrets
($out, $err) = as_alice(q{SELECT source_name || ' ' || conninfo FROM tributary.sources ORDER BY 1});
unlike($out, qr/supw|sslsecret|whatever|pgsecret/, '6: no password or sslpassword in alice\'s view of her sources');
like($out, qr/mine .*password=\*{8}.*sslpassword=\*{8}/, '6: both are masked');
unlike($out, qr/pg_src|su_self/, '6: other roles\' sources are not listed');
refused('alice', q{SELECT source_conninfo FROM tributary.source}, qr/permission denied for table source/,
	'6: the conninfo column is not readable');
$err = refused('alice', q{SELECT tributary.create_source('bad', 'postgresql', 'host=x password=sekrit1 junk')},
	qr/invalid connection string/, '6: a malformed conninfo is refused ...');
unlike($err, qr/sekrit1/, '6: ... without quoting it');
$err = refused('alice', q{SELECT tributary.create_source('bad', 'postgresql', 'host=x password=logsecret1 nosuchkey=1')},
	qr/invalid connection string/, '6: a conninfo with an unknown key is refused ...');
unlike($err, qr/logsecret1/, '6: ... without quoting it');
# the test sessions log no statements, but errors are logged with their
# STATEMENT line unless the API hides it
refused('alice', q{SELECT tributary.create_source('mine', 'postgresql', 'host=x password=logsecret2')},
	qr/source "mine" already exists/, '6: a failing create_source ...');
my $log = slurp_file($target->logfile);
like($log, qr/source "mine" already exists/, '6: ... is logged');
unlike($log, qr/logsecret1|logsecret2|sekrit1/, '6: ... without its statement or password');

# ---------------------------------------------------------------------------
# 7. what a plain role sees
for my $view (qw(sources jobs tables checkpoints runs errors dirty_rows job_versions))
{
	is((as_mallory("SELECT count(*) FROM tributary.$view"))[0], '0', "7: mallory sees no row of tributary.$view");
}
for my $table (qw(job job_table table_state dirty_row error_log source name_rule job_version run checkpoint))
{
	refused('mallory', "SELECT * FROM tributary.$table", qr/permission denied for table $table/,
		"7: mallory cannot read tributary.$table");
}
is((as_alice(q{SELECT count(*) FROM tributary.dirty_rows WHERE job_name = 'cdcjob'}))[0], '1',
	'7: alice sees the dirty row of her job');
is((as_alice(q{SELECT count(*) FROM tributary.jobs WHERE job_name = 'pjob'}))[0], '0',
	'7: alice does not see the superuser\'s job');
refused('mallory', q{SELECT tributary.stop_job('cdcjob')}, qr/permission denied for function stop_job/,
	'7: mallory cannot call the API');

# ---------------------------------------------------------------------------
# 8. source objects that are not the job's
$source->safe_psql('postgres', q{SELECT pg_create_physical_replication_slot('standby1')});
$target->safe_psql('postgres', q{UPDATE tributary.job SET job_slot = 'standby1' WHERE job_name = 'pjob'});
my ($rc) = $target->psql('postgres', q{SELECT tributary.drop_job('pjob')});
is($source->safe_psql('postgres', q{SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'standby1'}), '1',
	'8: a slot name the job did not create is never dropped');
my $cdc_slot = $target->safe_psql('postgres', q{SELECT job_slot FROM tributary.job WHERE job_name = 'cdcjob'});
($out, $err) = as_alice(q{SELECT tributary.drop_job('cdcjob')});
is($err, '', '8: alice drops her cdc job');
is($source->safe_psql('postgres', qq{SELECT count(*) FROM pg_replication_slots WHERE slot_name = '$cdc_slot'}), '0',
	'8: ... and its own slot');

# ---------------------------------------------------------------------------
# 9. names longer than 63 bytes
my $long1 = 'x' x 63 . 'a';
refused('alice', qq{SELECT tributary.add_table('copyjob', 'public.pay', 'alice.$long1')},
	qr/target table name "x+a" is too long/, '9: a target name longer than a PostgreSQL name is refused');

# ---------------------------------------------------------------------------
# legitimate use end to end: alice's own full+cdc job into tables add_table
# creates for her, while the source changes
as_alice(q{SELECT tributary.create_job('sync', 'mine', 'full+cdc', '{"target_schema": "alice"}')});
($out, $err) = as_alice(q{SELECT tributary.add_table('sync', 'public.items')});
is($err =~ /ERROR/ ? $err : '', '', 'alice adds a table; add_table creates it as hers');
is($target->safe_psql('postgres', q{SELECT tableowner FROM pg_tables WHERE schemaname = 'alice' AND tablename = 'items'}),
	'alice', 'the created target belongs to the job\'s owner');
as_alice(q{SELECT tributary.start_job('sync')});
$source->safe_psql('postgres', q{
	UPDATE public.items SET qty = qty + 1 WHERE id % 3 = 0;
	DELETE FROM public.items WHERE id % 11 = 0;
	INSERT INTO public.items SELECT g, 1, 2, 'late' FROM generate_series(501, 700) g;
});
is((as_alice(q{SELECT tributary.wait_for_sync('sync', '120 s')}))[0], 't', 'alice\'s job catches up');
is(digest($target, 'SELECT * FROM alice.items'), digest($source, 'SELECT * FROM public.items'),
	'alice\'s target equals the source');
is((as_alice(q{SELECT owner || ' ' || state FROM tributary.jobs WHERE job_name = 'sync'}))[0], 'alice running',
	'the job runs as alice');

# ---------------------------------------------------------------------------
# MySQL sources: a password is required and the connection goes over TCP
my $my = MariaDBNode->new('sec');
$my->sql(q{
	CREATE DATABASE shop;
	CREATE TABLE shop.t (id INT PRIMARY KEY, v VARCHAR(20));
	INSERT INTO shop.t VALUES (1, 'one'), (2, 'two');
	CREATE USER 'nopw'@'%';
	CREATE USER 'myalice'@'%' IDENTIFIED BY 'mypw';
	GRANT SELECT ON shop.* TO 'nopw'@'%', 'myalice'@'%';
});
refused('alice', "SELECT tributary.create_source('my_nopw', 'mysql', '" . $my->conninfo('shop', 'nopw') . "')",
	qr/password is required/, 'mysql: a source without a password is refused');
as_alice("SELECT tributary.create_source('my_guess', 'mysql', '" . $my->conninfo('shop', 'nopw', 'guess') . "')");
as_alice(q{SELECT tributary.create_job('myguess', 'my_guess', 'full')});
refused('alice', q{SELECT tributary.add_table('myguess', 'shop.t', 'alice.t_guess')},
	qr/could not connect to source "my_guess".*Access denied/,
	'mysql: an account without a password does not let a password in');
as_alice("SELECT tributary.create_source('my_ok', 'mysql', '" . $my->conninfo('shop', 'myalice', 'mypw') . "')");
as_alice(q{SELECT tributary.create_job('myjob', 'my_ok', 'full')});
($out, $err) = as_alice(q{SELECT tributary.add_table('myjob', 'shop.t', 'alice.t')});
is($err =~ /ERROR/ ? $err : '', '', 'mysql: a source with a password works');
as_alice(q{SELECT tributary.start_job('myjob')});
is((as_alice(q{SELECT tributary.wait_for_sync('myjob', '60 s')}))[0], 't', 'mysql: the full job finishes');
is($target->safe_psql('postgres', q{SELECT string_agg(id || v, ',' ORDER BY id) FROM alice.t}), '1one,2two',
	'mysql: rows copied');

# ---------------------------------------------------------------------------
# finally: no password of any source reached the server log
$log = slurp_file($target->logfile);
unlike($log, qr/supw|sslsecret|mypw|whatever|pgsecret/, 'no source password in the server log');
is(digest($target, $victims), $victims_before, 'bob\'s tables are unchanged at the end');
not_superuser('end');
ok(!-e $owned, 'no file was written by COPY TO PROGRAM');

$my->stop;
$target->stop;
$source->stop;
done_testing();
