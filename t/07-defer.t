#!/usr/bin/perl

# The request handling over a backend that answers later: the module
# built with the deferring test backend (make test builds it into
# build/defer) answers every storage operation from a posted event, in
# a later turn of the event loop.  This test shows that build really
# answers that way; "make test" then runs the request tests with it.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use RHTest qw(json_decode);

my $module = $ENV{RH_DEFER_MODULE}
    // RHTest::root() . '/build/defer/ngx_http_remote_help_module.so';

plan skip_all => "$module is not built (make test builds it)"
    unless -e $module;

local $RHTest::MODULE = $module;

my $t = RHTest->new();
my $conf = $t->default_config();
$conf =~ s/error\.log info/error.log debug/;
$t->write_config($conf)->start();

my $set = '/beta/RemoteHelpSessionRetrieveResponse';

my $r = $t->post($set, { sessionKey => 'd1', deviceName => 'a' });
is($r->{status}, 201, 'POST answered later: 201');
like($r->{headers}{location}, qr{\Q$set\E/d1$}, 'with its Location');

$r = $t->post($set, { sessionKey => 'd1' });
is($r->{status}, 409, 'POST of an existing key: 409');

$r = $t->patch("$set/d1", { deviceName => 'b' });
is($r->{status}, 200, 'PATCH: its read and its write answered later');
is(json_decode($r->{body})->{deviceName}, 'b', 'PATCH applied');

$r = $t->get("$set/d1");
is(json_decode($r->{body})->{deviceName}, 'b', 'GET answered later');

$r = $t->get($set);
is(scalar @{json_decode($r->{body})->{value}}, 1, 'listing answered later');

$r = $t->patch("$set/none", { deviceName => 'b' });
is($r->{status}, 404, 'PATCH of a missing key: 404');

$r = $t->delete("$set/d1");
is($r->{status}, 204, 'DELETE answered later');
is($t->get("$set/d1")->{status}, 404, 'then 404');

# POST, 409, PATCH (read + write), GET, listing, PATCH's read, DELETE, GET
my $log = $t->read_file('error.log');
my $n = () = $log =~ /remote_help: storage answered/g;
is($n, 9, 'every storage operation was answered from a posted event');

$t->stop();
unlike($t->read_file('error.log'), qr/\[(alert|emerg|crit)\]/,
    'nothing went wrong');

done_testing();
