# 010_mysql_ddl.pl -- schema changes on a MariaDB source: the ddl policy
# (error by default, apply, ignore, alert), a TABLE_MAP that changed with
# no DDL in the binlog, and bad connection settings.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use TributaryTest;
use MariaDBNode;

my $my = MariaDBNode->new('ddl', 'binlog-row-metadata' => 'FULL');
$my->sql(q{
	CREATE DATABASE shop;
	CREATE TABLE shop.d (id INT PRIMARY KEY, a INT, s VARCHAR(10));
	INSERT INTO shop.d VALUES (1, 10, 'one'), (2, 20, 'two');
	CREATE TABLE shop.keep (id INT PRIMARY KEY, v INT);
	CREATE TABLE shop.m (id INT PRIMARY KEY, v INT);
});
my $target = target_node('target');
my ($ret, $out, $stderr);
my $conn = $my->conninfo(undef, 'root');
$target->safe_psql('postgres', qq{
	SELECT tributary.create_source('maria', 'mysql', '$conn');
	SELECT tributary.create_job('ddl', 'maria', 'full+cdc', '{"target_schema": "mirror"}');
	SELECT tributary.add_table('ddl', 'shop.d');
	SELECT tributary.add_table('ddl', 'shop.keep');
	SELECT tributary.add_table('ddl', 'shop.m');
	SELECT tributary.start_job('ddl');
});
is($target->safe_psql('postgres', "SELECT tributary.wait_for_sync('ddl', '60 s')"), 't', 'the job syncs');

# default policy: error, naming the table, the statement and the position
$my->sql(q{ALTER TABLE shop.d ADD COLUMN b INT NOT NULL DEFAULT 7; INSERT INTO shop.d VALUES (3, 30, 'three', 8);});
ok($target->poll_query_until('postgres', "SELECT state = 'failed' FROM tributary.jobs WHERE job_name = 'ddl'"),
	'an ALTER TABLE on a synced table stops the job');
my $err = $target->safe_psql('postgres', "SELECT message || ' / ' || detail FROM tributary.errors WHERE job_name = 'ddl' ORDER BY at DESC LIMIT 1");
like($err, qr/^source table \[shop.d\] changed: ALTER TABLE shop.d ADD COLUMN b INT NOT NULL DEFAULT 7 \/ The change \(add_column\) is at source position binlog\.\d+:\d+/,
	'the error names the table, the statement, its kind and the binlog position');
is($target->safe_psql('postgres', "SELECT count(*) FROM mirror.d"), '2', 'nothing after the statement was applied');

# apply: the target follows ADD COLUMN (with the default for existing rows), DROP COLUMN, TRUNCATE
$target->safe_psql('postgres', q{
	SELECT tributary.alter_job('ddl', '{"ddl": {"add_column": "apply", "drop_column": "apply", "truncate_table": "apply", "rename_table": "alert", "other": "ignore"}}');
	SELECT tributary.start_job('ddl');
});
is($target->safe_psql('postgres', "SELECT tributary.wait_for_sync('ddl', '60 s')"), 't', 'with ddl apply the job resumes');
is($target->safe_psql('postgres', "SELECT string_agg(concat_ws('|', id, a, s, b), ',' ORDER BY id) FROM mirror.d"),
	'1|10|one|7,2|20|two|7,3|30|three|8', 'the new column is added, existing rows get its default, new rows their value');
$my->sql(q{ALTER TABLE shop.d DROP COLUMN a; INSERT INTO shop.d VALUES (4, 'four', 9); UPDATE shop.d SET s = 'uno' WHERE id = 1;});
is($target->safe_psql('postgres', "SELECT tributary.wait_for_sync('ddl', '60 s')"), 't', 'synced after DROP COLUMN');
is($target->safe_psql('postgres', q{SELECT string_agg(attname, ',' ORDER BY attnum) FROM pg_attribute
	WHERE attrelid = 'mirror.d'::regclass AND attnum > 0 AND NOT attisdropped}), 'id,s,b', 'the column is dropped on the target');
