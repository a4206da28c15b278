#!/usr/bin/perl

# Every bad input gets Graph's error shape with the right status, code and
# message, and changes nothing: after each failed POST the key is absent,
# after each failed PATCH the object reads back exactly as before.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use RHTest qw(json_decode);

my $t = RHTest->new();
$t->config(http => 'client_max_body_size 64k; client_body_buffer_size 1k;')
    ->start();

my $ext = '/beta/ExtendRemoteHelpSessionResponse';
my $acc = '/beta/RequestRemoteHelpSessionAccessResponse';
my $JSON = 'Unable to read JSON request payload\. Please ensure Content-Type '
    . 'header is set and payload is of valid JSON format\.';

# the objects failed PATCHes aim at
for my $set ($ext, $acc) {
    $t->post($set, { sessionKey => 'victim' })->{status} == 201 or die;
    $t->patch("$set/victim", $set eq $ext
        ? { acsHelperUserToken => 'tok', sessionExpirationDateTime => '2020-01-01T00:00Z' }
        : { sessionType => 'viewScreen', pubSubEncryption => 'enc' })->{status} == 200
        or die;
}
my %before = map { $_ => $t->get("$_/victim")->{body} } $ext, $acc;

# checks one error response: status, shape, code, message, innerError
sub is_error {
    my ($r, $status, $code, $message, $name) = @_;

    is($r->{status}, $status, "$name: $status");
    my $doc = eval { json_decode($r->{body}) };
    ok($doc && ref $doc->{error} eq 'HASH', "$name: Graph's error shape")
        or diag $r->{raw};
    return unless $doc && ref $doc->{error} eq 'HASH';

    is($doc->{error}{code}, $code, "$name: code $code");
    like($doc->{error}{message}, $message, "$name: message");

    my $inner = $doc->{error}{innerError} // {};
    is($inner->{'request-id'}, $r->{headers}{'request-id'},
        "$name: innerError request-id is the header");
    is($inner->{'client-request-id'}, $r->{headers}{'client-request-id'},
        "$name: innerError client-request-id is the header");
    like($inner->{date} // '', qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/,
        "$name: innerError date");
    is($r->{headers}{'content-type'}, 'application/json; charset=utf-8',
        "$name: Content-Type");
}

# a bad body: as a POST (the key must stay absent) and as a PATCH of the
# victim (which must stay as it was)
sub bad_body {
    my ($set, $body, $message, $name, %opts) = @_;

    my $post = $body;
    my $r = $t->request('POST', $set, body => $post, %opts);
    is_error($r, 400, 'BadRequest', $message, "POST $name");

    $r = $t->request('PATCH', "$set/victim", body => $body, %opts);
    is_error($r, 400, 'BadRequest', $message, "PATCH $name");
    is($t->get("$set/victim")->{body}, $before{$set},
        "PATCH $name: the object is unchanged");
}

# --- JSON -------------------------------------------------------------

my @json = (
    ['{"sessionKey":"n1"', 'truncated'],
    ['{"sessionKey":"n1', 'truncated in a string'],
    ['{"sessionKey":"n1"} x', 'trailing garbage'],
    ['{"sessionKey":"n1"}{}', 'two objects'],
    ['{"sessionKey":"n1",}', 'trailing comma'],
    ["{'sessionKey':'n1'}", 'single quotes'],
    ['{"sessionKey":"n1" /* c */}', 'a comment'],
    ["{\"sessionKey\":\"n1\xc0\xaf\"}", 'overlong UTF-8'],
    ["{\"sessionKey\":\"n1\xc3\x28\"}", 'bad continuation byte'],
    ["{\"sessionKey\":\"n1\xed\xa0\x80\"}", 'surrogate encoded in UTF-8'],
    ["{\"sessionKey\":\"n1\xf5\x80\x80\x80\"}", 'byte F5'],
    ['{"sessionKey":"n1\ud800"}', 'lone \\uD800'],
    ['{"sessionKey":"n1\udc00"}', 'lone \\uDC00'],
    ["{\"sessionKey\":\"n1\x01\"}", 'a control character in a string'],
    ["{\"sessionKey\":\"n1\tx\"}", 'a raw tab in a string'],
);

for my $case (@json) {
    bad_body($ext, $case->[0], qr/^$JSON/, $case->[1]);
}

for my $case (['[]', 'an array'], ['"str"', 'a string'], ['42', 'a number'],
    ['null', 'null'], ['true', 'true'])
{
    bad_body($ext, $case->[0], qr/^$JSON The request body must be a JSON object\.$/,
        "top level $case->[1]");
}

