# TestDeadline.pm -- a deadline for a whole TAP test file.
#
# A test file that runs longer than TRIBUTARY_TEST_DEADLINE seconds (default
# 900; the slowest file takes about a minute here) dies with a message
# saying so, and its END blocks stop the servers it started.  Without it a
# server that hangs (mariadbd waits forever for space on a full disk) or a
# wait with no bound stalls the whole test run until CI kills it, with no
# log printed.  The alarm is re-armed every 30 s after it first fires, in
# case the die lands inside an eval that swallows it.
package TestDeadline;

use strict;
use warnings;

my $deadline = $ENV{TRIBUTARY_TEST_DEADLINE} // 900;

$SIG{ALRM} = sub {
	alarm(30);
	die "test file ran past its deadline of $deadline s (TRIBUTARY_TEST_DEADLINE)\n";
};
alarm($deadline);

1;