is($target->safe_psql('postgres', "SELECT string_agg(concat_ws('|', id, s, b), ',' ORDER BY id) FROM mirror.d"),
	'1|uno|7,2|two|7,3|three|8,4|four|9', 'rows go on syncing without it');
is($target->safe_psql('postgres', q{SELECT jt_columns::text FROM tributary.job_table WHERE jt_source_rel = 'd'}),
	'[{"source": "id", "target": "id"}, {"source": "s", "target": "s"}, {"source": "b", "target": "b"}]',
	'the job\'s column list follows');
$my->sql(q{TRUNCATE TABLE shop.d; INSERT INTO shop.d VALUES (5, 'five', 1);});
is($target->safe_psql('postgres', "SELECT tributary.wait_for_sync('ddl', '60 s')"), 't', 'synced after TRUNCATE');
is($target->safe_psql('postgres', "SELECT string_agg(id::text, ',') FROM mirror.d"), '5', 'TRUNCATE applied in order');

# ignore and alert: the job goes on
$my->sql(q{ALTER TABLE shop.keep ADD INDEX iv (v); INSERT INTO shop.keep VALUES (1, 1);});
is($target->safe_psql('postgres', "SELECT tributary.wait_for_sync('ddl', '60 s')"), 't', 'ignored DDL: the job goes on');
$my->sql(q{RENAME TABLE shop.keep TO shop.kept; INSERT INTO shop.m VALUES (1, 1);});
is($target->safe_psql('postgres', "SELECT tributary.wait_for_sync('ddl', '60 s')"), 't', 'alerted DDL: the job goes on');
like($target->safe_psql('postgres', "SELECT message || ' / ' || detail FROM tributary.errors WHERE job_name = 'ddl' AND sqlstate = '01000'"),
	qr/^source table \[shop.keep\] changed: RENAME TABLE shop.keep TO shop.kept \/ The change \(rename_table\) is at source position binlog\.\d+:\d+; the job's ddl policy for it is alert/,
	'an alert is recorded in tributary.errors');
ok($target->log_contains('WARNING:  pg_tributary job "ddl": source table \[shop.keep\] changed: RENAME TABLE'),
	'and logged as a WARNING');
is($target->safe_psql('postgres', "SELECT count(*) FROM mirror.m"), '1', 'other tables keep syncing');

# a changed table with no DDL in the binlog (sql_log_bin = 0) stops the job
$my->sql(q{SET SESSION sql_log_bin = 0; ALTER TABLE shop.m ADD COLUMN z INT; SET SESSION sql_log_bin = 1;
	INSERT INTO shop.m VALUES (2, 2, 2);});
ok($target->poll_query_until('postgres', "SELECT state = 'failed' FROM tributary.jobs WHERE job_name = 'ddl'"),
	'a TABLE_MAP with a column the job does not know stops the job');
like($target->safe_psql('postgres', "SELECT message || ' / ' || detail FROM tributary.errors WHERE job_name = 'ddl' ORDER BY at DESC LIMIT 1"),
	qr/^source table \[shop.m\] changed without a DDL statement in the binlog \/ The binlog has column "z", which the job does not know/,
	'naming the table and the column');
is($target->safe_psql('postgres', "SELECT count(*) FROM mirror.m"), '1', 'the row was not applied');

# add_tables: a whole database by pattern, with exclusions and a name rule
$my->sql(q{CREATE DATABASE crm;
	CREATE TABLE crm.doc_a (id INT PRIMARY KEY, v INT); CREATE TABLE crm.doc_b (id INT PRIMARY KEY, v INT);
	CREATE TABLE crm.tmp_x (id INT PRIMARY KEY); CREATE TABLE crm.nokey (v INT);
	INSERT INTO crm.doc_a VALUES (1, 1); INSERT INTO crm.doc_b VALUES (2, 2);});
$target->safe_psql('postgres', q{SELECT tributary.create_job('crm', 'maria', 'full+cdc')});
is($target->safe_psql('postgres', q{SELECT tributary.add_tables('crm', 'crm\.doc_.*', 'crm_copy', 'doc_(.*) => pre_\1_${ds_name_src}')}),
	'2', 'add_tables adds the matching tables');