# a wrong kind of value gets the same words whatever its JSON kind
bad_body($ext, '{"sessionKey":"n1","acsHelperUserToken":{"a":"b"}}',
    qr/^Cannot convert the literal '\{"a":"b"\}' to the expected type 'Edm\.String' of the property 'acsHelperUserToken'\.$/,
    'an object as a value');
bad_body($ext, '{"sessionKey":"n1","acsHelperUserToken":["a"]}',
    qr/^Cannot convert the literal '\["a"\]' to the expected type 'Edm\.String' of the property 'acsHelperUserToken'\.$/,
    'an array as a value');
bad_body($ext, '{"sessionKey":"n1","sessionExpirationDateTime":[1, 2]}',
    qr/^Cannot convert the literal '\[1, 2\]' to the expected type 'Edm\.DateTimeOffset' of the property 'sessionExpirationDateTime'\.$/,
    'an array as a date');
bad_body($ext, '{"sessionKey":"n1","acsHelperUserToken":5}',
    qr/^Cannot convert the literal '5' to the expected type 'Edm\.String' of the property 'acsHelperUserToken'\.$/,
    'a number as a value');

# empty and blank bodies
for my $case (['', 'empty body'], ["  \r\n\t ", 'whitespace only']) {
    my $r = $t->request('POST', $ext, body => $case->[0]);
    is_error($r, 400, 'BadRequest', qr/^$JSON The request body is empty\.$/,
        "POST $case->[1]");
    $r = $t->request('PATCH', "$ext/victim", body => $case->[0]);
    is_error($r, 400, 'BadRequest', qr/The request body is empty/,
        "PATCH $case->[1]");
}
my $r = $t->request('POST', $ext);
is_error($r, 400, 'BadRequest', qr/The request body is empty/, 'POST without a body');

# --- members ------------------------------------------------------------

bad_body($ext, '{"sessionKey":"n1","foo":"x"}',
    qr/^The property 'foo' does not exist on type 'microsoft\.graph\.extendRemoteHelpSessionResponse'\. Make sure to only use property names that are defined by the type or mark the type as open type\.$/,
    'unknown property: Graph\'s whole message');
bad_body($ext, '{"sessionKey":"n1","deviceName":"x"}',
    qr/^The property 'deviceName' does not exist/, 'property of another type');
bad_body($ext, '{"sessionKey":"n1","acsHelperUserToken":"a","acsHelperUserToken":"b"}',
    qr/^Multiple properties with the name 'acsHelperUserToken'/, 'repeated property');
bad_body($ext, '{"sessionKey":"n1","acsHelper\u0055serToken":"a","acsHelperUserToken":"b"}',
    qr/^Multiple properties with the name 'acsHelperUserToken'/,
    'repeated property, once with an escape');
bad_body($ext, '{"@odata.type":"#microsoft.graph.requestRemoteHelpSessionAccessResponse","sessionKey":"n1"}',
    qr/is not compatible with the type 'microsoft\.graph\.extendRemoteHelpSessionResponse'/,
    '@odata.type of another set');
bad_body($ext, '{"@odata.type":"#microsoft.graph.nothing","sessionKey":"n1"}',
    qr/A type named 'microsoft\.graph\.nothing' could not be resolved/,
    '@odata.type unknown');
bad_body($ext, '{"@odata.type":1,"sessionKey":"n1"}',
    qr/'\@odata\.type' annotation must be a string/, '@odata.type a number');
bad_body($ext, '{"@odata.type":null,"sessionKey":"n1"}',
    qr/'\@odata\.type' annotation must be a string/, '@odata.type null');

# other @odata annotations are ignored
$r = $t->post($ext, '{"@odata.context":"x","@odata.id":{"a":[1]},"sessionKey":"ann"}');
is($r->{status}, 201, 'other @odata.* annotations are ignored');
unlike($r->{body}, qr/odata\.(context|id)/, 'and not stored');

# --- values -------------------------------------------------------------

bad_body($ext, '{"sessionKey":"n1","acsHelperUserToken":5}',
    qr/^Cannot convert the literal '5' to the expected type 'Edm\.String' of the property 'acsHelperUserToken'\.$/,
    'a number for a string');
bad_body($ext, '{"sessionKey":"n1","pubSubHelperAccessUri":false}',
    qr/literal 'false' .* property 'pubSubHelperAccessUri'/, 'a boolean for a string');
bad_body($ext, '{"sessionKey":"n1","sessionExpirationDateTime":12}',
    qr/literal '12' to the expected type 'Edm\.DateTimeOffset'/, 'a number for a date');

