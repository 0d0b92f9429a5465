# 008_mysql_full.pl -- 'full' jobs from MariaDB: chunked snapshot through
# mysql_use_result into local COPY, every type of DESIGN §5 at its edges,
# composite and binary keys, zero dates per zero_date.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use TributaryTest;
use MariaDBNode;

my $my = MariaDBNode->new('full', 'binlog-row-metadata' => 'FULL');
$my->sql(q{
	SET SESSION sql_mode = '';
	SET SESSION time_zone = '+00:00';
	CREATE DATABASE shop;
	USE shop;
	CREATE TABLE shop.types (} . MariaDBNode::types_columns() . q{) DEFAULT CHARSET utf8mb4;
	INSERT INTO shop.types VALUES
		(1, 127, 65535, 8388607, 2147483647, 4294967295, 9223372036854775807, 18446744073709551615,
		 99999999999999999999999999999999999.999999999999999999999999999999, 12345678.90, 1.5,
		 1.7976931348623157e308, b'1', x'8000000000000001',
		 'ab', 'ünïcødé ✓', 'a\tb\nc\\\\d', 'café', 'ab', x'00ff10', 'blob\0data',
		 '2024-02-29', '2024-02-29 23:59:59.123456', '2038-01-19 03:14:07.999', '23:59:59.99', 2155,
		 'b', 'z,x', '{"a": [1, 2, null], "b": "ü"}', ST_GeomFromText('POINT(1 2)')),
		(2, -128, 0, -8388608, -2147483648, 0, -9223372036854775808, 0,
		 -99999999999999999999999999999999999.999999999999999999999999999999, -0.01, -2.5e-3,
		 -2.2250738585072014e-308, b'0', b'0', '', '', '', '', x'', x'', x'',
		 '1000-01-01', '1000-01-01 00:00:00', '1970-01-01 00:00:01', '00:00:00', 1901,
		 'a', '', '[]', ST_GeomFromText('LINESTRING(0 0, 1 1)')),
		(3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
		 NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
	CREATE TABLE shop.zero (id INT PRIMARY KEY, dt DATE, dtm DATETIME, ts TIMESTAMP NULL DEFAULT NULL);
	INSERT INTO shop.zero VALUES (1, '0000-00-00', '0000-00-00 00:00:00', '0000-00-00 00:00:00'),
		(2, '2024-00-10', '2024-05-00 10:00:00', NULL), (3, '2024-05-10', '2024-05-10 10:00:00', '2024-05-10 10:00:00');
	CREATE TABLE shop.bulk (id INT PRIMARY KEY, v VARCHAR(40), d DECIMAL(12,2), t DATETIME);
	INSERT INTO shop.bulk
	  SELECT seq, MD5(seq), seq * 1.25, '2024-01-01 00:00:00' + INTERVAL seq MINUTE FROM seq_1_to_20000;
	CREATE TABLE shop.comp (region VARCHAR(10), id INT, v TEXT, PRIMARY KEY (region, id));
	INSERT INTO shop.comp
	  SELECT ELT(seq % 4 + 1, 'eu', 'us', 'ap', 'Äsien'), seq, CONCAT('v', seq) FROM seq_1_to_3001;
	CREATE TABLE shop.fl (id INT PRIMARY KEY, f FLOAT);
	INSERT INTO shop.fl VALUES (1, 3.1415927), (2, 16777217), (3, 1.17549435e-38), (4, 3.40282e38), (5, 0.1), (6, -7.0064923e-45);
	CREATE TABLE shop.bkey (k VARBINARY(16) PRIMARY KEY, v INT);
	INSERT INTO shop.bkey VALUES (x'00', 1), (x'0000', 2), (x'00ff', 3), (x'27', 4), (x'5c', 5),
		(x'ff', 6), (x'ff00', 7), ('abc', 8), (x'c3', 9), (x'0a0d09', 10);
});

my $target = target_node('target');
my $conn = $my->conninfo(undef, 'root');
$target->safe_psql('postgres', qq{
	SELECT tributary.create_source('maria', 'mysql', '$conn');
	SELECT tributary.create_job('myfull', 'maria', 'full', '{"snapshot_chunk_rows": 700, "target_schema": "mirror"}');
	SELECT tributary.add_table('myfull', 'shop.types');
	SELECT tributary.add_table('myfull', 'shop.zero');
	SELECT tributary.add_table('myfull', 'shop.bulk');
	SELECT tributary.add_table('myfull', 'shop.comp');
	SELECT tributary.add_table('myfull', 'shop.bkey');
	SELECT tributary.add_table('myfull', 'shop.fl');
	SELECT tributary.start_job('myfull');
});
is($target->safe_psql('postgres', "SELECT tributary.wait_for_sync('myfull', '120 s')"), 't', 'the MariaDB full job finishes');
is($target->safe_psql('postgres', q{
	SELECT string_agg(source_table || ' ' || state || ' ' || rows_copied || ' ' || chunks_done || '/' || chunks_total, ', '
	                  ORDER BY source_table)
	  FROM tributary.tables WHERE job_name = 'myfull'}),
	'shop.bkey done 10 1/1, shop.bulk done 20000 29/29, shop.comp done 3001 5/5, shop.fl done 6 1/1, shop.types done 3 1/1, shop.zero done 3 1/1',
	'every table done, in chunks of at most 700 rows');

# every type at its edges
my @cols = qw(ti si mi i iu bi bu dec65 d10 f dbl b1 b64 c vc tx l1 bin vb bl dt dtm ts tm yr en st js g);
my $sel = join(", ", map { $_ eq 'ts' ? "coalesce((ts AT TIME ZONE 'UTC')::text, 'NULL')" : "coalesce($_\::text, 'NULL')" } @cols);
is($target->safe_psql('postgres', "SELECT concat_ws('|', $sel) FROM mirror.types WHERE id = 1"),
	join('|', '127', '65535', '8388607', '2147483647', '4294967295', '9223372036854775807',
		'18446744073709551615', '99999999999999999999999999999999999.999999999999999999999999999999',
		'12345678.90', '1.5', '1.7976931348623157e+308', '1',
		'1' . ('0' x 62) . '1', 'ab', 'ünïcødé ✓',
		"a\tb\nc\\d", 'café', '\x61620000', '\x00ff10', '\x626c6f6200646174' . '61',
		'2024-02-29', '2024-02-29 23:59:59.123456', '2038-01-19 03:14:07.999', '23:59:59.99', '2155',
		'b', 'x,z', '{"a": [1, 2, null], "b": "ü"}', '\x0101000000000000000000f03f0000000000000040'),
	'maximum values, unicode, latin1, escapes, padding, bits, JSON and geometry copy exactly');
is($target->safe_psql('postgres', "SELECT concat_ws('|', $sel) FROM mirror.types WHERE id = 2"),
	join('|', '-128', '0', '-8388608', '-2147483648', '0', '-9223372036854775808', '0',
		'-99999999999999999999999999999999999.999999999999999999999999999999', '-0.01', '-0.0025',
		'-2.2250738585072014e-308', '0', '0' x 64, '', '', '', '', '\x00000000', '\x', '\x',
		'1000-01-01', '1000-01-01 00:00:00', '1970-01-01 00:00:01', '00:00:00', '1901',
		'a', '', '[]', '\x' . '01' . '02000000' . '02000000' . ('00' x 16) . ('000000000000f03f' x 2)),
	'minimum values and empty strings copy exactly');
is($target->safe_psql('postgres', "SELECT concat_ws('|', $sel) FROM mirror.types WHERE id = 3"),
	join('|', ('NULL') x scalar(@cols)), 'NULLs copy as NULLs');
is($target->safe_psql('postgres', q{
	SELECT string_agg(format_type(atttypid, atttypmod), ',' ORDER BY attnum) FROM pg_attribute
	 WHERE attrelid = 'mirror.types'::regclass AND attnum > 0}),
	'integer,smallint,integer,integer,integer,bigint,bigint,numeric(20,0),numeric(65,30),numeric(10,2),real,double precision,'
	. 'bit(1),bit(64),character(5),character varying(20),text,character varying(20),bytea,bytea,bytea,'
	. 'date,timestamp(6) without time zone,timestamp(3) with time zone,time(2) without time zone,smallint,text,text,jsonb,bytea',
	'the auto-created target follows the type mapping');

# FLOAT: every bit of the stored value (the server prints FLOAT with 6 digits)
is($target->safe_psql('postgres', q{
	SELECT string_agg(id || ':' || (f = ('{3.1415927,16777216,1.17549435e-38,3.40282e38,0.1,-7.0064923e-45}'::real[])[id])::text, ',' ORDER BY id)
	  FROM mirror.fl}),
	'1:true,2:true,3:true,4:true,5:true,6:true', 'FLOAT values arrive bit for bit, extremes and denormals included');

# zero dates: NULL by default
is($target->safe_psql('postgres', q{SELECT string_agg(concat_ws('|', id, coalesce(dt::text, 'NULL'), coalesce(dtm::text, 'NULL'),
	coalesce((ts AT TIME ZONE 'UTC')::text, 'NULL')), ',' ORDER BY id) FROM mirror.zero}),
	'1|NULL|NULL|NULL,2|NULL|NULL|NULL,3|2024-05-10|2024-05-10 10:00:00|2024-05-10 10:00:00',
	'zero and partial dates become NULL (zero_date = null)');

# bulk and composite-key tables: digests computed on both sides
sub my_digest
{
	my ($sql) = @_;
	return $my->sql("SET SESSION group_concat_max_len = 1073741824; $sql");
}
is($target->safe_psql('postgres', q{SELECT md5(string_agg(concat_ws('|', id, v, d, t), E'\n' ORDER BY id)) FROM mirror.bulk}),
	my_digest(q{SELECT MD5(GROUP_CONCAT(CONCAT_WS('|', id, v, d, t) ORDER BY id SEPARATOR '\n')) FROM shop.bulk}),
	'20,000 rows copied exactly across 29 chunks');
is($target->safe_psql('postgres', q{SELECT md5(string_agg(concat_ws('|', region, id, v), E'\n' ORDER BY id)) FROM mirror.comp}),
	my_digest(q{SELECT MD5(CONVERT(GROUP_CONCAT(CONCAT_WS('|', region, id, v) ORDER BY id SEPARATOR '\n') USING utf8mb4)) FROM shop.comp}),
	'composite-key table copied exactly across chunk boundaries');

# binary keys: chunk bounds in hex
$target->safe_psql('postgres', q{
	SELECT tributary.create_job('bkeys', 'maria', 'full', '{"snapshot_chunk_rows": 3, "target_schema": "bk"}');
	SELECT tributary.add_table('bkeys', 'shop.bkey');
	SELECT tributary.start_job('bkeys');
});
is($target->safe_psql('postgres', "SELECT tributary.wait_for_sync('bkeys', '60 s')"), 't', 'binary-key job finishes');
is($target->safe_psql('postgres', q{SELECT string_agg(encode(k, 'hex') || '=' || v, ',' ORDER BY k) FROM bk.bkey}),
	'00=1,0000=2,00ff=3,0a0d09=10,27=4,5c=5,616263=8,c3=9,ff=6,ff00=7',
	'binary keys with NUL, quote, backslash and non-UTF-8 bytes copied across 4 chunks');
is($target->safe_psql('postgres', "SELECT chunks_done FROM tributary.tables WHERE job_name = 'bkeys'"), '4', 'in 4 chunks');

# zero_date -infinity and error
$target->safe_psql('postgres', q{
	SELECT tributary.create_job('zinf', 'maria', 'full', '{"zero_date": "-infinity", "target_schema": "zinf"}');
	SELECT tributary.add_table('zinf', 'shop.zero');
	SELECT tributary.start_job('zinf');
});
is($target->safe_psql('postgres', "SELECT tributary.wait_for_sync('zinf', '60 s')"), 't', 'zero_date -infinity job finishes');
is($target->safe_psql('postgres', q{SELECT string_agg(concat_ws('|', id, dt, dtm, coalesce(ts::text, 'NULL')), ',' ORDER BY id) FROM zinf.zero WHERE id < 3}),
	'1|-infinity|-infinity|-infinity,2|-infinity|-infinity|NULL', 'zero dates become -infinity');
$target->safe_psql('postgres', q{
	SELECT tributary.create_job('zerr', 'maria', 'full', '{"zero_date": "error", "target_schema": "zerr"}');
	SELECT tributary.add_table('zerr', 'shop.zero');
	SELECT tributary.start_job('zerr');
});
ok($target->poll_query_until('postgres', "SELECT state = 'failed' FROM tributary.jobs WHERE job_name = 'zerr'"),
	'zero_date error fails the job');
like($target->safe_psql('postgres', "SELECT message || ' / ' || context FROM tributary.errors WHERE job_name = 'zerr'"),
	qr/zero date "0000-00-00" in source table \[shop.zero\] .*snapshot of source table \[shop.zero\]/s,
	'naming the value, the table and the chunk');

$target->stop;
$my->stop;
done_testing();