is($target->safe_psql('postgres', "SELECT string_agg(source_table || ' -> ' || target_table, ', ' ORDER BY source_table) FROM tributary.tables WHERE job_name = 'crm'"),
	'crm.doc_a -> crm_copy.pre_a_maria, crm.doc_b -> crm_copy.pre_b_maria', 'named by the rule, in the given schema');
($ret, $out, $stderr) = $target->psql('postgres', q{SELECT tributary.add_tables('crm', 'crm\..*', NULL, NULL, 'crm\.doc_.*|crm\.tmp_.*')});
like($stderr, qr/ERROR:  source table \[crm.nokey\] do not contain any primary key/, 'a table without a key fails add_tables');
$target->safe_psql('postgres', q{SELECT tributary.create_job('crm2', 'maria', 'full+cdc')});
($ret, $out, $stderr) = $target->psql('postgres', q{SELECT tributary.add_tables('crm2', 'crm\.doc_.*', 'crm_copy', 'all_in_one')});
like($stderr, qr/ERROR:  several source tables map to target table crm_copy.all_in_one/, 'merging tables into one is refused clearly');
is($target->safe_psql('postgres', "SELECT count(*) FROM tributary.tables WHERE job_name = 'crm2'"), '0', 'and adds nothing');
# the seed's two steps (a rewrite, then a template using its result), a
# rewrite of the database name into the schema, variables of the source
# side; unknown variables and a rewrite naming its own result refused
is($target->safe_psql('postgres', q{SELECT tributary.add_tables('crm2', 'crm\.doc_.*', 'c(.*) => ods_\1_${ds_name_src}',
	'{"table": "doc_(.*) => \\\\1", "name": "pre_${db_table_name_src_transed}_post_${db_name_src}_${db_table_name_src}"}')}),
	'2', 'add_tables with a JSON name rule and a schema rewrite');
is($target->safe_psql('postgres', "SELECT string_agg(source_table || ' -> ' || target_table, ', ' ORDER BY source_table) FROM tributary.tables WHERE job_name = 'crm2'"),
	'crm.doc_a -> ods_rm_maria.pre_a_post_crm_doc_a, crm.doc_b -> ods_rm_maria.pre_b_post_crm_doc_b',
	'${db_table_name_src_transed} is the rewritten name; the schema is the database name rewritten');
$target->safe_psql('postgres', q{SELECT tributary.create_job('crm3', 'maria', 'full+cdc')});
($ret, $out, $stderr) = $target->psql('postgres', q{SELECT tributary.add_tables('crm3', 'crm\.doc_.*', NULL, 'x_${tabel}')});
like($stderr, qr/unknown variable "\$\{tabel\}" in name_rule/, 'an unknown variable is an error');
like($stderr, qr/HINT:  Variables here are: .*\$\{db_table_name_src_transed\}/, '... listing the variables');
($ret, $out, $stderr) = $target->psql('postgres', q{SELECT tributary.add_tables('crm3', 'crm\.doc_.*', 'x_${db_name_src_transed}')});
like($stderr, qr/unknown variable "\$\{db_name_src_transed\}" in target_schema/, 'the schema cannot name itself');
($ret, $out, $stderr) = $target->psql('postgres', q{SELECT tributary.add_tables('crm3', 'crm\.doc_.*', NULL, 'doc_(.*) => ${table}_x')});
like($stderr, qr/name_rule doc_\(\.\*\) => \$\{table\}_x uses the rewritten name inside the rewrite itself/, 'a rewrite naming its own result is refused');
($ret, $out, $stderr) = $target->psql('postgres', q{SELECT tributary.add_tables('crm3', 'crm\.nothing_.*', NULL, 'x_${tabel}', follow => true)});
like($stderr, qr/unknown variable "\$\{tabel\}" in name_rule/, 'a followed rule that matches nothing yet is checked too');
is($target->safe_psql('postgres', q{SELECT tributary.add_tables('crm3', 'crm\.doc_a', 'plain', '${table}_copy')}), '1',
	'a template without a rewrite: ${table} is the source name');
