# 029_binlog_files.pl -- the binlog decoders on real servers' binlog files
# (issue 12 item 18): every binlog file of the Debian package mariadb-test
# (mysql-test/std_data and suite/binlog/std_data: MySQL 4.0 to 8.0.40 and
# MariaDB 5.5 to 10.3, clean and damaged) is decoded with the connector's
# decoders (tributary_binlog_render_file of the test module), and
#   - where mariadb-binlog --verbose decodes the file too, every row image
#     (operation, table, each value mariadb-binlog prints) must be the same;
#   - the files pg_tributary does not read must be refused with the error
#     listed below, never crash or decode silently.
# What this found and fixed: format descriptions with a longer common
# header (MariaDB's MDEV-4645 files), the checksum of a format description
# whose in-use flag is set, more than 16 table maps in one file, and clear
# errors for binlog version 3 and for MySQL 5.1's TABLE_MAP without
# metadata; INCIDENT events now stop a stream, as they stop a replica.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use File::Find;
use File::Basename;
use IPC::Run;
use FindBin;
use lib $FindBin::RealBin;
use TestDeadline;

my $root = '/usr/share/mysql/mysql-test';
BAIL_OUT("$root is missing: the test command installs the Debian package mariadb-test")
  unless -d "$root/std_data";

# the binlog files: every file that starts with the magic bytes
my @files;
find(sub {
	return unless -f $_ && -s $_ > 4;
	open my $fh, '<:raw', $_ or return;
	read($fh, my $magic, 4);
	close $fh;
	push @files, $File::Find::name if $magic eq "\xfebin";
}, $root);
@files = sort @files;
cmp_ok(scalar(@files), '>=', 30, scalar(@files) . ' binlog files found in mariadb-test');

# files pg_tributary refuses, with why (basename => error)
my %refused = (
	# binlog version 3 (MySQL 4.x): no FORMAT_DESCRIPTION
	'bug47142_master-bin.000001' => qr/binlog versions before 4 \(MySQL 4\.x and older\) are not supported/,
	'trunc_binlog.000001' => qr/binlog versions before 4/,
	'binlog_old_version_4_1.000001' => qr/binlog versions before 4/,
	'master-bin.000001' => qr/binlog versions before 4/,
	# MySQL 5.1 betas: TABLE_MAP without column metadata, pre-GA rows events
	'bug32407.001' => qr/TABLE_MAP event without column metadata \(written by MySQL 5\.1 before 5\.1\.18\)/,
	'ver_5_1-telco.001' => qr/TABLE_MAP event without column metadata/,
	'ver_5_1_17.001' => qr/TABLE_MAP event without column metadata/,
	# damaged on purpose (mariadb-binlog stops on them too)
	'binlog_before_20574.bin' => qr/has checksum [0-9A-F]+, expected/,
	'bug11747416_32228_binlog.000001' => qr/has a bad size 65567/,
	'corrupt-relay-bin.000624' => qr/QUERY event too short/,
	'mdev-39404-binlog.000001' => qr/has checksum [0-9A-F]+, expected/,
	'invalid_row_v2_tag.001' => qr/rows event has a bad column count/,
	# MySQL 8.0.40 with binlog_row_value_options = PARTIAL_JSON (checked below)
	'mdev35643_mysql_80_binlog.000001' => qr/PARTIAL_UPDATE_ROWS event/,
);

my $node = PostgreSQL::Test::Cluster->new('files');
$node->init;
$node->start;
$node->safe_psql('postgres', q{CREATE FUNCTION render_file(f bytea, row_lines boolean) RETURNS text
	LANGUAGE C STRICT AS 'tributary_test', 'tributary_binlog_render_file'});

# unescape: \xNN to the byte
sub unescape
{
	my ($s) = @_;
	$s =~ s/\\x([0-9a-f]{2})/chr(hex($1))/ge;
	return $s;
}

