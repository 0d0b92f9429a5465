# FakeMySQL.pm -- a fake Oracle MySQL 8 server for the TAP tests.
#
# Oracle MySQL is not packaged for Debian, so what pg_tributary does only
# on MySQL (the dump by GTID, COM_BINLOG_DUMP_GTID) is tested against this
# server: it speaks the client/server protocol (handshake v10, any user and
# password accepted, no TLS), answers the queries pg_tributary sends for a
# cdc job of one table, shop.t (id INT PRIMARY KEY, v VARCHAR(40)), and
# serves a binlog built here, event by event, from MySQL 8's documented
# formats (FORMAT_DESCRIPTION, PREVIOUS_GTIDS, GTID, QUERY BEGIN,
# TABLE_MAP, WRITE_ROWS / UPDATE_ROWS v2, XID, ROTATE; CRC32 checksums):
#
#   COM_BINLOG_DUMP       file and offset, as MySQL: an artificial ROTATE,
#                         the file's FORMAT_DESCRIPTION (artificial past
#                         offset 4), the events from the offset on, the
#                         next files; BINLOG_DUMP_NON_BLOCK ends with EOF
#   COM_BINLOG_DUMP_GTID  the packet is decoded here (independently of
#                         pg_tributary's encoder) and logged; like MySQL,
#                         the server refuses a set with GTIDs it does not
#                         have, starts at the newest file whose
#                         PREVIOUS_GTIDS the set holds, and skips the
#                         transactions the set holds, sending a heartbeat
#                         in place of each of their events
#
# A blocking dump sends heartbeats every second after the last event.
# Every query and dump request is appended to the server's log
# ($server->log_lines), which the tests read; a query it does not know
# gets an empty result (logged as UNKNOWN).  Each connection is served by
# a process of its own; stop ends them all.
package FakeMySQL;

use strict;
use warnings;
use IO::Socket::INET;
use Compress::Zlib qw(crc32);
use File::Path qw(make_path);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Time::HiRes qw(usleep time);
use POSIX ();

my %live;

# lebytes: n as width little-endian bytes
sub lebytes
{
	my ($n, $width) = @_;
	my $s = '';
	for (1 .. $width)
	{
		$s .= chr($n % 256);
		$n = int($n / 256);
	}
	return $s;
}

sub rd
{
	my ($s) = @_;
	my $n = 0;
	$n = $n * 256 + ord($_) for reverse split //, $s;
	return $n;
}

sub lenenc_int
{
	my ($n) = @_;
	return chr($n) if $n < 251;
	return "\xfc" . lebytes($n, 2) if $n < 65536;
	return "\xfd" . lebytes($n, 3) if $n < 16777216;
	return "\xfe" . lebytes($n, 8);
}

sub lenenc_str { my ($s) = @_; return lenenc_int(length $s) . $s; }

