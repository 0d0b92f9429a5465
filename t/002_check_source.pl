# 002_check_source.pl -- prerequisite checks of PostgreSQL sources against
# real servers: wal_level=replica, tables without a primary key or without
# REPLICA IDENTITY FULL, output_plugin_libraries without tributary_decoder,
# and a server where pg_tributary was not preloaded.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use TributaryTest;

# a source with wal_level = replica and the default output_plugin_libraries
my $replica = PostgreSQL::Test::Cluster->new('replica_src');
$replica->init(allows_streaming => 1);
$replica->start;
$replica->safe_psql('postgres', q{
	CREATE TABLE public.good (id int PRIMARY KEY, v text);
	ALTER TABLE public.good REPLICA IDENTITY FULL;
	CREATE TABLE public.nokey (id int, v text);
	CREATE TABLE public.noident (id int PRIMARY KEY, v text);
	CREATE ROLE plain LOGIN;
});

# a source with wal_level = logical that allows tributary_decoder
my $logical = PostgreSQL::Test::Cluster->new('logical_src');
$logical->init(allows_streaming => 'logical');
$logical->append_conf('postgresql.conf',
	"output_plugin_libraries = 'pgoutput, test_decoding, tributary_decoder'\n");
$logical->start;
$logical->safe_psql('postgres', q{
	CREATE TABLE public.good (id int PRIMARY KEY, v text);
	ALTER TABLE public.good REPLICA IDENTITY FULL;
});

my $target = target_node('target');

$target->safe_psql('postgres', sprintf(q{
	SELECT tributary.create_source('replica', 'postgresql', '%s');
	SELECT tributary.create_source('replica_plain', 'postgresql', '%s');
	SELECT tributary.create_source('logical', 'postgresql', '%s');
	SELECT tributary.create_source('logical_pgoutput', 'postgresql', '%s', '{"decoder": "pgoutput"}');
	SELECT tributary.create_source('logical_forced', 'postgresql', '%s', '{"decoder": "tributary_decoder"}');
}, pg_conninfo($replica), pg_conninfo($replica, ' user=plain'), pg_conninfo($logical),
	pg_conninfo($logical), pg_conninfo($logical)));

sub check { return check_row($target, @_); }

# --- wal_level = replica
my $tables = q{ARRAY['public.good', 'public.nokey', 'public.noident']};
like(check('replica', 'connection', $tables), qr/^t\|connected to PostgreSQL 15\.\d+ as "\w+", database "postgres"/,
	'connection is checked');
like(check('replica', 'wal_level', $tables),
	qr/^f\|source \[postgres\] wal level is replica, should be set to logical\|.*wal_level = logical/,
	'wal_level=replica is reported with the fix');
like(check('replica', 'primary_key public.nokey', $tables),
	qr/^f\|source table \[public.nokey\] do not contain any primary key\|.*ADD PRIMARY KEY/,
	'missing primary key is reported with the fix');
like(check('replica', 'replica_identity public.noident', $tables),
	qr/^f\|table \[public.noident\] replication identity is \[d\], should be set to full\|On the source run ALTER TABLE public.noident REPLICA IDENTITY FULL;/,
	'REPLICA IDENTITY is reported with the fix');
like(check('replica', 'primary_key public.good', $tables), qr/^t\|/, 'a good table passes');
like(check('replica', 'replica_identity public.good', $tables), qr/^t\|/, 'a good table passes');
like(check('replica', 'output_plugin_libraries', $tables),
	qr/^f\|output_plugin_libraries is 'pgoutput, test_decoding' and does not allow tributary_decoder\|.*output_plugin_libraries = 'pgoutput, test_decoding, tributary_decoder'/,
	'output_plugin_libraries is reported with the exact line to add');
like(check('replica', 'decoder', $tables),
	qr/^t\|pgoutput will be used: decoder is auto and tributary_decoder cannot be used/,
	'decoder auto falls back to pgoutput');
like(check('replica_plain', 'replication_privilege'),
	qr/^f\|role "plain" has neither REPLICATION nor SUPERUSER\|On the source run ALTER ROLE plain REPLICATION;/,
	'a role without REPLICATION is reported');