is($target->safe_psql('postgres', "SELECT target_table FROM tributary.tables WHERE job_name = 'crm3'"), 'plain.doc_a_copy', '... as documented');
$target->safe_psql('postgres', "SELECT tributary.start_job('crm')");
is($target->safe_psql('postgres', "SELECT tributary.wait_for_sync('crm', '60 s')"), 't', 'the added tables sync');
is($target->safe_psql('postgres', "SELECT (SELECT v FROM crm_copy.pre_a_maria) || ',' || (SELECT v FROM crm_copy.pre_b_maria)"), '1,2',
	'with their rows');

# ddl apply of a DROP COLUMN of the key: the guard names the key column
# (it once compared a name with a list node, never fired, and the user got
# "target table has no primary key")
$my->sql(q{CREATE TABLE shop.k (id INT, id2 INT, v INT, PRIMARY KEY (id, id2)); INSERT INTO shop.k VALUES (1, 1, 1);});
$target->safe_psql('postgres', q{
	SELECT tributary.create_job('kj', 'maria', 'full+cdc', '{"target_schema": "kmirror", "ddl": {"drop_column": "apply", "other": "ignore"}}');
	SELECT tributary.add_table('kj', 'shop.k');
	SELECT tributary.start_job('kj');
});
is($target->safe_psql('postgres', "SELECT tributary.wait_for_sync('kj', '60 s')"), 't', 'the key-column job syncs');
$my->sql(q{ALTER TABLE shop.k DROP PRIMARY KEY, ADD PRIMARY KEY (id); ALTER TABLE shop.k DROP COLUMN id2; INSERT INTO shop.k VALUES (2, 2);});
ok($target->poll_query_until('postgres', "SELECT state = 'failed' FROM tributary.jobs WHERE job_name = 'kj'"),
	'dropping a key column stops the job');
like($target->safe_psql('postgres', "SELECT message FROM tributary.errors WHERE job_name = 'kj' ORDER BY at DESC LIMIT 1"),
	qr/source table \[shop.k\] dropped its key column "id2"/, 'the error names the key column');

# ddl apply of column renames and type changes (issue 13 item 2): RENAME
# COLUMN, CHANGE with a new name (and a new type), MODIFY, CHANGE to the
# same name with a wider type; rows that need the new types follow each
$my->sql(q{
	CREATE TABLE shop.ty (id INT PRIMARY KEY, n INT, s VARCHAR(5), Amt DECIMAL(6,2), keepme INT);
	INSERT INTO shop.ty VALUES (1, 10, 'abc', 1234.56, 1), (2, 20, 'de', 1.5, 2);
});
$target->safe_psql('postgres', q{
	SELECT tributary.create_job('tyj', 'maria', 'full+cdc', '{"target_schema": "tmirror", "ddl": "apply"}');
	SELECT tributary.add_table('tyj', 'shop.ty');
	SELECT tributary.start_job('tyj');
});
is($target->safe_psql('postgres', "SELECT tributary.wait_for_sync('tyj', '60 s')"), 't', 'the type-change job syncs');
$my->sql(q{
	ALTER TABLE shop.ty MODIFY s VARCHAR(40);
	INSERT INTO shop.ty VALUES (3, 30, 'a value longer than five', 2, 3);
	ALTER TABLE shop.ty CHANGE n n BIGINT;
	INSERT INTO shop.ty VALUES (4, 5000000000, 'big', 3, 4);
	ALTER TABLE shop.ty RENAME COLUMN keepme TO kept;
	UPDATE shop.ty SET kept = kept * 10;
	ALTER TABLE shop.ty CHANGE COLUMN amt amount DECIMAL(12,3);
	INSERT INTO shop.ty VALUES (5, 50, 'five', 123456789.125, 5);
	ALTER TABLE shop.ty MODIFY COLUMN n BIGINT UNSIGNED;
	INSERT INTO shop.ty VALUES (6, 18446744073709551615, 'max', 6, 6);
});
is($target->safe_psql('postgres', "SELECT tributary.wait_for_sync('tyj', '60 s')"), 't', 'the job applies the type changes and renames');
is($target->safe_psql('postgres', q{SELECT string_agg(attname || ' ' || format_type(atttypid, atttypmod), ', ' ORDER BY attnum)
	FROM pg_attribute WHERE attrelid = 'tmirror.ty'::regclass AND attnum > 0 AND NOT attisdropped}),
	'id integer, n numeric(20,0), s character varying(40), amount numeric(12,3), kept integer',
	'the target columns follow: types and names');
