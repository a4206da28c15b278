#!/usr/bin/perl

# The C unit tests of the validator, the renderer and the schema table
# (t/unit/*.c, built by "make test" into build/unit/); they print TAP.

use strict;
use warnings;

use FindBin;

my $bin = "$FindBin::Bin/../build/unit/test_rh";

unless (-x $bin) {
    print "1..0 # SKIP $bin is not built: run \"make test\"\n";
    exit 0;
}

exec $bin or die "exec $bin: $!";
