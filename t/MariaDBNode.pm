# MariaDBNode.pm -- a throwaway MariaDB server for TAP tests.
#
# Starts mariadbd from the Debian mariadb-server package as the current
# (unprivileged) user, with its data directory in the test's own tmp_check
# directory, on a free port, with the binary log in ROW/FULL format (or the
# settings a test asks for).  root@localhost has no password; connect over
# TCP on 127.0.0.1.  The server is stopped when the object is destroyed;
# its directory is removed at the end of a test whose every test passed.
# Every wait is bounded: a server that hangs (mariadbd waits forever for
# space on a full disk) fails the test instead of stalling the run.
package MariaDBNode;

use strict;
use warnings;
use File::Path qw(make_path rmtree);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Time::HiRes qw(usleep);
use IPC::Run;
use TestDeadline;

# every server started and not stopped yet, by data directory
my %live;

# every server's directory, so that a passing test leaves no data behind
my @dirs;

# new: create and start a server; %opts are extra mariadbd options
# (name => value) that override the defaults
sub new
{
	my ($class, $name, %opts) = @_;
	my $dir = "${PostgreSQL::Test::Utils::tmp_check}/mariadb_$name";
	my $port = PostgreSQL::Test::Cluster::get_free_port();
	rmtree($dir);
	make_path("$dir/data");

	my %conf = (
		'datadir' => "$dir/data",
		'socket' => "$dir/mysqld.sock",
		'port' => $port,
		'bind-address' => '127.0.0.1',
		'pid-file' => "$dir/mysqld.pid",
		'log-error' => "$dir/error.log",
		'log-bin' => "$dir/binlog",
		'server-id' => 1,
		'binlog-format' => 'ROW',
		'binlog-row-image' => 'FULL',
		'innodb-buffer-pool-size' => '64M',
		'innodb-log-file-size' => '32M',
		'skip-name-resolve' => undef,
		%opts);
	open my $cnf, '>', "$dir/my.cnf" or die "cannot write $dir/my.cnf: $!";
	print $cnf "[mysqld]\n";
	for my $k (sort keys %conf)
	{
		next if defined $conf{$k} && $conf{$k} eq 'OFF!';
		print $cnf defined $conf{$k} ? "$k = $conf{$k}\n" : "$k\n";
	}
	close $cnf;

	my $self = bless { name => $name, dir => $dir, port => $port }, $class;
	$live{$dir} = $self;
	push @dirs, $dir;
	IPC::Run::run(['mariadb-install-db', "--defaults-file=$dir/my.cnf",
			'--auth-root-authentication-method=normal', '--skip-test-db'],
		'>', "$dir/install.log", '2>&1',
		IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default))
	  or die "mariadb-install-db failed:\n" . (-f "$dir/install.log" ? slurp_file("$dir/install.log") : "(no install.log)\n");
	$self->start;
	return $self;
}

sub port { return $_[0]->{port}; }
sub dir { return $_[0]->{dir}; }

# conninfo: a pg_tributary connection string for this server
sub conninfo
{
	my ($self, $db, $user, $password) = @_;
	$user //= 'root';
	my $s = "host=127.0.0.1 port=$self->{port} user=$user";
	$s .= " password=$password" if defined $password;
	$s .= " dbname=$db" if defined $db;
	return $s;
}

# start: start mariadbd and wait until it answers
sub start
{
	my ($self) = @_;
	my $dir = $self->{dir};
	$self->{proc} = IPC::Run::start(['mariadbd', "--defaults-file=$dir/my.cnf"],
		'>', "$dir/stdout.log", '2>&1');
	for (1 .. 600)
	{
		my $out = '';
		my $ok = eval {
			IPC::Run::run(['mariadb-admin', '--no-defaults', '-h127.0.0.1',
					"-P$self->{port}", '-uroot', '--connect-timeout=5', 'ping'], '>', \$out, '2>', \$out,
				IPC::Run::timeout(30));
		};
		return if $ok && $out =~ /alive/;
		usleep(100_000);
	}
	die "mariadbd did not start, see $dir/error.log";
}