is($target->safe_psql('postgres', q{SELECT string_agg(concat_ws('|', id, n, s, amount, kept), ',' ORDER BY id) FROM tmirror.ty}),
	$my->sql(q{SELECT GROUP_CONCAT(CONCAT_WS('|', id, n, s, amount, kept) ORDER BY id SEPARATOR ',') FROM shop.ty}),
	'the rows equal the source\'s');
is($target->safe_psql('postgres', "SELECT state FROM tributary.jobs WHERE job_name = 'tyj'"), 'running', 'the job runs');

# ddl apply of RENAME TABLE and DROP TABLE: the job follows the new name
# (the target, named after the source table, takes it too; a target named
# otherwise keeps its name), the rows after the statement arrive under the
# new name, and a dropped table leaves the job (its target kept, or
# dropped with ddl_drop_target)
$my->sql(q{
	CREATE TABLE shop.r1 (id INT PRIMARY KEY, v VARCHAR(20));
	CREATE TABLE shop.r2 (id INT PRIMARY KEY, v VARCHAR(20));
	CREATE TABLE shop.gone (id INT PRIMARY KEY);
	CREATE TABLE shop.gone2 (id INT PRIMARY KEY);
	INSERT INTO shop.r1 VALUES (1, 'one');
	INSERT INTO shop.r2 VALUES (1, 'one');
	INSERT INTO shop.gone VALUES (1);
	INSERT INTO shop.gone2 VALUES (1);
});
$target->safe_psql('postgres', q{
	SELECT tributary.create_job('rnj', 'maria', 'full+cdc', '{"target_schema": "rmirror", "ddl": "apply"}');
	SELECT tributary.add_table('rnj', 'shop.r1');
	SELECT tributary.add_table('rnj', 'shop.r2', 'rmirror.custom_r2');
	SELECT tributary.add_table('rnj', 'shop.gone');
	SELECT tributary.start_job('rnj');
	SELECT tributary.create_job('dropj', 'maria', 'full+cdc', '{"target_schema": "dmirror", "ddl": "apply", "ddl_drop_target": true}');
	SELECT tributary.add_table('dropj', 'shop.gone2');
	SELECT tributary.start_job('dropj');
});
is($target->safe_psql('postgres', "SELECT tributary.wait_for_sync('rnj', '60 s')"), 't', 'the rename job syncs');
is($target->safe_psql('postgres', "SELECT tributary.wait_for_sync('dropj', '60 s')"), 't', 'the drop job syncs');
$my->sql(q{
	RENAME TABLE shop.r1 TO shop.r1_new, shop.r2 TO shop.r2_new;
	INSERT INTO shop.r1_new VALUES (2, 'after rename');
	INSERT INTO shop.r2_new VALUES (2, 'after rename');
	ALTER TABLE shop.r1_new RENAME TO shop.r1_newer;
	UPDATE shop.r1_newer SET v = 'renamed twice' WHERE id = 1;
	DROP TABLE shop.gone, shop.gone2;
	CREATE TABLE shop.gone (id INT PRIMARY KEY);
	INSERT INTO shop.gone VALUES (42);
});
is($target->safe_psql('postgres', "SELECT tributary.wait_for_sync('rnj', '60 s')"), 't', 'the rename job applies the renames');
is($target->safe_psql('postgres', "SELECT string_agg(source_table || '>' || target_table, ',' ORDER BY source_table) FROM tributary.tables WHERE job_name = 'rnj'"),
	'shop.r1_newer>rmirror.r1_newer,shop.r2_new>rmirror.custom_r2',
	'the job follows the new names; a target named after the source follows, another keeps its name');
