#!/usr/bin/perl

# with-redis.pl COMMAND...: runs COMMAND with RH_REDIS naming a
# redis-server of its own (free port, nothing saved), which it stops by
# its pid when COMMAND ends, also when it fails; exits with COMMAND's
# status.  "make test-redis" runs request tests so: their zones keep
# their objects in Redis (t/lib/RHTest.pm).

use strict;
use warnings;

use FindBin;
use lib $FindBin::Bin;
use RHRedis;

die "usage: with-redis.pl COMMAND...\n" unless @ARGV;
die "redis-server is not installed (apt-get install redis-server)\n"
    unless RHRedis::available();

my $redis = RHRedis->new();
$ENV{RH_REDIS} = $redis->address;

my $rc = system(@ARGV);
$redis->stop();

exit($rc == -1 ? 127 : $rc >> 8 || ($rc & 127 ? 1 : 0));
