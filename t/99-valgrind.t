#!/usr/bin/perl

# Under "make test-valgrind": reads memcheck's logs of every nginx the
# suite started; no invalid read or write, no use of uninitialised
# values, and no definite leak anywhere in the module's code.

use strict;
use warnings;

use Test::More;

my $dir = $ENV{RH_VALGRIND_LOG};
plan skip_all => 'only under make test-valgrind' unless $dir && -d $dir;

my @logs = glob "$dir/nginx-*.log";
ok(@logs > 0, scalar(@logs) . ' valgrind logs');

my (%errors, $module_errors, $leaks);
for my $log (@logs) {
    open my $fh, '<', $log or next;
    local $/;
    my $text = <$fh>;
    close $fh;

    # memcheck reports, one block each
    for my $block (split /\n==\d+== \n/, $text) {
        next unless $block =~ /(Invalid (read|write|free)|uninitialised|Mismatched free|are definitely lost)/;
        my $kind = $1;
        $errors{$kind}++;
        if ($block =~ /ngx_http_remote_help|ngx_rh_/) {
            $module_errors++;
            diag "$log:\n$block";
        }
    }
}

is($module_errors // 0, 0, 'no memcheck error or definite leak in the module');
note "all memcheck reports: " . join(', ', map { "$_: $errors{$_}" } sort keys %errors);

done_testing();