# uuid_bytes: "aaaaaaaa-bbbb-..." as 16 bytes
sub uuid_bytes { my ($u) = @_; $u =~ s/-//g; return pack('H32', $u); }

sub uuid_text
{
	my ($b) = @_;
	my $h = unpack('H32', $b);
	return join('-', substr($h, 0, 8), substr($h, 8, 4), substr($h, 12, 4), substr($h, 16, 4), substr($h, 20));
}

# encode_set: a GTID set { uuid => [[start, end_exclusive], ...] } as MySQL
# encodes it (n_sids u64; uuid, n_intervals u64, start u64, end u64)
sub encode_set
{
	my ($set) = @_;
	my $out = lebytes(scalar keys %$set, 8);
	for my $u (sort { uuid_bytes($a) cmp uuid_bytes($b) } keys %$set)
	{
		$out .= uuid_bytes($u) . lebytes(scalar @{ $set->{$u} }, 8);
		$out .= lebytes($_->[0], 8) . lebytes($_->[1], 8) for @{ $set->{$u} };
	}
	return $out;
}

# decode_set: the reverse, or undef for bytes that do not hold a set
sub decode_set
{
	my ($b) = @_;
	return undef if length $b < 8;
	my $n = rd(substr($b, 0, 8));
	my $p = 8;
	my %set;
	for (1 .. $n)
	{
		return undef if length($b) < $p + 24;
		my $u = uuid_text(substr($b, $p, 16));
		my $k = rd(substr($b, $p + 16, 8));
		$p += 24;
		return undef if length($b) < $p + 16 * $k;
		for (1 .. $k)
		{
			push @{ $set{$u} }, [ rd(substr($b, $p, 8)), rd(substr($b, $p + 8, 8)) ];
			$p += 16;
		}
	}
	return undef if $p != length $b;
	return \%set;
}

# set_text: MySQL's text of a set
sub set_text
{
	my ($set) = @_;
	return join(',', map {
		my $u = $_;
		$u . join('', map { ':' . ($_->[1] - $_->[0] == 1 ? $_->[0] : "$_->[0]-" . ($_->[1] - 1)) } @{ $set->{$u} })
	} sort keys %$set);
}

sub set_has
{
	my ($set, $u, $gno) = @_;
	return scalar grep { $gno >= $_->[0] && $gno < $_->[1] } @{ $set->{$u} // [] };
}

# set_holds: whether every GTID of $sub is in $set
sub set_holds
{
	my ($set, $sub) = @_;
	for my $u (keys %$sub)
	{
		for my $iv (@{ $sub->{$u} })
		{
			return 0 unless grep { $_->[0] <= $iv->[0] && $iv->[1] <= $_->[1] } @{ $set->{$u} // [] };
		}
	}
	return 1;
}

sub set_add
{
	my ($set, $u, $gno) = @_;
	my @iv = sort { $a->[0] <=> $b->[0] } (@{ $set->{$u} // [] }, [ $gno, $gno + 1 ]);
	my @out;
	for my $i (@iv)
	{
		if (@out && $i->[0] <= $out[-1][1]) { $out[-1][1] = $i->[1] if $i->[1] > $out[-1][1]; }
		else { push @out, [@$i]; }
	}
	$set->{$u} = \@out;
}

# event: one event with its common header and CRC32
sub event
{
	my ($self, $type, $body, $log_pos, $flags) = @_;
	my $size = 19 + length($body) + 4;
	my $ev = lebytes(1700000000, 4) . chr($type) . lebytes($self->{server_id}, 4) . lebytes($size, 4)
	  . lebytes($log_pos, 4) . lebytes($flags // 0, 2) . $body;
	return $ev . lebytes(crc32($ev), 4);
}

sub format_description_body
{
	my @post = (0) x 41;
	my %ph = (2 => 13, 4 => 8, 15 => 98, 16 => 0, 19 => 8, 30 => 10, 31 => 10, 32 => 10,
		33 => 42, 34 => 42, 35 => 0, 40 => 0);
	$post[ $_ - 1 ] = $ph{$_} for keys %ph;
	my $version = "8.0.36";
	return lebytes(4, 2) . $version . ("\0" x (50 - length $version)) . lebytes(1700000000, 4) . chr(19)
	  . join('', map { chr } @post) . chr(1);
}

my $TABLE_ID = 88;

sub table_map_body
{
	my $types = chr(3) . chr(15);			# INT, VARCHAR
	my $meta = lebytes(160, 2);					# VARCHAR(40) utf8mb4: 160 bytes
	my $b = lebytes($TABLE_ID, 6) . lebytes(1, 2) . chr(4) . "shop\0" . chr(1) . "t\0";
	$b .= lenenc_int(2) . $types . lenenc_int(length $meta) . $meta . chr(0b10);
	my $names = lenenc_str('id') . lenenc_str('v');
	$b .= chr(1) . lenenc_int(1) . chr(0);	# SIGNEDNESS: id signed
	$b .= chr(4) . lenenc_int(length $names) . $names;	# COLUMN_NAME
	$b .= chr(8) . lenenc_int(1) . lenenc_int(0);	# SIMPLE_PRIMARY_KEY: id
	return $b;
}

sub row_image
{
	my ($id, $v) = @_;
	return chr(0) . lebytes($id, 4) . chr(length $v) . $v;
}

# build: the binlog files from the spec: [ [name, [item, ...]], ... ]
# where an item is { gtid => [uuid, gno], insert => [[id, v], ...],
# update => [[id, old, new], ...] }; each file starts with
# FORMAT_DESCRIPTION and PREVIOUS_GTIDS and all but the last end with
# ROTATE
sub build
{
	my ($self, $spec) = @_;
	my %executed;
	my @files;
	for my $fi (0 .. $#$spec)
	{
		my ($name, $items) = @{ $spec->[$fi] };
		my @events;
		my $pos = 4;
		my $push = sub {
			my ($type, $body, $flags) = @_;
			my $ev = $self->event($type, $body, $pos + 19 + length($body) + 4, $flags);
			push @events, { start => $pos, bytes => $ev, type => $type };
			$pos += length $ev;
			return $events[-1];
		};
		$push->(15, format_description_body());
		my %prev = map { $_ => [ map { [@$_] } @{ $executed{$_} } ] } keys %executed;
		my $prev = encode_set(\%prev);
		# MySQL 8.3's tagged format: the format (1) in the first and last
		# bytes of n_sids (the rest is not read by pg_tributary)
		substr($prev, 0, 1, chr(1)), substr($prev, 7, 1, chr(1)) if $self->{tagged};
		$push->(35, $prev);
		for my $it (@$items)
		{
			my ($u, $gno) = @{ $it->{gtid} };
			my $g = $push->(33, chr(1) . uuid_bytes($u) . lebytes($gno, 8) . chr(2) . lebytes(0, 8) . lebytes(1, 8));
			$g->{gtid} = [ $u, $gno ];
			$push->(2, lebytes(77, 4) . lebytes(0, 4) . chr(4) . lebytes(0, 2) . lebytes(0, 2) . "shop\0BEGIN");
			$push->(19, table_map_body());
			if ($it->{insert})
			{
				$push->(30, lebytes($TABLE_ID, 6) . lebytes(1, 2) . lebytes(2, 2) . lenenc_int(2) . chr(0b11)
					  . join('', map { row_image(@$_) } @{ $it->{insert} }));
			}
			if ($it->{update})
			{
				$push->(31, lebytes($TABLE_ID, 6) . lebytes(1, 2) . lebytes(2, 2) . lenenc_int(2) . chr(0b11) . chr(0b11)
					  . join('', map { row_image($_->[0], $_->[1]) . row_image($_->[0], $_->[2]) } @{ $it->{update} }));
			}
			my $x = $push->(16, lebytes(1000 + $gno, 8));
			$x->{end_of} = [ $u, $gno ];
			set_add(\%executed, $u, $gno);
		}
		if ($fi < $#$spec)
		{
			$push->(4, lebytes(4, 8) . $spec->[ $fi + 1 ][0]);
		}
		push @files, { name => $name, events => \@events, end => $pos, prev => \%prev };
	}
	$self->{files} = \@files;
	$self->{executed} = \%executed;
}

# new: build the binlog and start serving it; %opts: name, server_id,
# binlog (the spec of build), tagged (PREVIOUS_GTIDS in MySQL 8.3's tagged
# format)
sub new
{
	my ($class, %opts) = @_;
	my $dir = "${PostgreSQL::Test::Utils::tmp_check}/fakemysql_$opts{name}";
	make_path($dir);
	my $self = bless { %opts, dir => $dir, log => "$dir/server.log" }, $class;
	$self->build($opts{binlog});
	unlink $self->{log};
	$self->{port} = PostgreSQL::Test::Cluster::get_free_port();
	my $listen = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $self->{port},
		Listen => 16, ReuseAddr => 1, Proto => 'tcp') or die "cannot listen: $!";
	my $pid = fork();
	die "fork: $!" unless defined $pid;
	if ($pid == 0)
	{
		setpgrp(0, 0);
		$SIG{CHLD} = 'IGNORE';
		$SIG{ALRM} = 'DEFAULT';
		alarm(0);
		while (my $c = $listen->accept)
		{
			my $kid = fork();
			if (defined $kid && $kid == 0)
			{
				close $listen;
				eval { $self->serve($c); };
				$self->log_line("CLOSED " . ($@ || 'ok'));
				POSIX::_exit(0);
			}
			close $c;
		}
		POSIX::_exit(0);
	}
	close $listen;
	$self->{pid} = $pid;
	$live{$pid} = $self;
	return $self;
}

sub port { return $_[0]->{port}; }

sub conninfo
{
	my ($self) = @_;
	return "host=127.0.0.1 port=$self->{port} user=root password=secret";
}

# stop: end the server and every connection it serves
sub stop
{
	my ($self) = @_;
	return unless $self->{pid};
	kill 'KILL', -$self->{pid};
	waitpid($self->{pid}, 0);
	delete $live{ $self->{pid} };
	delete $self->{pid};
}

sub DESTROY { $_[0]->stop; }

END { $_->stop for values %live; }

sub log_line
{
	my ($self, $line) = @_;
	open my $fh, '>>', $self->{log} or return;
	print $fh "$line\n";
	close $fh;
}

# log_lines: what the server logged, one entry per line
sub log_lines
{
	my ($self) = @_;
	open my $fh, '<', $self->{log} or return ();
	my @l = <$fh>;
	close $fh;
	chomp @l;
	return @l;
}

# --- the protocol

sub send_packet
{
	my ($self, $c, $payload) = @_;
	print $c lebytes(length $payload, 3) . chr($self->{seq}++ % 256) . $payload;
}

sub read_packet
{
	my ($self, $c) = @_;
	my $h = '';
	while (length $h < 4)
	{
		my $n = sysread($c, $h, 4 - length $h, length $h);
		return undef unless $n;
	}
	my $len = rd(substr($h, 0, 3));
	$self->{seq} = (ord(substr($h, 3, 1)) + 1) % 256;
	my $p = '';
	while (length $p < $len)
	{
		my $n = sysread($c, $p, $len - length $p, length $p);
		return undef unless $n;
	}
	return $p;
}

sub ok_packet { my ($self, $c) = @_; $self->send_packet($c, "\0\0\0" . lebytes(2, 2) . lebytes(0, 2)); }

sub eof_packet { my ($self, $c) = @_; $self->send_packet($c, "\xfe" . lebytes(0, 2) . lebytes(2, 2)); }

sub err_packet
{
	my ($self, $c, $code, $msg) = @_;
	$self->send_packet($c, "\xff" . lebytes($code, 2) . "#HY000" . $msg);
}

# result: a result set of text columns; undef values are NULL
sub result
{
	my ($self, $c, $cols, $rows) = @_;
	$self->send_packet($c, lenenc_int(scalar @$cols));
	for my $col (@$cols)
	{
		$self->send_packet($c, lenenc_str('def') . lenenc_str('') . lenenc_str('') . lenenc_str('')
			  . lenenc_str($col) . lenenc_str($col) . chr(0x0c) . lebytes(255, 2) . lebytes(1024, 4)
			  . chr(253) . lebytes(0, 2) . chr(0) . lebytes(0, 2));
	}
	$self->eof_packet($c);
	for my $r (@$rows)
	{
		$self->send_packet($c, join('', map { defined $_ ? lenenc_str($_) : "\xfb" } @$r));
	}
	$self->eof_packet($c);
}

sub serve
{
	my ($self, $c) = @_;
	binmode $c;
	$c->autoflush(1);
	$self->{seq} = 0;
	my $caps = 1 | 2 | 4 | 8 | 0x200 | 0x2000 | 0x8000 | 0x10000 | 0x20000 | 0x80000 | 0x100000 | 0x200000;
	my $salt = 'abcdefghijklmnopqrst';
	$self->send_packet($c, chr(10) . "8.0.36-fake\0" . lebytes($$, 4) . substr($salt, 0, 8) . "\0"
		  . lebytes($caps & 0xffff, 2) . chr(255) . lebytes(2, 2) . lebytes($caps >> 16, 2) . chr(21) . ("\0" x 10)
		  . substr($salt, 8) . "\0" . "mysql_native_password\0");
	defined $self->read_packet($c) or return;
	$self->ok_packet($c);
	while (defined(my $p = $self->read_packet($c)))
	{
		my $cmd = ord($p);
		my $arg = substr($p, 1);
		if ($cmd == 1) { return; }
		elsif ($cmd == 3) { $self->query($c, $arg); }
		elsif ($cmd == 14) { $self->ok_packet($c); }
		elsif ($cmd == 0x12)
		{
			my ($pos, $flags, $sid) = (rd(substr($arg, 0, 4)), rd(substr($arg, 4, 2)), rd(substr($arg, 6, 4)));
			my $file = substr($arg, 10);
			$self->log_line("DUMP $file:$pos flags=$flags");
			return $self->dump($c, $file, $pos, $flags, undef);
		}
		elsif ($cmd == 0x1e)
		{
			$self->log_line("DUMP_GTID " . unpack('H*', $arg));
			my $flags = rd(substr($arg, 0, 2));
			my $nlen = rd(substr($arg, 6, 4));
			my $file = substr($arg, 10, $nlen);
			my $pos = rd(substr($arg, 10 + $nlen, 8));
			my $size = rd(substr($arg, 18 + $nlen, 4));
			my $set = length($arg) == 22 + $nlen + $size ? decode_set(substr($arg, 22 + $nlen)) : undef;
			if (!$set)
			{
				$self->log_line("DUMP_GTID malformed");
				return $self->err_packet($c, 1236, 'malformed COM_BINLOG_DUMP_GTID');
			}
			$self->log_line("DUMP_GTID file='$file' pos=$pos set=" . set_text($set));
			return $self->dump($c, $file, $pos, $flags, $set);
		}
		else { $self->err_packet($c, 1047, 'Unknown command'); }
	}
}

sub query
{
	my ($self, $c, $q) = @_;
	$self->log_line("QUERY $q");
	my $last = $self->{files}[-1];
	my %vars = (log_bin => 'ON', binlog_format => 'ROW', binlog_row_image => 'FULL',
		binlog_row_metadata => 'FULL', binlog_row_value_options => '', binlog_checksum => 'CRC32',
		server_id => $self->{server_id}, gtid_mode => 'ON', version => '8.0.36-fake');
	if ($q =~ /^(SET|START|COMMIT|ROLLBACK|USE)\b/i) { return $self->ok_packet($c); }
	# the second one is Connector/C's, in mariadb_rpl_init
	if ($q =~ /^SELECT \@\@(global\.)?binlog_checksum/i)
	{
		# no_checksum: a server that reports no value (Connector/C's own
		# query in mariadb_rpl_init would take its first row blindly)
		return $self->result($c, ['c'], $self->{no_checksum} ? [] : [['CRC32']]);
	}
	if ($q =~ /^SELECT \@rpl_semi_sync_slave/i) { return $self->result($c, ['c'], [[undef]]); }
	if ($q =~ /^SHOW (MASTER|BINARY LOG) STATUS/i)
	{
		return $self->result($c, [qw(File Position Binlog_Do_DB Binlog_Ignore_DB Executed_Gtid_Set)],
			[ [ $last->{name}, $last->{end}, '', '', set_text($self->{executed}) ] ]);
	}
	if ($q =~ /^SHOW BINARY LOGS/i)
	{
		return $self->result($c, [qw(Log_name File_size Encrypted)],
			[ map { [ $_->{name}, $_->{end}, 'No' ] } @{ $self->{files} } ]);
	}
	if ($q =~ /^SHOW GLOBAL VARIABLES LIKE '(\w+)'/i)
	{
		return $self->result($c, [qw(Variable_name Value)], defined $vars{$1} ? [ [ $1, $vars{$1} ] ] : []);
	}
	if ($q =~ /^SHOW GLOBAL VARIABLES WHERE/i)
	{
		return $self->result($c, [qw(Variable_name Value)],
			[ map { [ $_, $vars{$_} ] } qw(log_bin binlog_format binlog_row_image binlog_row_value_options) ]);
	}
	if ($q =~ /^SHOW STATUS LIKE/i) { return $self->result($c, [qw(Variable_name Value)], []); }
	if ($q =~ /^SELECT COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, IFNULL/i)
	{
		return $self->result($c, [ map { "c$_" } 1 .. 9 ],
			[ [ 'id', 'int', 'int', 0, 10, 0, 0, 'NO', undef ], [ 'v', 'varchar', 'varchar(40)', 40, 0, 0, 0, 'YES', undef ] ]);
	}
	if ($q =~ /^SELECT COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, CHARACTER_SET_NAME/i)
	{
		return $self->result($c, [ map { "c$_" } 1 .. 4 ],
			[ [ 'id', 'int', 'int', undef ], [ 'v', 'varchar', 'varchar(40)', 'utf8mb4' ] ]);
	}
	if ($q =~ /^SELECT COLUMN_NAME FROM information_schema\.KEY_COLUMN_USAGE/i)
	{
		return $self->result($c, ['COLUMN_NAME'], [ ['id'] ]);
	}
	if ($q =~ /FROM information_schema\.CHECK_CONSTRAINTS/i) { return $self->result($c, ['CHECK_CLAUSE'], []); }
	if ($q =~ /FROM information_schema\.REFERENTIAL_CONSTRAINTS/i)
	{
		return $self->result($c, [ map { "c$_" } 1 .. 9 ], []);
	}
	if ($q =~ /^SELECT TABLE_TYPE FROM/i) { return $self->result($c, ['TABLE_TYPE'], [ ['BASE TABLE'] ]); }
	if ($q =~ /^SELECT CURRENT_USER/i) { return $self->result($c, ['u'], [ ['root@%'] ]); }
	if ($q =~ /^SHOW GRANTS/i)
	{
		return $self->result($c, ['g'], [ ['GRANT ALL PRIVILEGES ON *.* TO `root`@`%`'] ]);
	}
	if ($q =~ /^SELECT BINLOG_GTID_POS/i)
	{
		return $self->err_packet($c, 1305, 'FUNCTION BINLOG_GTID_POS does not exist');
	}
	$self->log_line("UNKNOWN $q");
	return $self->result($c, ['c'], []);
}

# dump: serve the binlog from file:pos, or, with a GTID set, what it does not hold
sub dump
{
	my ($self, $c, $file, $pos, $flags, $set) = @_;
	my @files = @{ $self->{files} };
	my $fi;
	if ($set)
	{
		if (!set_holds($self->{executed}, $set))
		{
			return $self->err_packet($c, 1236,
				'Slave has more GTIDs than the master has, using the master\'s SERVER_UUID');
		}
		if ($file eq '')
		{
			($fi) = grep { set_holds($set, $files[$_]{prev}) } reverse 0 .. $#files;
			$pos = 4;
		}
		else { ($fi) = grep { $files[$_]{name} eq $file } 0 .. $#files; }
	}
	else { ($fi) = grep { $files[$_]{name} eq $file } 0 .. $#files; }
	if (!defined $fi)
	{
		return $self->err_packet($c, 1236,
			'Could not find first log file name in binary log index file');
	}
	$self->log_line("SERVE $files[$fi]{name}:$pos" . ($set ? ' by GTID' : ''));
	my $send = sub { $self->send_packet($c, "\0" . $_[0]); };
	$send->($self->event(4, lebytes($pos, 8) . $files[$fi]{name}, 0, 0x20));
	my $skipping = 0;
	for my $i ($fi .. $#files)
	{
		my $f = $files[$i];
		for my $ev (@{ $f->{events} })
		{
			if ($ev->{type} == 15)
			{
				if ($i == $fi && $pos > 4)
				{
					$send->($self->event(15, format_description_body(), 0));
				}
				else { $send->($ev->{bytes}); }
				next;
			}
			next if $i == $fi && $ev->{start} < $pos;
			if ($ev->{gtid}) { $skipping = $set && set_has($set, @{ $ev->{gtid} }); }
			$send->($skipping ? $self->event(27, $f->{name}, $ev->{start} + length $ev->{bytes}, 0) : $ev->{bytes});
			$skipping = 0 if $ev->{end_of};
		}
	}
	if ($flags & 1)
	{
		$self->eof_packet($c);
		return;
	}
	my $last = $files[-1];
	while (1)
	{
		sleep 1;
		$send->($self->event(27, $last->{name}, $last->{end}, 0));
	}
}

1;