is($target->safe_psql('postgres', "SELECT string_agg(id || ':' || v, ',' ORDER BY id) FROM rmirror.r1_newer"), '1:renamed twice,2:after rename',
	'rows after each rename arrive');
is($target->safe_psql('postgres', "SELECT string_agg(id || ':' || v, ',' ORDER BY id) FROM rmirror.custom_r2"), '1:one,2:after rename',
	'... in the kept target too');
is($target->safe_psql('postgres', "SELECT count(*) FROM rmirror.gone"), '1', 'a dropped table leaves its target (ddl_drop_target false)');
is($target->safe_psql('postgres', "SELECT tributary.wait_for_sync('dropj', '60 s')"), 't', 'the drop job syncs');
is($target->safe_psql('postgres', "SELECT count(*) FROM tributary.tables WHERE job_name = 'dropj'"), '0', 'the dropped table left the job');
is($target->safe_psql('postgres', "SELECT to_regclass('dmirror.gone2') IS NULL"), 't', 'and its target was dropped (ddl_drop_target)');
is($target->safe_psql('postgres', "SELECT string_agg(state, ',') FROM tributary.jobs WHERE job_name IN ('rnj', 'dropj')"), 'running,running',
	'both jobs run');

# an online schema change's swap ("t TO t_old, t_new TO t") cannot be
# followed table by table: under apply the job stops, saying why
$my->sql(q{
	CREATE TABLE shop.osc (id INT PRIMARY KEY, v INT);
	INSERT INTO shop.osc VALUES (1, 1);
});
$target->safe_psql('postgres', q{
	SELECT tributary.create_job('oscj', 'maria', 'full+cdc', '{"target_schema": "omirror", "ddl": "apply", "restart-strategy.type": "none"}');
	SELECT tributary.add_table('oscj', 'shop.osc');
	SELECT tributary.start_job('oscj');
});
is($target->safe_psql('postgres', "SELECT tributary.wait_for_sync('oscj', '60 s')"), 't', 'the swap job syncs');
$my->sql(q{
	CREATE TABLE shop.osc_new (id INT PRIMARY KEY, v INT, w INT);
	INSERT INTO shop.osc_new SELECT id, v, 0 FROM shop.osc;
	RENAME TABLE shop.osc TO shop.osc_old, shop.osc_new TO shop.osc;
});
ok($target->poll_query_until('postgres', "SELECT state = 'failed' FROM tributary.jobs WHERE job_name = 'oscj'"),
	'a swap of table names stops the job under apply');
like($target->safe_psql('postgres', "SELECT detail FROM tributary.errors WHERE job_name = 'oscj' ORDER BY at DESC LIMIT 1"),
	qr/^The statement renames tables in a chain or a swap/, '... saying it cannot follow it table by table');

# bad connection settings: a clear error, no crash
my $badconn = $my->conninfo(undef, 'root', 'wrong');
$target->safe_psql('postgres', qq{
	SELECT tributary.create_source('badpw', 'mysql', '$badconn');
	SELECT tributary.create_source('badport', 'mysql', 'host=127.0.0.1 port=1 user=root');
	SELECT tributary.create_job('bad', 'badpw', 'cdc');
});
like(check_row($target, 'badpw', 'connection'), qr/^f\|.*Access denied for user 'root'/, 'check_source reports a wrong password');
like(check_row($target, 'badport', 'connection'), qr/^f\|.*Can't connect to server on '127.0.0.1'/, 'and an unreachable port');
($ret, $out, $stderr) = $target->psql('postgres', "SELECT tributary.add_table('bad', 'shop.m')");
like($stderr, qr/ERROR:  could not connect to source "badpw": Access denied/, 'add_table refuses with the server\'s error');
unlike($stderr, qr/wrong/, 'without the password');
is($target->safe_psql('postgres', 'SELECT 1'), '1', 'the target is fine');

$target->stop;
$my->stop;
done_testing();