# stop: shut the server down and wait for it; a server that does not
# stop within the default timeout is killed
sub stop
{
	my ($self) = @_;
	return unless $self->{proc};
	my $t = $PostgreSQL::Test::Utils::timeout_default;
	eval {
		IPC::Run::run(['mariadb-admin', '--no-defaults', '-h127.0.0.1', "-P$self->{port}",
				'-uroot', "--shutdown-timeout=$t", 'shutdown'], '>', '/dev/null', '2>&1',
			IPC::Run::timeout($t));
	};
	my $pid = $self->{proc}->{KIDS}[0]{PID};
	my $stopped = 0;
	for (1 .. 10 * $t)
	{
		my $stat = `cat /proc/$pid/stat 2>/dev/null`;
		if ($stat eq '' || $stat =~ /^\d+ \(.*\) Z/) { $stopped = 1; last; }
		usleep(100_000);
	}
	$self->{proc}->kill_kill(grace => 5) unless $stopped;
	$self->{proc}->finish;
	delete $self->{proc};
}

# sql: run statements as root, return the output (tab-separated, no headers)
sub sql
{
	my ($self, $sql) = @_;
	my ($out, $err) = ('', '');
	IPC::Run::run(['mariadb', '--no-defaults', '-h127.0.0.1', "-P$self->{port}",
			'-uroot', '-N', '-B', '--default-character-set=utf8mb4'], '<', \$sql, '>', \$out, '2>', \$err,
		IPC::Run::timeout(3 * $PostgreSQL::Test::Utils::timeout_default))
	  or die "mariadb failed: $err\nwhile running: $sql";
	chomp $out;
	return $out;
}

# types_columns: the columns of the tests' every-type table (DESIGN §5),
# one of each MySQL type with its edge-relevant attributes
sub types_columns
{
	return q{
		id INT PRIMARY KEY, ti TINYINT, si SMALLINT UNSIGNED, mi MEDIUMINT, i INT, iu INT UNSIGNED,
		bi BIGINT, bu BIGINT UNSIGNED, dec65 DECIMAL(65,30), d10 DECIMAL(10,2), f FLOAT, dbl DOUBLE,
		b1 BIT(1), b64 BIT(64), c CHAR(5), vc VARCHAR(20), tx TEXT,
		l1 VARCHAR(20) CHARACTER SET latin1, bin BINARY(4), vb VARBINARY(10), bl BLOB,
		dt DATE, dtm DATETIME(6), ts TIMESTAMP(3) NULL DEFAULT NULL, tm TIME(2), yr YEAR,
		en ENUM('a','b','c'), st SET('x','y','z'), js JSON, g GEOMETRY};
}

# background: run SQL in a client of its own, reading a file (the client
# starts at once, without the harness pumping its input); returns the
# IPC::Run handle (->finish waits for it)
sub background
{
	my ($self, $sql) = @_;
	my $file = "$self->{dir}/background_" . ++$self->{nbackground} . '.sql';
	open my $fh, '>', $file or die "cannot write $file: $!";
	print $fh $sql;
	close $fh;
	return IPC::Run::start(['mariadb', '--no-defaults', '-h127.0.0.1', "-P$self->{port}",
			'-uroot', '-N', '-B', '--default-character-set=utf8mb4'], '<', $file,
		'>', "$file.out", '2>&1');
}

# kill9: kill the server hard (no shutdown)
sub kill9
{
	my ($self) = @_;
	return unless $self->{proc};
	$self->{proc}->kill_kill(grace => 0);
	$self->{proc}->finish;
	delete $self->{proc};
}

sub DESTROY
{
	my ($self) = @_;
	if ($self->{proc})
	{
		eval { $self->{proc}->kill_kill(grace => 5); };
	}
	delete $live{ $self->{dir} };
}

# at the end of the test every server still running is shut down: objects
# of file-scoped variables are destroyed only in global destruction, when
# their IPC::Run harness may already be gone (servers were left running);
# when every test passed, the servers' directories are removed (each holds
# a data directory and binary logs: tens of megabytes)
END
{
	my $exit_code = $?;
	for my $node (values %live)
	{
		eval { $node->stop; };
	}
	if ($exit_code == 0 && PostgreSQL::Test::Utils::all_tests_passing())
	{
		rmtree($_) for @dirs;
	}
	$? = $exit_code;
}

1;
