#!/usr/bin/perl

# A full zone: a create or a growing update gets 507 InsufficientStorage,
# everything stored before stays intact and readable, an update that fits
# still works, a DELETE makes room again, and nothing is logged at crit.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use RHTest qw(json_decode);

my $t = RHTest->new(workers => 2)->config(zone => 'remote_help_zone zone=rh:64k;')
    ->start();

my $set = '/beta/RemoteHelpSessionRetrieveResponse';
my $value = 'v' x 150;

my ($n, $r);
for my $i (1 .. 2000) {
    $r = $t->post($set, { sessionKey => "k$i", deviceName => $value });
    last if $r->{status} != 201;
    $n = $i;
}

is($r->{status}, 507, "the zone fills up after $n objects: 507");
my $doc = json_decode($r->{body});
is($doc->{error}{code}, 'InsufficientStorage', '507 code');
like($doc->{error}{message}, qr/remote_help_zone "rh" has no room/, '507 message');
is($doc->{error}{innerError}{'request-id'}, $r->{headers}{'request-id'},
    '507 innerError');
ok($n > 10, "some objects fit ($n)");
is($t->get("$set/k" . ($n + 1))->{status}, 404, 'the refused object is absent');

sub intact {
    my ($what) = @_;
    my %want = map { ("k$_" => $value) } 1 .. $n;
    is($t->unreadable($set, 'deviceName', %want), 0,
        "$what: all $n objects intact");
}

intact('after 507');

# again, and from the other worker
is($t->post($set, { sessionKey => 'again', deviceName => $value })->{status},
    507, 'still full for one more of the same size: 507');

# an update that grows past its chunk: 507, unchanged
my $before = $t->get("$set/k1")->{body};
$r = $t->patch("$set/k1", { acsGroupId => 'g' x 3000 });
is($r->{status}, 507, 'a growing PATCH: 507');
is($t->get("$set/k1")->{body}, $before, 'the object is unchanged');

# an update of the same size still works in a full zone
$r = $t->patch("$set/k2", { deviceName => 'w' x 150 });
is($r->{status}, 200, 'a same-size PATCH works in a full zone');
is($t->patch("$set/k2", { deviceName => $value })->{status}, 200, 'and back');

intact('after the PATCHes');

# DELETE makes room
is($t->delete("$set/k1")->{status}, 204, 'delete one');
is($t->post($set, { sessionKey => 'k1', deviceName => $value })->{status}, 201,
    'a create fits again');
is($t->post($set, { sessionKey => "k$n-x", deviceName => $value })->{status}, 507,
    'and the zone is full again');

intact('at the end');

my $log = $t->read_file('error.log');
unlike($log, qr/\[(crit|alert|emerg)\]/, 'nothing logged at crit or above');
unlike($log, qr/no memory/, 'no slab "no memory" message');

done_testing();
