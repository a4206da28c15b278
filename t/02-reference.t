#!/usr/bin/perl

# The five reference pages (Create and Update extendRemoteHelpSessionResponse,
# Create requestRemoteHelpSessionAccessResponse, Update
# retrieveRemoteHelpSessionResponse, Update
# requestRemoteHelpSessionAccessResponse): each example request gives
# exactly the example response, as JSON and byte for byte (member order).

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use RHTest qw(json_decode);

my $t = RHTest->new()->config()->start();

my %example = (
    extend => '{"@odata.type":"#microsoft.graph.extendRemoteHelpSessionResponse",'
        . '"sessionKey":"Session Key value",'
        . '"acsHelperUserToken":"Acs Helper User Token value",'
        . '"pubSubHelperAccessUri":"Pub Sub Helper Access Uri value",'
        . '"sessionExpirationDateTime":"2016-12-31T23:59:57.5564522-08:00"}',
    access => '{"@odata.type":"#microsoft.graph.requestRemoteHelpSessionAccessResponse",'
        . '"sessionKey":"Session Key value",'
        . '"sessionType":"takeFullControl",'
        . '"pubSubEncryptionKey":"Pub Sub Encryption Key value",'
        . '"pubSubEncryption":"Pub Sub Encryption value"}',
    retrieve => '{"@odata.type":"#microsoft.graph.retrieveRemoteHelpSessionResponse",'
        . '"sessionKey":"Session Key value",'
        . '"acsHelperUserToken":"Acs Helper User Token value",'
        . '"acsHelperUserId":"Acs Helper User Id value",'
        . '"acsSharerUserId":"Acs Sharer User Id value",'
        . '"acsGroupId":"Acs Group Id value",'
        . '"sessionType":"takeFullControl",'
        . '"deviceName":"Device Name value",'
        . '"pubSubGroupId":"Pub Sub Group Id value",'
        . '"pubSubHelperAccessUri":"Pub Sub Helper Access Uri value",'
        . '"sessionExpirationDateTime":"2016-12-31T23:59:57.5564522-08:00"}',
);

# the request bodies as the pages print them: pretty, CRLF line ends,
# exactly as long as their Content-length
sub pretty {
    my ($compact) = @_;
    my $doc = $compact;
    $doc =~ s/^\{/{\r\n  /;
    $doc =~ s/","/",\r\n  "/g;
    $doc =~ s/":"/": "/g;
    $doc =~ s/\}$/\r\n}/;
    return $doc;
}

sub is_example {
    my ($r, $status, $name, $what) = @_;
    is($r->{status}, $status, "$what: status $status");
    is($r->{body}, $example{$name}, "$what: the example response, byte for byte");
    is_deeply(json_decode($r->{body}), json_decode($example{$name}),
        "$what: the example response, as JSON");
    like($r->{headers}{'content-type'} // '',
        qr{^application/json; charset=utf-8$}, "$what: Content-Type");
}

my $key = 'Session%20Key%20value';

# 000: Create extendRemoteHelpSessionResponse
my $r = $t->request('POST', '/beta/ExtendRemoteHelpSessionResponse',
    body => pretty($example{extend}));
is_example($r, 201, 'extend', 'create extend');
is($r->{headers}{location},
    "http://127.0.0.1:${\$t->port}/beta/ExtendRemoteHelpSessionResponse/$key",
    'create extend: Location');

# 001: Update extendRemoteHelpSessionResponse
$r = $t->request('PATCH', "/beta/ExtendRemoteHelpSessionResponse/$key",
    body => pretty($example{extend}));
is_example($r, 200, 'extend', 'update extend');

# 002: Create requestRemoteHelpSessionAccessResponse
$r = $t->request('POST', '/beta/RequestRemoteHelpSessionAccessResponse',
    body => pretty($example{access}));
is_example($r, 201, 'access', 'create access');

# 003: Update retrieveRemoteHelpSessionResponse (created bare first)
$r = $t->post('/beta/RemoteHelpSessionRetrieveResponse',
    { sessionKey => 'Session Key value' });
is($r->{status}, 201, 'retrieve created with its key only');
is(json_decode($r->{body})->{deviceName}, undef, 'unset property is null');
like($r->{body}, qr/"deviceName":null/, 'null is written out');

$r = $t->request('PATCH', "/beta/RemoteHelpSessionRetrieveResponse/$key",
    body => pretty($example{retrieve}));
is_example($r, 200, 'retrieve', 'update retrieve');

# 004: Update requestRemoteHelpSessionAccessResponse
$r = $t->request('PATCH', "/beta/RequestRemoteHelpSessionAccessResponse/$key",
    body => pretty($example{access}));
is_example($r, 200, 'access', 'update access');

# and each reads back as the example
for my $set (['ExtendRemoteHelpSessionResponse', 'extend'],
    ['RequestRemoteHelpSessionAccessResponse', 'access'],
    ['RemoteHelpSessionRetrieveResponse', 'retrieve'])
{
    $r = $t->get("/beta/$set->[0]/$key");
    is_example($r, 200, $set->[1], "get $set->[1]");
}

# the pretty request bodies really are the pages' sizes
is(length pretty($example{extend}), 299, 'extend example body is 299 bytes');
is(length pretty($example{access}), 264, 'access example body is 264 bytes');
is(length pretty($example{retrieve}), 561, 'retrieve example body is 561 bytes');

done_testing();