# add_table refuses what cannot work, with the seed's words
$target->safe_psql('postgres', q{
	SELECT tributary.create_job('cdc_job', 'replica', 'cdc');
	SELECT tributary.create_job('full_job', 'replica', 'full');
});
my ($ret, $out, $err) = $target->psql('postgres', "SELECT tributary.add_table('cdc_job', 'public.good')");
like($err, qr/ERROR:  source \[public.good\] wal level is replica, should be set to logical/,
	'add_table refuses a cdc table on a wal_level=replica source');
like($err, qr/HINT:  On the source run ALTER SYSTEM SET wal_level = logical; and restart it\./, '... with the fix');
($ret, $out, $err) = $target->psql('postgres', "SELECT tributary.add_table('full_job', 'public.nokey')");
like($err, qr/ERROR:  source table \[public.nokey\] do not contain any primary key/,
	'add_table refuses a table without primary key');
($ret, $out, $err) = $target->psql('postgres', "SELECT tributary.add_table('full_job', 'public.noident')");
is($ret, 0, 'a full job does not need REPLICA IDENTITY FULL');

# --- wal_level = logical, tributary_decoder allowed
like(check('logical', 'wal_level'), qr/^t\|/, 'wal_level=logical passes');
like(check('logical', 'tributary_decoder'), qr/^t\|tributary_decoder is installed and allowed/,
	'tributary_decoder is found with a temporary slot');
like(check('logical', 'decoder'), qr/^t\|tributary_decoder will be used/, 'auto picks tributary_decoder');
like(check('logical_pgoutput', 'decoder'), qr/^t\|pgoutput will be used: the source option decoder asks for it/,
	'decoder=pgoutput is honoured');
is($logical->safe_psql('postgres', 'SELECT count(*) FROM pg_replication_slots'), '0',
	'the check leaves no slot behind');

# --- the source stops allowing tributary_decoder
$logical->safe_psql('postgres', "ALTER SYSTEM SET output_plugin_libraries = 'pgoutput'");
$logical->reload;
like(check('logical', 'tributary_decoder'), qr/^f\|tributary_decoder cannot be used: .*may not be used as an output plugin/,
	'the source\'s refusal is reported');
like(check('logical', 'decoder'), qr/^t\|pgoutput will be used: decoder is auto/, 'auto falls back to pgoutput');
like(check('logical_forced', 'decoder'),
	qr/^f\|the source option decoder asks for tributary_decoder, which cannot be used\|.*output_plugin_libraries = 'pgoutput, tributary_decoder'/,
	'a forced decoder that cannot be used fails the check');

# --- an unreachable source: a failed check, and a clean error in add_table
$target->safe_psql('postgres', q{SELECT tributary.create_source('nowhere', 'postgresql', 'host=127.0.0.1 port=1 dbname=x connect_timeout=2')});
like(check('nowhere', 'connection'), qr/^f\|could not connect to source "nowhere": .*\|Check the source's host/s,
	'an unreachable source fails the connection check');
$target->safe_psql('postgres', q{SELECT tributary.create_job('nowhere_job', 'nowhere')});
($ret, $out, $err) = $target->psql('postgres', "SELECT tributary.add_table('nowhere_job', 'public.good')");
like($err, qr/ERROR:  could not connect to source "nowhere"/, 'add_table reports an unreachable source');
is($target->safe_psql('postgres', 'SELECT count(*) FROM tributary.job_table t JOIN tributary.job j ON j.job_id = t.jt_job_id WHERE j.job_name = \'nowhere_job\''),
	'0', 'no half-written table row');

# --- a server where pg_tributary is not preloaded
my $bare = PostgreSQL::Test::Cluster->new('bare');
$bare->init;
$bare->start;
$bare->safe_psql('postgres', sprintf(q{
	CREATE EXTENSION pg_tributary;
	SELECT tributary.create_source('logical', 'postgresql', '%s');
	SELECT tributary.create_job('j', 'logical', 'full');
	SELECT tributary.add_table('j', 'public.good');
}, pg_conninfo($logical)));
($ret, $out, $err) = $bare->psql('postgres', "SELECT tributary.start_job('j')");
like($err, qr/ERROR:  pg_tributary is not loaded through shared_preload_libraries/,
	'start_job says the library was not preloaded');
like($err, qr/HINT:  Add pg_tributary to shared_preload_libraries/, '... with the fix');

$bare->stop;
$target->stop;
$logical->stop;
$replica->stop;
done_testing();
