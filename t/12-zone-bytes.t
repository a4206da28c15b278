#!/usr/bin/perl

# What a zone holds: objects of the reference example's size take at
# most 1.3 x their JSON + 64 zone bytes each (the size classes, not the
# slab's powers of two), and a zone emptied of one size of objects is
# filled as well with another (the blocks went back to the slab).

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use RHTest qw(json_decode);

my $size = 2 * 1024 * 1024;

my $t = RHTest->new(workers => 2)->config(
    zone => 'remote_help_zone zone=rh:2m;',
    server => 'location /beta/ { remote_help rh; }
        location = /status { remote_help_status rh; }',
)->start();

my $set = '/beta/RemoteHelpSessionRetrieveResponse';

sub status { json_decode($t->get('/status')->{body}) }

my $empty = status()->{used};

# fills the zone with objects of one shape until 507; returns how many
# fit and the JSON bytes of one
sub fill {
    my ($prefix, $body) = @_;
    my ($n, $r) = (0);

    for my $i (1 .. 100000) {
        $r = $t->post($set, { %$body, sessionKey => "$prefix$i" });
        last if $r->{status} != 201;
        $n = $i;
    }

    is($r->{status}, 507, "$prefix: full after $n objects");
    return ($n, length $t->get("$set/${prefix}1")->{body});
}

sub bytes_ok {
    my ($prefix, $n, $json) = @_;
    my $per = int($size / $n);
    my $target = int(1.3 * $json + 64);
    ok($per <= $target,
        "$prefix: $per zone bytes per object of $json JSON bytes "
        . "(at most $target)");
    is(status()->{objects}{RemoteHelpSessionRetrieveResponse}, $n,
        "$prefix: the status counts $n");
}

# the reference example's shape: 561 bytes of body, about 620 stored
my %big = (
    acsHelperUserToken => 't' x 26,
    acsHelperUserId => 'u' x 60,
    acsSharerUserId => 's' x 60,
    acsGroupId => 'a' x 40,
    deviceName => 'device-' . ('d' x 40),
    pubSubGroupId => 'p' x 40,
    pubSubHelperAccessUri => 'https://pubsub.example/' . ('h' x 40),
);

my ($n, $json) = fill('big', \%big);
ok($json > 550 && $json < 700, "a stored object has $json JSON bytes");
bytes_ok('big', $n, $json);

# all deleted: the zone is as empty as it was
my $bad = 0;
$bad += $t->delete("$set/big$_")->{status} != 204 for 1 .. $n;
is($bad, 0, "all $n deleted");
is(status()->{used}, $empty, 'the zone uses what it used empty');

# another size fills the same zone as well
my ($m, $small) = fill('small', { deviceName => 'n' x 100 });
is(status()->{objects}{RemoteHelpSessionRetrieveResponse}, $m,
    "small: the status counts $m");

# what an object costs beside its JSON is about the same at either size
my $over = int($size / $n) - $json;
my $sover = int($size / $m) - $small;
ok($sover <= $over + 32,
    "small: $sover zone bytes per object beside its JSON "
    . "(big: $over)");
ok($m > $n, "more smaller objects fit ($m)");

my %want = map { ("small$_" => 'n' x 100) } 1 .. $m;
is($t->unreadable($set, 'deviceName', %want), 0, "all $m intact");

# objects past the largest size class (8 KB) get slab chunks of their own
$bad = 0;
$bad += $t->delete("$set/small$_")->{status} != 204 for 1 .. $m;
is($bad, 0, "all $m deleted");

my $huge = 'h' x 20000;
is($t->post($set, { sessionKey => 'huge', acsHelperUserToken => $huge })
    ->{status}, 201, 'a 20 KB object');
is(json_decode($t->get("$set/huge")->{body})->{acsHelperUserToken}, $huge,
    'read back whole');
is($t->patch("$set/huge", { acsHelperUserToken => 'h' x 9000 })->{status},
    200, 'made smaller');
is(json_decode($t->get("$set/huge")->{body})->{acsHelperUserToken}, 'h' x 9000,
    'read back');
is($t->patch("$set/huge", { acsHelperUserToken => 'h' x 30000 })->{status},
    200, 'made larger');
is(length json_decode($t->get("$set/huge")->{body})->{acsHelperUserToken},
    30000, 'read back');
is($t->delete("$set/huge")->{status}, 204, 'deleted');
is(status()->{used}, $empty, 'the zone uses what it used empty');

done_testing();
