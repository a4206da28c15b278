#!/usr/bin/perl

# Items and collections: GET, HEAD, DELETE, PATCH, both key forms, odd
# keys, the response headers, and 401/404/405/409.

use strict;
use warnings;
use utf8;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use RHTest qw(json_decode uri_escape);

binmode(Test::More->builder->$_, ':utf8') for qw(output failure_output);

my $t = RHTest->new()->config()->start();

my $set = '/beta/RemoteHelpSessionRetrieveResponse';
my $uuid = qr/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

# create, read, update, delete

my $r = $t->post($set, { sessionKey => 'k1', deviceName => 'laptop',
    sessionType => 'elevation,viewScreen' });
is($r->{status}, 201, 'created');
my $doc = json_decode($r->{body});
is($doc->{sessionType}, 'viewScreen,elevation', 'sessionType in canonical order');
is($doc->{'@odata.type'}, '#microsoft.graph.retrieveRemoteHelpSessionResponse',
    '@odata.type');
like($r->{body}, qr/^\{"\@odata.type":/, '@odata.type comes first');

my @order = $r->{body} =~ /"(\w+)":/g;
is_deeply(\@order, [qw(sessionKey acsHelperUserToken acsHelperUserId
    acsSharerUserId acsGroupId sessionType deviceName pubSubGroupId
    pubSubHelperAccessUri sessionExpirationDateTime)],
    'every property, in the table order');

$r = $t->get("$set/k1");
is($r->{status}, 200, 'get');
is(json_decode($r->{body})->{deviceName}, 'laptop', 'get: stored value');

# headers on every response
like($r->{headers}{'request-id'}, $uuid, 'request-id is a UUID');
is($r->{headers}{'client-request-id'}, $r->{headers}{'request-id'},
    'client-request-id equals request-id when not sent');
is($r->{headers}{'odata-version'}, '4.0', 'OData-Version');
is($r->{headers}{'content-type'}, 'application/json; charset=utf-8',
    'Content-Type');
is($r->{headers}{'content-length'}, length $r->{body}, 'Content-Length');

$r = $t->get("$set/k1", headers => ['client-request-id' => 'my-id-42']);
is($r->{headers}{'client-request-id'}, 'my-id-42', 'client-request-id echoed');

my $r2 = $t->get("$set/k1");
isnt($r2->{headers}{'request-id'}, $r->{headers}{'request-id'},
    'a new request-id per request');

# HEAD: as GET without a body
$r = $t->head("$set/k1");
is($r->{status}, 200, 'head: 200');
is($r->{body}, '', 'head: no body');
is($r->{headers}{'content-length'}, length $r2->{body},
    'head: Content-Length of the GET');
is($t->head("$set/none")->{status}, 404, 'head of a missing key: 404');
is($t->head($set)->{status}, 200, 'head of the collection: 200');

# PATCH keeps what it does not name, null clears
$r = $t->patch("$set/k1", { acsGroupId => 'g', deviceName => undef });
is($r->{status}, 200, 'patch');
$doc = json_decode($r->{body});
is($doc->{acsGroupId}, 'g', 'patch: new value');
is($doc->{deviceName}, undef, 'patch: null clears');
is($doc->{sessionType}, 'viewScreen,elevation', 'patch: untouched value kept');
is($t->get("$set/k1")->{body}, $r->{body}, 'patch: GET returns the same');

$r = $t->patch("$set/k1", { sessionKey => 'k1', deviceName => 'pc' });
is($r->{status}, 200, 'patch with the same sessionKey');

# DELETE
$r = $t->delete("$set/k1");
is($r->{status}, 204, 'delete: 204');
is($r->{body}, '', 'delete: no body');
is($r->{headers}{'odata-version'}, '4.0', 'delete: OData-Version');
like($r->{headers}{'request-id'}, $uuid, 'delete: request-id');
is($t->get("$set/k1")->{status}, 404, 'deleted: 404');
is($t->delete("$set/k1")->{status}, 404, 'delete again: 404');
is($t->patch("$set/k1", { deviceName => 'x' })->{status}, 404,
    'patch of a missing key: 404');

# 404 body
$r = $t->get("$set/nothing");
$doc = json_decode($r->{body});
is($doc->{error}{code}, 'ResourceNotFound', '404 code');
like($doc->{error}{message}, qr/'nothing'/, '404 message names the key');
is($doc->{error}{innerError}{'request-id'}, $r->{headers}{'request-id'},
    'innerError request-id equals the header');

# 409
is($t->post($set, { sessionKey => 'dup' })->{status}, 201, 'first create');
$r = $t->post($set, { sessionKey => 'dup', deviceName => 'other' });
is($r->{status}, 409, 'second create: 409');
is(json_decode($r->{body})->{error}{code}, 'Conflict', '409 code');
is(json_decode($t->get("$set/dup")->{body})->{deviceName}, undef,
    '409 changed nothing');

# the same key in another set is another object
is($t->post('/beta/ExtendRemoteHelpSessionResponse', { sessionKey => 'dup' })
    ->{status}, 201, 'same key, other set: created');
is($t->delete("$set/dup")->{status}, 204, 'delete in one set');
is($t->get('/beta/ExtendRemoteHelpSessionResponse/dup')->{status}, 200,
    'the other set keeps its object');

# odd keys, both key forms
for my $key ('with space', 'a/b', "it's", "''", 'ünïcødé ✓', '100%', 'a?b#c&d',
    'x+y', '(paren)', "nbsp\x{A0}em\x{2003}space", '%41')
{
    my $name = "key '$key'";
    my $json_key = $key;
    $r = $t->post($set, { sessionKey => $key });
    is($r->{status}, 201, "$name: created");

    my $enc = uri_escape($key);
    (my $loc = $r->{headers}{location}) =~ s{^http://[^/]+}{};
    is($loc, "$set/$enc", "$name: Location percent-encoded");

    $r = $t->get("$set/$enc");
    is($r->{status}, 200, "$name: GET Set/{id}");
    is(json_decode($r->{body})->{sessionKey}, $key, "$name: key as sent");

    (my $quoted = $key) =~ s/'/''/g;
    $r = $t->get("${set}('" . uri_escape($quoted) . "')");
    is($r->{status}, 200, "$name: GET Set('{id}') percent-encoded");
    is(json_decode($r->{body})->{sessionKey}, $key, "$name: quoted key");
}

# a tab is a control character: no key has one (t/13-keys.t for the rule)
is($t->post($set, { sessionKey => "tab\tin" })->{status}, 400,
    'a key with a tab: 400');

# the quoted form with its quotes and parentheses as they are
is($t->get("$set('with%20space')")->{status}, 200, "quoted form, raw quotes");
is($t->get("$set('it''s')")->{status}, 200, "quoted form, '' for '");
is($t->get("$set('a/b')")->{status}, 200, "quoted form, raw slash");
is($t->delete("$set('it''s')")->{status}, 204, "delete by the quoted form");
is($t->get("$set/it's")->{status}, 404, "deleted through the other form");

# 405 with Allow
$r = $t->request('PUT', "$set/x", body => '{}');
is($r->{status}, 405, 'PUT on an item: 405');
is($r->{headers}{allow}, 'GET, HEAD, PATCH, DELETE', 'Allow on an item');
is(json_decode($r->{body})->{error}{code}, 'MethodNotAllowed', '405 code');
$r = $t->request('DELETE', $set);
is($r->{status}, 405, 'DELETE on the collection: 405');
is($r->{headers}{allow}, 'GET, HEAD, POST', 'Allow on the collection');
is($t->request('PATCH', $set, body => '{}')->{status}, 405,
    'PATCH on the collection: 405');
is($t->request('POST', "$set/x", body => '{}')->{status}, 405,
    'POST on an item: 405');

# 401 without a bearer token
for my $auth (undef, '', 'Bearer', 'Bearer ', 'Basic dXNlcjpwYXNz', 'Bearerx') {
    my $name = defined $auth ? "Authorization '$auth'" : 'no Authorization';
    $r = $t->get("$set/x", auth => $auth);
    is($r->{status}, 401, "$name: 401");
    is($r->{headers}{'www-authenticate'}, 'Bearer', "$name: WWW-Authenticate");
    $doc = json_decode($r->{body});
    is($doc->{error}{code}, 'InvalidAuthenticationToken', "$name: code");
    is($doc->{error}{message}, 'Access token is empty.', "$name: message");
}
is($t->get("$set/x", auth => 'bearer abc')->{status}, 404,
    'the scheme is case-insensitive');
is($t->post($set, { sessionKey => 'noauth' }, auth => undef)->{status}, 401,
    'POST without a token: 401');
is($t->get("$set/noauth")->{status}, 404, 'and nothing was stored');

# objects larger than half a page, and larger than several pages
for my $size (3000, 70000) {
    my $big = 'x' x $size;
    $r = $t->post($set, { sessionKey => "big$size", acsHelperUserToken => $big,
        deviceName => "d$size" });
    is($r->{status}, 201, "$size-byte value: created");
    $r = $t->patch("$set/big$size", { deviceName => 'patched' });
    is(json_decode($r->{body})->{acsHelperUserToken}, $big,
        "$size-byte value: kept across a PATCH");
    $r = $t->get("$set/big$size");
    is(json_decode($r->{body})->{deviceName}, 'patched',
        "$size-byte value: read back");
    is($t->delete("$set/big$size")->{status}, 204, "$size-byte value: deleted");
}

# an unknown entity set
$r = $t->get('/beta/NoSuchSet');
is($r->{status}, 400, 'unknown set: 400');
is(json_decode($r->{body})->{error}{message},
    "Resource not found for the segment 'NoSuchSet'.", 'unknown set: message');
$r = $t->get('/beta/NoSuchSet/abc');
is(json_decode($r->{body})->{error}{message},
    "Resource not found for the segment 'NoSuchSet'.",
    'unknown set with a key: names the set segment');

done_testing();
