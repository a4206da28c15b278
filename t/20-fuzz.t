#!/usr/bin/perl

# A bounded libFuzzer pass over the validator and the renderer
# (t/fuzz/fuzz_parse.c) from the committed seeds: it must find nothing.
# "make fuzz" runs longer passes.

use strict;
use warnings;

use FindBin;
use File::Temp qw(tempdir);
use Test::More;

my $bin = "$FindBin::Bin/../build/fuzz/fuzz_parse";
my $time = $ENV{FUZZ_TEST_TIME} // 30;

plan skip_all => "$bin is not built: run \"make test\"" unless -x $bin;
plan skip_all => 'FUZZ_TEST_TIME=0' unless $time;

my $dir = tempdir('rh-fuzz-XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $out = `$bin -max_total_time=$time -print_final_stats=1 -artifact_prefix=$dir/ $dir $FindBin::Bin/fuzz/corpus 2>&1`;
my $rc = $? >> 8;

is($rc, 0, "libFuzzer for $time s: exit 0") or diag substr($out, -3000);
my @crashes = glob "$dir/crash-* $dir/leak-* $dir/timeout-* $dir/oom-*";
is(scalar @crashes, 0, 'no crash, leak, timeout or oom input') or diag "@crashes";
my ($runs) = $out =~ /stat::number_of_executed_units:\s*(\d+)/;
ok(($runs // 0) > 1000, 'it ran (' . ($runs // 0) . ' executions)');

done_testing();