for my $body ('{"sessionKey":null}', '{"sessionKey":""}') {
    $r = $t->post($ext, $body);
    is_error($r, 400, 'BadRequest', qr/'sessionKey' is the key .* cannot be (null|empty)/,
        "POST $body");
    $r = $t->patch("$ext/victim", $body);
    is_error($r, 400, 'BadRequest', qr/cannot be (null|empty)/, "PATCH $body");
}
$r = $t->post($ext, '{"acsHelperUserToken":"x"}');
is_error($r, 400, 'BadRequest', qr/The property 'sessionKey' is required/,
    'POST without sessionKey');
$r = $t->post($ext, '{}');
is_error($r, 400, 'BadRequest', qr/The property 'sessionKey' is required/, 'POST {}');
$r = $t->patch("$ext/victim", '{"sessionKey":"other","acsHelperUserToken":"x"}');
is_error($r, 400, 'BadRequest', qr/The key property 'sessionKey' cannot be changed/,
    'PATCH changing the key');
is($t->get("$ext/other")->{status}, 404, 'no object under the new key');
is($t->get("$ext/victim")->{body}, $before{$ext}, 'the victim is unchanged');

# --- sessionType --------------------------------------------------------

for my $case (['foo', 'unknown member'], ['viewScreen,viewScreen', 'repeated member'],
    ['viewScreen,', 'empty part'], [',viewScreen', 'leading comma'], ['', 'empty'],
    ['viewScreen, elevation', 'a space'], [' viewScreen', 'leading space'],
    ['ViewScreen', 'wrong case'], ['1', 'a number in a string'])
{
    bad_body($acc, qq({"sessionKey":"n1","sessionType":"$case->[0]"}),
        qr/^Cannot convert the literal '\Q$case->[0]\E' to the expected type 'microsoft\.graph\.allowedRemoteAssistanceActions'\.$/,
        "sessionType $case->[1]");
}
$r = $t->post($acc, { sessionKey => 'st', sessionType => 'unattended,elevation,viewScreen' });
is(json_decode($r->{body})->{sessionType}, 'viewScreen,elevation,unattended',
    'sessionType stored in canonical form');

# --- Edm.DateTimeOffset -------------------------------------------------

for my $d ('2016-12-31', '2016-12-31T23:59:57', '2016-13-01T00:00:00Z',
    '2016-02-30T00:00:00Z', '2023-02-29T00:00:00Z', '1900-02-29T00:00:00Z',
    '2016-04-31T00:00:00Z', '2016-12-31T24:00:00Z', '2016-12-31T23:60:00Z',
    '2016-12-31T23:59:60Z', '2016-12-31t23:59:57Z', '2016-12-31T23:59:57z',
    '2016-12-31T23:59:57+15:00', '2016-12-31T23:59:57+14:30',
    '2016-12-31T23:59:57.1234567890123Z', '2016-12-31T23:59:57.Z',
    '2016-12-31T23:59:57+0800', 'tomorrow')
{
    bad_body($ext, qq({"sessionKey":"n1","sessionExpirationDateTime":"$d"}),
        qr/^Cannot convert the literal '\Q$d\E' to the expected type 'Edm\.DateTimeOffset'\.$/,
        "date $d");
}
for my $d ('2024-02-29T23:59:59.999999999999+14:00', '2000-02-29T00:00Z',
    '2016-12-31T23:59:57.5564522-08:00')
{
    is($t->patch("$ext/victim", { sessionExpirationDateTime => $d })->{status}, 200,
        "date $d accepted");
}
# restore
$t->patch("$ext/victim", { sessionExpirationDateTime => '2020-01-01T00:00Z' });
is($t->get("$ext/victim")->{body}, $before{$ext}, 'victim restored');

# --- headers -----------------------------------------------------------

for my $type ('text/plain', 'application/jsonx', 'application/json-patch+json',
    'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x')
{
    $r = $t->request('POST', $ext, body => '{"sessionKey":"ct"}', type => $type);
    is_error($r, 415, 'UnsupportedMediaType', qr/Content type '\Q$type\E' is not supported/,
        "Content-Type $type");
    $r = $t->request('PATCH', "$ext/victim", body => '{"acsHelperUserToken":"x"}',
        type => $type);
    is($r->{status}, 415, "PATCH with Content-Type $type: 415");
}
is($t->get("$ext/ct")->{status}, 404, '415 stored nothing');
is($t->get("$ext/victim")->{body}, $before{$ext}, '415 changed nothing');

