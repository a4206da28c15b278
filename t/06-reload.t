#!/usr/bin/perl

# A reload keeps every object: with the zone's size unchanged the zone is
# adopted as it is; with a new size the objects are copied into the new
# zone; a zone too small for them fails the reload and keeps the old one.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use RHTest qw(json_decode);

my $t = RHTest->new(workers => 2)->config(zone => 'remote_help_zone zone=rh:8m;')
    ->start();

my $set = '/beta/RemoteHelpSessionRetrieveResponse';
my $n = 300;

for my $i (1 .. $n) {
    $t->post($set, { sessionKey => "r$i", deviceName => "d$i" })->{status} == 201
        or die "create r$i failed";
}

my %want = map { ("r$_" => "d$_") } 1 .. $n;

sub all_there {
    my ($what) = @_;
    is($t->unreadable($set, 'deviceName', %want), 0,
        "$what: all $n objects with their values");
}

all_there('before');

ok($t->reload(), 'reload, same size: new workers');
all_there('after a reload');

$t->config(zone => 'remote_help_zone zone=rh:16m;');
ok($t->reload(), 'reload, zone resized to 16m: new workers');
all_there('after a resize');
like($t->read_file('error.log'), qr/remote_help_zone "rh" resized, $n objects kept/,
    'the resize is logged');

# writes keep working in the new zone
is($t->post($set, { sessionKey => 'after' })->{status}, 201, 'create after resize');
is($t->delete("$set/r1")->{status}, 204, 'delete after resize');
is($t->post($set, { sessionKey => 'r1', deviceName => 'd1' })->{status}, 201,
    'recreate after resize');

# a zone too small fails the reload, the running one stays
$t->config(zone => 'remote_help_zone zone=rh:40k;');
my @before = $t->workers();
kill 'HUP', $t->pid;
my $logged = 0;
for (1 .. 500) {
    if ($t->read_file('error.log') =~ /remote_help_zone "rh" is too small/) {
        $logged = 1;
        last;
    }
    select undef, undef, undef, 0.02;
}
ok($logged, 'a zone too small for the objects: the reload fails');
is_deeply([$t->workers()], \@before, 'the old workers go on');
all_there('after a failed reload');

done_testing();
