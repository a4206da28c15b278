#!/usr/bin/perl

# The C unit tests of CRC-32C (t/unit/test_crc.c over
# src/ngx_http_remote_help_crc.c, built by "make test" into build/unit/);
# they print TAP.

use strict;
use warnings;

use FindBin;

my $bin = "$FindBin::Bin/../build/unit/test_crc";

unless (-x $bin) {
    print "1..0 # SKIP $bin is not built: run \"make test\"\n";
    exit 0;
}

exec $bin or die "exec $bin: $!";