# theirs: mariadb-binlog -vv's row images: [op, table, {column number => [value, type]}]
sub theirs
{
	my ($file) = @_;
	my ($out, $err) = ('', '');
	IPC::Run::run(['mariadb-binlog', '--no-defaults', '-vv', '--base64-output=decode-rows', $file],
		'>', \$out, '2>', \$err);
	my (@rows, $cur);
	for my $line (split /\n/, $out)
	{
		if ($line =~ /^### (INSERT INTO|UPDATE|DELETE FROM) `([^`]*)`\.`([^`]*)`$/)
		{
			my $op = $1 eq 'INSERT INTO' ? 'I' : $1 eq 'UPDATE' ? 'U-' : 'D';
			$cur = [$op, "$2.$3", {}];
			push @rows, $cur;
		}
		elsif ($line eq '### SET' && $cur && $cur->[0] eq 'U-')
		{
			$cur = ['U+', $cur->[1], {}];
			push @rows, $cur;
		}
		elsif ($line =~ m{^###   \@(\d+)=(.*) /\* (\w+)(?:\(.*?\))? meta=.*\*/$} && $cur)
		{
			$cur->[2]{$1} = [$2, $3];
		}
	}
	return \@rows;
}

# same_value: whether our value equals mariadb-binlog's, by its type
sub same_value
{
	my ($ours, $theirs, $type) = @_;
	return $ours eq '\N' if $theirs eq 'NULL';
	return 0 if $ours eq '\N';
	if ($type =~ /INT$/)
	{
		# mariadb-binlog prints a negative value with its unsigned reading
		return $theirs =~ /^(-?\d+)(?: \((\d+)\))?$/ && ($ours eq $1 || (defined $2 && $ours eq $2));
	}
	if ($theirs =~ /^'(.*)'$/s)
	{
		return unescape($ours) eq unescape($1);
	}
	return $ours eq $theirs;
}

for my $file (@files)
{
	my $name = basename($file);
	my ($ret, $out, $err) = $node->psql('postgres',
		"SELECT render_file(pg_read_binary_file('$file'), true)");
	if (my $why = $refused{$name})
	{
		isnt($ret, 0, "$name is refused");
		like($err, $why, "... with the reason");
		if ($name eq 'mdev35643_mysql_80_binlog.000001')
		{
			# its zstd TRANSACTION_PAYLOAD (whose format description declares a
			# post-header its events lack) holds 100 inserts, all decoded
			my ($payload) = $err =~ /TRANSACTION_PAYLOAD \d+ bytes\n(.*)/s;
			my @ids = ($payload // '') =~ /^  INSERT test\.t1 \('(\d+)'/mg;
			is(join(',', @ids[0 .. 99]), join(',', 1000 .. 1099), '... after decoding the 100 inserts of its compressed transaction');
		}
		next;
	}
	is($ret, 0, "$name decodes") or diag($err);
	if ($name eq 'bug40482-bin.000001')
	{
		# an INCIDENT with an unknown number (mariadb-binlog refuses the event):
		# read, and a stream stops at any incident, as a replica does
		like($node->safe_psql('postgres', "SELECT render_file(pg_read_binary_file('$file'), false)"),
			qr/^INCIDENT 66 $/m, '... its INCIDENT event is read');
	}
	my @ours = map { [split /\t/, $_, -1] } grep { length } split /\n/, $out;
	my $rows = theirs($file);
	is(scalar(@ours), scalar(@$rows), "$name: as many row images as mariadb-binlog decodes (" . scalar(@$rows) . ")");
	my ($compared, @bad) = (0);
	for my $i (0 .. $#$rows)
	{
		my ($op, $table, $values) = @{ $rows->[$i] };
		my $mine = $ours[$i] or last;
		if ($mine->[0] ne $op || $mine->[1] ne $table)
		{
			push @bad, "row $i: $mine->[0] $mine->[1] instead of $op $table";
			next;
		}
		for my $col (sort { $a <=> $b } keys %$values)
		{
			my ($v, $type) = @{ $values->{$col} };
			my $m = $mine->[1 + $col];
			$compared++;
			push @bad, "row $i ($op $table) column $col ($type): ours " . ($m // 'missing') . ", theirs $v"
			  unless defined $m && same_value($m, $v, $type);
		}
	}
	is(join("\n", @bad[0 .. ($#bad < 4 ? $#bad : 4)]), '', "$name: every value equals mariadb-binlog's ($compared compared)");
}

done_testing();
