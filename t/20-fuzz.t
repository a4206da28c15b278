#!/usr/bin/perl

# Bounded libFuzzer passes over the validator and the renderer
# (t/fuzz/fuzz_parse.c, half the time), over the bearer token reader
# (t/fuzz/fuzz_token.c) and over $filter and $select (t/fuzz/fuzz_query.c,
# a quarter each) from the committed seeds: they must find nothing.
# "make fuzz" runs longer passes.

use strict;
use warnings;

use FindBin;
use File::Temp qw(tempdir);
use Test::More;

my $time = $ENV{FUZZ_TEST_TIME} // 30;

plan skip_all => 'FUZZ_TEST_TIME=0' unless $time;

my $quarter = int($time / 4) || 1;

for my $target (['fuzz_parse', 'corpus', $time - 2 * $quarter > 0
                                         ? $time - 2 * $quarter : 1],
                ['fuzz_token', 'token', $quarter],
                ['fuzz_query', 'query', $quarter]) {
    my ($name, $seeds, $secs) = @$target;
    my $bin = "$FindBin::Bin/../build/fuzz/$name";

    unless (-x $bin) {
        fail("$bin is not built: run \"make test\"");
        next;
    }

    my $dir = tempdir('rh-fuzz-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    my $out = `$bin -max_total_time=$secs -print_final_stats=1 -artifact_prefix=$dir/ $dir $FindBin::Bin/fuzz/$seeds 2>&1`;
    my $rc = $? >> 8;

    is($rc, 0, "$name for $secs s: exit 0") or diag substr($out, -3000);
    my @crashes = glob "$dir/crash-* $dir/leak-* $dir/timeout-* $dir/oom-*";
    is(scalar @crashes, 0, "$name: no crash, leak, timeout or oom input")
        or diag "@crashes";
    my ($runs) = $out =~ /stat::number_of_executed_units:\s*(\d+)/;
    ok(($runs // 0) > 1000, "$name: it ran (" . ($runs // 0) . ' executions)');
}

done_testing();
