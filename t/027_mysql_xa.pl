# 027_mysql_xa.pl -- XA transactions on a MariaDB source (issue 12 item 16).
#
# MariaDB logs a prepared XA transaction as a group of its own ending in
# XA_PREPARE, and its XA COMMIT or XA ROLLBACK later in another group.
# The prepared rows were applied together with the next ordinary
# transaction (rows that never existed on the source).  Now they are held
# on the target (tributary.prepared_xacts shows them) until XA COMMIT,
# across job restarts, and dropped at XA ROLLBACK; a one-phase XA commit
# is an ordinary transaction; a commit whose prepare the job never saw
# stops the job instead of losing rows.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use TributaryTest;
use MariaDBNode;

my $my = MariaDBNode->new('xa');
$my->sql("CREATE DATABASE shop;
	CREATE TABLE shop.a (id INT PRIMARY KEY, v VARCHAR(20), n INT);
	CREATE TABLE shop.b (id INT PRIMARY KEY, w INT);
	CREATE TABLE shop.other (id INT PRIMARY KEY);
	INSERT INTO shop.a VALUES (1, 'one', 1), (2, 'two', 2), (3, 'three', 3);
	INSERT INTO shop.b VALUES (1, 10), (2, 20);");

my $target = target_node('target');
my $conn = $my->conninfo(undef, 'root');
$target->safe_psql('postgres', qq{
	SELECT tributary.create_source('maria', 'mysql', '$conn');
	SELECT tributary.create_job('j', 'maria', 'full+cdc', '{"target_schema": "mirror"}');
	SELECT tributary.add_table('j', 'shop.a');
	SELECT tributary.add_table('j', 'shop.b');
	SELECT tributary.start_job('j');
});
is($target->safe_psql('postgres', "SELECT tributary.wait_for_sync('j', '60 s')"), 't', 'the job syncs');

# compare: both tables equal on source and target
sub compare
{
	my ($when) = @_;
	for my $t (['a', 'id, v, n'], ['b', 'id, w'])
	{
		my ($name, $cols) = @$t;
		my $want = $my->sql("SELECT COUNT(*), COALESCE(GROUP_CONCAT(CONCAT_WS(' ', $cols) ORDER BY id SEPARATOR ','), '') FROM shop.$name");
		$want =~ s/\t/:/;
		my $got = $target->safe_psql('postgres',
			"SELECT count(*) || ':' || coalesce(string_agg(concat_ws(' ', $cols), ',' ORDER BY id), '') FROM mirror.$name");
		is($got, $want, "table $name equals the source $when");
	}
}
# synced: wait_for_sync, then compare
sub synced
{
	my ($when) = @_;
	is($target->safe_psql('postgres', "SELECT tributary.wait_for_sync('j', '60 s')"), 't', "the job syncs $when");
	compare($when);
}

# a prepared XA transaction, then an ordinary one: the prepared rows stay out
$my->sql("XA START 'x1';
	INSERT INTO shop.a VALUES (10, 'ten', 10), (11, 'eleven', 11);
	UPDATE shop.a SET n = 100 WHERE id = 1;
	DELETE FROM shop.b WHERE id = 2;
	INSERT INTO shop.other VALUES (1);
	XA END 'x1'; XA PREPARE 'x1';");
$my->sql("INSERT INTO shop.a VALUES (4, 'four', 4); UPDATE shop.b SET w = 11 WHERE id = 1;");
synced('while x1 is prepared');
is($target->safe_psql('postgres', "SELECT count(*) FROM mirror.a WHERE id IN (10, 11)"), '0',
	'the rows of the prepared transaction are not applied');
is($target->safe_psql('postgres', "SELECT xid || ' ' || (events > 0)::int FROM tributary.prepared_xacts WHERE job_name = 'j'"),
	"X'7831',X'',1 1", 'tributary.prepared_xacts shows the held transaction');

# a transaction prepared and rolled back: nothing of it arrives
$my->sql("XA START 'r1'; INSERT INTO shop.a VALUES (20, 'twenty', 20); DELETE FROM shop.a WHERE id = 2;
	XA END 'r1'; XA PREPARE 'r1';");
$my->sql("XA ROLLBACK 'r1'");
synced('after XA ROLLBACK');

# the held transaction survives a restart of the job's worker
$target->safe_psql('postgres', "SELECT tributary.restart_job('j')");
$my->sql("INSERT INTO shop.a VALUES (5, 'five', 5)");
synced('after a restart with x1 prepared');
is($target->safe_psql('postgres', "SELECT count(*) FROM tributary.prepared_xacts"), '1', 'x1 is still held');

# XA COMMIT applies it, in its place among other transactions
$my->sql("XA COMMIT 'x1'");
$my->sql("UPDATE shop.a SET v = 'TEN' WHERE id = 10");
synced('after XA COMMIT');
is($target->safe_psql('postgres', "SELECT count(*) FROM tributary.prepared_xacts"), '0', 'nothing is held any more');

# a one-phase XA commit is an ordinary transaction
$my->sql("XA START 'o1'; INSERT INTO shop.b VALUES (30, 30); UPDATE shop.a SET n = n + 1; XA END 'o1'; XA COMMIT 'o1' ONE PHASE;");
synced('after a one-phase XA commit');

# a large prepared transaction (more held events than one read-back batch)
my $big = "XA START 'big';";
$big .= "INSERT INTO shop.b VALUES (" . (1000 + $_) . ", $_); " for 1 .. 300;
$big .= "UPDATE shop.b SET w = w * 2 WHERE id > 1000; DELETE FROM shop.b WHERE id BETWEEN 1001 AND 1010;";
$big .= "XA END 'big'; XA PREPARE 'big';";
$my->sql($big);
# an XA transaction on a table outside the job, with identifier parts of every kind
$my->sql("XA START 'g''q', 'bq', 7; INSERT INTO shop.other VALUES (2); XA END 'g''q', 'bq', 7; XA PREPARE 'g''q', 'bq', 7;");
synced('with a large transaction prepared');
ok($target->safe_psql('postgres', "SELECT events FROM tributary.prepared_xacts WHERE xid = 'X''626967'',X'''',1'") > 64,
	'the large transaction is held as many events');
$my->sql("XA COMMIT 'big'");
$my->sql("XA COMMIT 'g''q', 'bq', 7");
synced('after committing the large transaction');
is($target->safe_psql('postgres', "SELECT count(*) FROM mirror.b WHERE id > 1000"), '290', 'its 290 rows arrived');

# a transaction prepared before the job started and committed after it:
# the job cannot know its rows, and stops instead of losing them
$my->sql("XA START 'early'; INSERT INTO shop.a VALUES (50, 'fifty', 50); XA END 'early'; XA PREPARE 'early';");
$target->safe_psql('postgres', qq{
	SELECT tributary.create_job('j2', 'maria', 'full+cdc', '{"target_schema": "mirror2"}');
	SELECT tributary.add_table('j2', 'shop.a');
	SELECT tributary.start_job('j2');
});
is($target->safe_psql('postgres', "SELECT tributary.wait_for_sync('j2', '60 s')"), 't', 'a second job syncs');
$my->sql("XA COMMIT 'early'");
ok($target->poll_query_until('postgres', "SELECT state = 'failed' FROM tributary.jobs WHERE job_name = 'j2'"),
	'the second job stops at a commit whose prepare it did not see');
like($target->safe_psql('postgres',
		"SELECT message || ' / ' || detail FROM tributary.errors WHERE job_name = 'j2' ORDER BY at DESC LIMIT 1"),
	qr/XA transaction X'6561726c79',X'',1 on source "maria" was committed, but the job did not see it prepared/,
	'... naming the transaction');
# the first job saw it prepared and applies it
synced('after the early transaction committed');
$target->safe_psql('postgres', "SELECT tributary.restart_job('j2', false)");
is($target->safe_psql('postgres', "SELECT tributary.wait_for_sync('j2', '60 s')"), 't', 'a new copy of the second job syncs');
is(digest($target, 'SELECT * FROM mirror2.a'), digest($target, 'SELECT * FROM mirror.a'), '... and equals the source');

# a start position no binlog has is refused by create_job, not by a worker
my ($ret, $out, $err) = $target->psql('postgres', q{SELECT tributary.create_job('badpos', 'maria', 'cdc', '{"start_position": "nonsense"}')});
like($err, qr/invalid binlog position "nonsense"/, 'create_job refuses a start_position that is not a binlog position');

$target->safe_psql('postgres', "SELECT tributary.drop_job('j2')");
$target->safe_psql('postgres', "SELECT tributary.drop_job('j')");
done_testing();
