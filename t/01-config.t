#!/usr/bin/perl

# Directives: what nginx -t accepts and what it refuses, with messages
# that name the culprit.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use RHTest;

my $t = RHTest->new();

sub check {
    my (%opts) = @_;
    my $expect = delete $opts{expect};
    my $name = delete $opts{name};
    $t->config(%opts);
    my ($rc, $out) = $t->test_config();

    if (defined $expect) {
        isnt($rc, 0, "$name: nginx -t fails");
        like($out, $expect, "$name: the message");
    } else {
        is($rc, 0, "$name: nginx -t passes") or diag $out;
    }
}

check(name => 'the default configuration');

check(name => 'all directives',
    http => 'remote_help_auth off; remote_help_page_size 10;',
    server => 'remote_help_page_size 20;
        location /beta/ { remote_help rh; remote_help_auth bearer;
            remote_help_page_size 1000; }
        location = /one/ExtendRemoteHelpSessionResponse { remote_help rh; }');

check(name => 'zone declared after its use',
    zone => '',
    server => 'location /beta/ { remote_help late; }',
    http => 'remote_help_zone zone=late:1m;');

check(name => 'unknown zone',
    server => 'location /beta/ { remote_help nosuch; }',
    expect => qr/unknown remote_help_zone "nosuch" in \S+nginx\.conf:\d+/);

check(name => 'zone without size',
    zone => 'remote_help_zone zone=rh;',
    expect => qr/invalid zone size "zone=rh"/);

check(name => 'zone with a bad size',
    zone => 'remote_help_zone zone=rh:lots;',
    expect => qr/invalid zone size "zone=rh:lots"/);

check(name => 'zone too small',
    zone => 'remote_help_zone zone=rh:4k;',
    expect => qr/zone "zone=rh:4k" is too small/);

check(name => 'zone without zone=',
    zone => 'remote_help_zone rh:1m;',
    expect => qr/invalid parameter "rh:1m"/);

check(name => 'zone declared twice',
    zone => 'remote_help_zone zone=rh:1m; remote_help_zone zone=rh:1m;',
    expect => qr/remote_help_zone "rh" is already declared/);

check(name => 'remote_help_zone in a server',
    server => 'remote_help_zone zone=x:1m; location /beta/ { remote_help rh; }',
    expect => qr/"remote_help_zone" directive is not allowed here/);

check(name => 'remote_help in a server',
    server => 'remote_help rh;',
    expect => qr/"remote_help" directive is not allowed here/);

check(name => 'remote_help twice',
    server => 'location /beta/ { remote_help rh; remote_help rh; }',
    expect => qr/"remote_help" directive is duplicate/);

check(name => 'bad remote_help_auth',
    http => 'remote_help_auth basic;',
    expect => qr/invalid value "basic"/);

check(name => 'remote_help_page_size 0',
    http => 'remote_help_page_size 0;',
    expect => qr/value must be between 1 and 1000/);

check(name => 'remote_help_page_size 1001',
    http => 'remote_help_page_size 1001;',
    expect => qr/value must be between 1 and 1000/);

check(name => 'remote_help_page_size not a number',
    http => 'remote_help_page_size many;',
    expect => qr/"remote_help_page_size" directive invalid number/);

# remote_help_auth off serves without a token
$t->config(server => 'location /beta/ { remote_help rh; remote_help_auth off; }');
$t->start();
is($t->get('/beta/ExtendRemoteHelpSessionResponse', auth => undef)->{status},
    200, 'remote_help_auth off: no token needed');
$t->stop();

# one location per set works like one for all
$t->config(server => '
    location /a/ExtendRemoteHelpSessionResponse { remote_help rh; }
    location /b/ { remote_help rh; }');
$t->start();
is($t->post('/a/ExtendRemoteHelpSessionResponse', { sessionKey => 'x' })
    ->{status}, 201, 'per-set location: create');
is($t->get('/b/ExtendRemoteHelpSessionResponse/x')->{status}, 200,
    'another location on the same zone sees it');
like($t->get('/a/ExtendRemoteHelpSessionResponse?$top=1')->{body},
    qr{"\@odata.context":"http://127.0.0.1:\d+/a/\$metadata#ExtendRemoteHelpSessionResponse"},
    'the prefix of each location is kept in URLs');
$t->stop();

done_testing();