for my $type ('application/json; charset=utf-8', 'APPLICATION/JSON',
    'application/json;odata.metadata=minimal', undef)
{
    my $name = $type // 'no Content-Type';
    (my $key = 'ct-' . ($type // 'none')) =~ s/[^\w-]/_/g;
    $r = $t->request('POST', $ext, body => qq({"sessionKey":"$key"}), type => $type);
    is($r->{status}, 201, "$name accepted");
}

$r = $t->get('/beta/Unknown');
is_error($r, 400, 'BadRequest', qr/^Resource not found for the segment 'Unknown'\.$/,
    'unknown entity set');
$r = $t->post('/beta/extendRemoteHelpSessionResponse', { sessionKey => 'x' });
is_error($r, 400, 'BadRequest',
    qr/^Resource not found for the segment 'extendRemoteHelpSessionResponse'\.$/,
    'set names are case-sensitive');

# (a malformed "%zz" never gets here: nginx's URI parser answers it with
# its own 400 before a location is chosen; see docs/api.md)
$r = $t->get("$ext/a%FFb");
is_error($r, 400, 'BadRequest', qr/not valid/, 'key not UTF-8');
$r = $t->get("${ext}('a'b')");
is_error($r, 400, 'BadRequest', qr/not valid/, "a lone ' in the quoted form");
$r = $t->get("${ext}('')");
is_error($r, 400, 'BadRequest', qr/not valid/, 'an empty quoted key');

$r = $t->request('PUT', "$ext/victim", body => '{}');
is_error($r, 405, 'MethodNotAllowed', qr/'PUT' is not allowed/, 'PUT');
is($r->{headers}{allow}, 'GET, HEAD, PATCH, DELETE', 'PUT: Allow');

$r = $t->get("$ext/victim", auth => undef);
is_error($r, 401, 'InvalidAuthenticationToken', qr/^Access token is empty\.$/,
    'no token');
is($r->{headers}{'www-authenticate'}, 'Bearer', 'no token: WWW-Authenticate');

# --- size ----------------------------------------------------------------

my $huge = '{"sessionKey":"huge","acsHelperUserToken":"' . ('x' x 70000) . '"}';
$r = $t->request('POST', $ext, body => $huge);
is_error($r, 413, 'RequestEntityTooLarge', qr/larger than the client_max_body_size/,
    'body over client_max_body_size (Content-Length)');
$r = $t->request('POST', $ext, body => $huge, chunked => 4096);
is_error($r, 413, 'RequestEntityTooLarge', qr/larger than the client_max_body_size/,
    'body over client_max_body_size (chunked)');
$r = $t->request('PATCH', "$ext/victim", body => $huge);
is($r->{status}, 413, 'PATCH over the limit: 413');
is($t->get("$ext/huge")->{status}, 404, '413 stored nothing');
is($t->get("$ext/victim")->{body}, $before{$ext}, '413 changed nothing');

# bodies in the temp file (over client_body_buffer_size 1k) are read whole
my $big = 'y' x 20000;
$r = $t->request('POST', $ext, body => qq({"sessionKey":"file","acsHelperUserToken":"$big"}));
is($r->{status}, 201, 'a body from the temp file: created');
is(json_decode($t->get("$ext/file")->{body})->{acsHelperUserToken}, $big,
    'a body from the temp file: stored whole');
$r = $t->request('POST', $ext, body => qq({"sessionKey":"file2","acsHelperUserToken":"$big"}),
    chunked => 3000);
is($r->{status}, 201, 'a chunked body from the temp file: created');
bad_body($ext, qq({"sessionKey":"file3","acsHelperUserToken":"$big",}),
    qr/^$JSON/, 'a bad body from the temp file');
bad_body($ext, qq({"sessionKey":"file3","acsHelperUserToken":"$big","x":1}),
    qr/'x' does not exist/, 'an unknown property at the end of a temp file');
bad_body($ext, qq({"sessionKey":"file3","acsHelperUserToken":"$big\xff"}),
    qr/Invalid UTF-8 at offset 20044/, 'bad UTF-8 deep in a temp file');

# broken chunked encoding from the client: Graph's shape, not nginx's page
my $raw = $t->raw("POST $ext HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer t\r\n"
    . "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
    . "Connection: close\r\n\r\nzz\r\n{}\r\n0\r\n\r\n");
$r = RHTest::parse_response($raw);
is_error($r, 400, 'BadRequest', qr/could not be read/, 'a broken chunked body');

# nothing above left anything behind
my ($all) = $t->list_all("$ext?\$top=1000");
my @keys = sort map { $_->{sessionKey} } @$all;
is_deeply(\@keys, [sort qw(victim ann ct-application_json__charset_utf-8
    ct-APPLICATION_JSON ct-application_json_odata_metadata_minimal ct-none
    file file2)], 'only the successful creates are stored');

unlike($t->read_file('error.log'), qr/\[(crit|alert|emerg)\]/,
    'nothing logged at crit or above');

done_testing();
