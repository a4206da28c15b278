#!/usr/bin/perl

# Query options and preconditions (SPEC section 12): $select on an object
# and a listing, $count with and without $filter, every $filter operator
# with paging (the filter kept in @odata.nextLink, every match exactly
# once), what $filter refuses, ETags on every object response,
# If-Match on PATCH and DELETE, If-None-Match on GET, and versions that
# survive a restart with state=.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use RHTest qw(json_decode);

my $t = RHTest->new();
$t->config(server => 'location /beta/ { remote_help rh; }
        location /small/ { remote_help rh; remote_help_page_size 7; }')
    ->start();

my $port = $t->port;
my $rset = 'RemoteHelpSessionRetrieveResponse';
my $aset = 'RequestRemoteHelpSessionAccessResponse';
my $esc = \&RHTest::uri_escape;

sub body_of { json_decode($_[0]{body}) }

# --- the objects ---------------------------------------------------------

my @types = (undef, 'viewScreen', 'takeFullControl', 'viewScreen,elevation',
    'viewScreen,takeFullControl,unattended', 'unknownFutureValue');
my @offsets = ('Z', '+01:00', '-08:00', '+05:30');
my (%objects, @order);

for my $i (1 .. 240) {
    my $type = $types[$i % @types];
    my $offset = $offsets[$i % @offsets];
    # instants an hour apart, written in four offsets; a fraction on some
    my $h = $i % 24;
    my $d = 1 + int($i / 24);
    my $local = sprintf('2027-01-%02dT%02d:00:00', $d, $h);
    my $o = {
        sessionKey => sprintf('%s-%03d', $i % 3 ? 'dev' : "it's", $i),
        sessionType => $type,
        deviceName => $i % 5 ? "host $i" : undef,
        acsGroupId => $i % 7 == 0 ? 'a/b"c\\d' : "g" . ($i % 4),
        sessionExpirationDateTime => $i % 11 ? "$local$offset"
                                             : "$local.1234567$offset",
    };
    $t->post("/beta/$rset", $o)->{status} == 201 or die "create $i";
    $objects{ $o->{sessionKey} } = $o;
    push @order, $o->{sessionKey};
}
$t->post("/beta/$aset", { sessionKey => "access-$_" }) for 1 .. 3;

# an instant in ps since the epoch, for the model
sub instant {
    my ($s) = @_;
    return undef unless defined $s;
    my ($y, $mo, $d, $h, $mi, $sec, $frac, $z) =
        $s =~ /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d)(?::(\d\d)(?:\.(\d+))?)?(Z|[-+]\d\d:\d\d)$/
        or die "not a date: $s";
    require Time::Local;
    my $t = Time::Local::timegm_modern($sec // 0, $mi, $h, $d, $mo - 1, $y);
    if ($z ne 'Z') {
        my ($sign, $oh, $om) = $z =~ /([-+])(\d\d):(\d\d)/;
        $t -= ($sign eq '+' ? 1 : -1) * ($oh * 3600 + $om * 60);
    }
    $frac = substr(($frac // '') . '0' x 12, 0, 12);
    return sprintf('%012d%s', $t, $frac);   # compares as a string
}

my %bits = (viewScreen => 1, takeFullControl => 2, elevation => 4,
    unattended => 8, unknownFutureValue => 16);
sub flags {
    my ($v) = @_;
    return undef unless defined $v;
    my $b = 0;
    $b |= $bits{$_} for split /,/, $v;
    return $b;
}

sub check_filter {
    my ($filter, $model, $name, %opts) = @_;
    my @want = grep { $model->($objects{$_}) } @order;
    my $q = $opts{raw} // $esc->($filter);
    my ($got, $pages) = $t->list_all("/small/$rset?\$filter=$q");
    is_deeply([map { $_->{sessionKey} } @$got], \@want,
        "$name: every match once, in order (" . scalar(@want) . ")")
        or diag "filter: $filter";
    my $r = $t->get("/beta/$rset?\$filter=$q&\$count=true&\$top=0");
    is($r->{status}, 200, "$name: with \$count, 200");
    is(body_of($r)->{'@odata.count'}, scalar @want, "$name: \@odata.count");
}

# --- $filter -------------------------------------------------------------

my $dt = 'sessionExpirationDateTime';
my $limit = '2027-01-05T12:00:00+02:00';

check_filter("sessionKey eq 'dev-001'",
    sub { $_[0]{sessionKey} eq 'dev-001' }, 'eq');
check_filter("sessionKey eq 'it''s-003'",
    sub { $_[0]{sessionKey} eq "it's-003" }, "eq with ''");
check_filter("deviceName ne 'host 2'",
    sub { !defined $_[0]{deviceName} || $_[0]{deviceName} ne 'host 2' },
    'ne (null is not equal)');
check_filter('deviceName eq null', sub { !defined $_[0]{deviceName} },
    'eq null');
check_filter('sessionType ne null', sub { defined $_[0]{sessionType} },
    'ne null');
check_filter("startswith(sessionKey,'it''s-1')",
    sub { $_[0]{sessionKey} =~ /^it's-1/ }, 'startswith');
check_filter(qq(acsGroupId eq 'a/b"c\\d'),
    sub { $_[0]{acsGroupId} eq 'a/b"c\\d' }, 'eq on JSON escapes');
check_filter("sessionType has 'viewScreen'",
    sub { (flags($_[0]{sessionType}) // 0) & 1 }, 'has');
check_filter("sessionType has microsoft.graph.allowedRemoteAssistanceActions'takeFullControl'",
    sub { (flags($_[0]{sessionType}) // 0) & 2 }, 'has, a typed literal');
check_filter("sessionType eq 'elevation,viewScreen'",
    sub { (flags($_[0]{sessionType}) // -1) == 5 }, 'eq on flags');
for my $op (qw(lt le gt ge)) {
    my %cmp = (lt => sub { $_[0] lt $_[1] }, le => sub { $_[0] le $_[1] },
        gt => sub { $_[0] gt $_[1] }, ge => sub { $_[0] ge $_[1] });
    my $at = instant($limit);
    check_filter("$dt $op $limit",
        sub { $cmp{$op}->(instant($_[0]{$dt}), $at) },
        "$op on instants, whatever the offsets");
}
check_filter("$dt eq 2027-01-01T10:00:00.1234567-01:00",
    sub { instant($_[0]{$dt}) eq instant('2027-01-01T11:00:00.1234567Z') },
    'eq on an instant with a fraction');
check_filter("startswith(sessionKey,'dev') and (sessionType has 'elevation' or deviceName eq null)",
    sub { $_[0]{sessionKey} =~ /^dev/
          && (((flags($_[0]{sessionType}) // 0) & 4) || !defined $_[0]{deviceName}) },
    'and, or, parentheses');
check_filter("not startswith(sessionKey,'dev') and not (acsGroupId eq 'g1')",
    sub { $_[0]{sessionKey} !~ /^dev/ && $_[0]{acsGroupId} ne 'g1' }, 'not');
check_filter("sessionKey eq 'nothing'", sub { 0 }, 'no match');
check_filter("sessionKey eq 'dev-001'", sub { $_[0]{sessionKey} eq 'dev-001' },
    '"+" is a space', raw => "sessionKey+eq+'dev-001'");
check_filter("$dt gt 2027-01-05T12:00:00+02:00",
    sub { instant($_[0]{$dt}) gt instant('2027-01-05T10:00:00Z') },
    '"%2B" is a "+"', raw => "$dt%20gt%202027-01-05T12:00:00%2B02:00");

# the filter and the other options carried by the nextLink
my $r = $t->get("/beta/$rset?\$filter=" . $esc->("sessionType has 'viewScreen'")
    . '&$top=5&$select=sessionKey,sessionType&$count=true');
my $doc = body_of($r);
my $link = $doc->{'@odata.nextLink'};
like($link, qr/\$filter=sessionType%20has%20%27viewScreen%27/,
    'nextLink: the filter as sent');
like($link, qr/\$top=5&/, 'nextLink: $top');
like($link, qr/\$select=sessionKey,sessionType&/, 'nextLink: $select');
like($link, qr/\$count=true&\$skiptoken=\d+$/, 'nextLink: $count and $skiptoken');
is(scalar @{ $doc->{value} }, 5, 'a filtered page of $top');
my @keys = sort keys %{ $doc->{value}[0] };
is_deeply(\@keys, ['@odata.type', 'sessionKey', 'sessionType'],
    'the filtered page has the selected properties');
ok($r->{body} =~ /^\{"\@odata.context":"[^"]+","\@odata.count":\d+,"\@odata.nextLink":/,
    '@odata.count after the context, before the nextLink and value');

# --- $count --------------------------------------------------------------

$r = $t->get("/beta/$rset?\$count=true&\$top=2");
is(body_of($r)->{'@odata.count'}, 240, '$count=true: the whole set');
is(scalar @{ body_of($r)->{value} }, 2, '$count with $top: the page');
$r = $t->get("/beta/$aset?\$count=true");
is(body_of($r)->{'@odata.count'}, 3, '$count of another set');
$r = $t->get("/beta/$rset?\$count=false");
ok(!exists body_of($r)->{'@odata.count'}, '$count=false: no count');
$r = $t->get("/beta/$rset?\$count=yes");
is($r->{status}, 400, '$count=yes: 400');
like(body_of($r)->{error}{message}, qr/Invalid value 'yes' for the \$count query option/,
    '$count=yes: the message');

# --- $select -------------------------------------------------------------

$r = $t->get("/beta/$rset/dev-001?\$select=deviceName,sessionKey");
is($r->{status}, 200, '$select on an object: 200');
is($r->{body}, '{"@odata.type":"#microsoft.graph.retrieveRemoteHelpSessionResponse","sessionKey":"dev-001","deviceName":"host 1"}',
    '$select on an object: @odata.type and the properties in the table\'s order');
like($r->{headers}{etag} // '', qr/^W\/"\d+"$/, '$select: the ETag still');
$r = $t->get("/beta/$rset/dev-005?\$select=deviceName");
is($r->{body}, '{"@odata.type":"#microsoft.graph.retrieveRemoteHelpSessionResponse","deviceName":null}',
    '$select of a null property');
$r = $t->get("/beta/$rset?\$select=sessionKey&\$top=2");
$doc = body_of($r);
is($doc->{'@odata.context'}, "http://127.0.0.1:$port/beta/\$metadata#$rset(sessionKey)",
    '$select on a listing: the context names the properties');
is_deeply($doc->{value}, [map { { '@odata.type' => '#microsoft.graph.retrieveRemoteHelpSessionResponse', sessionKey => $_ } } @order[0, 1]],
    '$select on a listing: each object');
$r = $t->get("/beta/$rset/dev-001?\$select=*");
is(length $r->{body}, length $t->get("/beta/$rset/dev-001")->{body},
    '$select=*: the whole object');
for my $case (["/beta/$aset/access-1?\$select=deviceName", 'deviceName',
               'requestRemoteHelpSessionAccessResponse', 'an object'],
              ["/beta/$rset?\$select=sessionKey,nope", 'nope',
               'retrieveRemoteHelpSessionResponse', 'a listing']) {
    my ($path, $prop, $type, $what) = @$case;
    $r = $t->get($path);
    is($r->{status}, 400, "\$select of an unknown property on $what: 400");
    is(body_of($r)->{error}{message},
        "Could not find a property named '$prop' on type 'microsoft.graph.$type'.",
        "\$select on $what: Graph's message");
}
$r = $t->request('DELETE', "/beta/$rset/dev-001?\$select=nope");
is($r->{status}, 204, 'a DELETE ignores $select') or diag $r->{body};
$t->post("/beta/$rset", $objects{'dev-001'})->{status} == 201 or die;
push @order, splice(@order, 0, 1);

# --- what $filter refuses --------------------------------------------------

for my $case (
    ["sessionKey eq", qr/^Syntax error at position 13 in 'sessionKey eq'\.$/],
    ["foo eq 'x'", qr/^Could not find a property named 'foo' on type 'microsoft\.graph\.retrieveRemoteHelpSessionResponse'\.$/],
    ["contains(sessionKey,'x')", qr/unknown function with name 'contains'/],
    ["sessionKey lt 'x'", qr/The operator 'lt' is not supported on the property 'sessionKey'/],
    ["$dt lt 2027-02-30T00:00:00Z", qr/Cannot convert the literal '2027-02-30T00:00:00Z' to the expected type 'Edm\.DateTimeOffset'/],
    ["sessionType has 'all'", qr/Cannot convert the literal 'all'/],
    ["sessionKey eq 'x' xor deviceName eq 'y'", qr/Syntax error at position 18/],
    ["(sessionKey eq 'x'", qr/Syntax error/],
    ["sessionKey in ('a','b')", qr/The operator 'in'/],
) {
    my ($filter, $want) = @$case;
    $r = $t->get("/beta/$rset?\$filter=" . $esc->($filter));
    is($r->{status}, 400, "\$filter=$filter: 400");
    like(body_of($r)->{error}{code} . ' ' . body_of($r)->{error}{message},
        qr/^BadRequest /, "\$filter=$filter: BadRequest");
    like(body_of($r)->{error}{message}, $want, "\$filter=$filter: the message");
}
$r = $t->get("/beta/$rset?\$filter=" . $esc->("sessionKey eq 'a'")
    . '&$filter=' . $esc->("sessionKey eq 'b'"));
is($r->{status}, 400, 'two $filter options: 400');
like(body_of($r)->{error}{message}, qr/Query option '\$filter' was specified more than once/,
    'two $filter options: the message');

# --- a filtered page examines at most 1000 objects -------------------------

for my $i (1 .. 1100) {
    $t->post("/beta/$aset", { sessionKey => sprintf('bulk-%04d', $i) })
        ->{status} == 201 or die "bulk $i";
}
$t->post("/beta/$aset", { sessionKey => 'needle', pubSubEncryption => 'x' });
$r = $t->get("/beta/$aset?\$filter=" . $esc->("pubSubEncryption eq 'x'"));
$doc = body_of($r);
is(scalar @{ $doc->{value} }, 0, 'a filtered page past 1000 examined objects: empty');
ok($doc->{'@odata.nextLink'}, '... with a nextLink to go on');
my ($all) = $t->list_all("/beta/$aset?\$filter=" . $esc->("pubSubEncryption eq 'x'"));
is_deeply([map { $_->{sessionKey} } @$all], ['needle'],
    'following the links finds the match');
$r = $t->get("/beta/$aset?\$count=true&\$top=0&\$filter="
    . $esc->("pubSubEncryption eq 'x'"));
is(body_of($r)->{'@odata.count'}, 1, '$count with $filter over 1104 objects');

# --- ETags and preconditions ---------------------------------------------

my $set = 'ExtendRemoteHelpSessionResponse';
$r = $t->post("/beta/$set", { sessionKey => 'e1', acsHelperUserToken => 'a' });
my ($etag) = ($r->{headers}{etag} // '') =~ /^(W\/"\d+")$/;
ok($etag, "POST: ETag $r->{headers}{etag}");
$r = $t->get("/beta/$set/e1");
is($r->{headers}{etag}, $etag, 'GET: the same ETag');
$r = $t->head("/beta/$set/e1");
is($r->{headers}{etag}, $etag, 'HEAD: the same ETag');
ok(!exists $t->get("/beta/$set")->{headers}{etag}, 'a listing has no ETag');

$r = $t->get("/beta/$set/e1", headers => ['If-None-Match' => $etag]);
is($r->{status}, 304, 'If-None-Match with the ETag: 304');
is($r->{body}, '', '304: no body');
is($r->{headers}{etag}, $etag, '304: the ETag');
$r = $t->get("/beta/$set/e1", headers => ['If-None-Match' => 'W/"1", ' . $etag]);
is($r->{status}, 304, 'If-None-Match with a list naming it: 304');
$r = $t->get("/beta/$set/e1", headers => ['If-None-Match' => '*']);
is($r->{status}, 304, 'If-None-Match: * on an object that exists: 304');
$r = $t->get("/beta/$set/e1", headers => ['If-None-Match' => 'W/"1"']);
is($r->{status}, 200, 'If-None-Match with another tag: 200');
$r = $t->get("/beta/$set/nope", headers => ['If-None-Match' => '*']);
is($r->{status}, 404, 'If-None-Match on a missing key: 404');

# PATCH with If-Match
(my $strong = $etag) =~ s{^W/}{};
$r = $t->patch("/beta/$set/e1", { acsHelperUserToken => 'b' },
    headers => ['If-Match' => 'W/"999999"']);
is($r->{status}, 412, 'PATCH, If-Match another version: 412');
is(body_of($r)->{error}{code}, 'PreconditionFailed', '412: PreconditionFailed');
is(body_of($t->get("/beta/$set/e1"))->{acsHelperUserToken}, 'a',
    '412: nothing changed');
$r = $t->patch("/beta/$set/e1", { acsHelperUserToken => 'b' },
    headers => ['If-Match' => $strong]);
is($r->{status}, 200, 'PATCH, If-Match the version (strong form): 200');
my $etag2 = $r->{headers}{etag};
isnt($etag2, $etag, 'PATCH: a new ETag');
is($t->get("/beta/$set/e1")->{headers}{etag}, $etag2, 'GET after: the new ETag');
$r = $t->patch("/beta/$set/e1", { acsHelperUserToken => 'c' },
    headers => ['If-Match' => $etag]);
is($r->{status}, 412, 'PATCH, If-Match the old version: 412');
$r = $t->patch("/beta/$set/e1", { acsHelperUserToken => 'c' },
    headers => ['If-Match' => '*']);
is($r->{status}, 200, 'PATCH, If-Match: * on an object that exists: 200');
my $etag3 = $r->{headers}{etag};
$r = $t->patch("/beta/$set/nope", { acsHelperUserToken => 'c' },
    headers => ['If-Match' => '*']);
is($r->{status}, 412, 'PATCH, If-Match: * on a missing key: 412');
is($t->get("/beta/$set/nope")->{status}, 404, '... and nothing was made');
$r = $t->patch("/beta/$set/e1", { acsHelperUserToken => 'd' });
is($r->{status}, 200, 'PATCH without If-Match: 200');
isnt($r->{headers}{etag}, $etag3, 'every write changes the ETag');
my $etag4 = $r->{headers}{etag};

# DELETE with If-Match
$r = $t->delete("/beta/$set/e1", headers => ['If-Match' => $etag3]);
is($r->{status}, 412, 'DELETE, If-Match an old version: 412');
is($t->get("/beta/$set/e1")->{status}, 200, '412: the object is still there');
$r = $t->delete("/beta/$set/e1", headers => ['If-Match' => $etag4]);
is($r->{status}, 204, 'DELETE, If-Match the version: 204');
is($t->get("/beta/$set/e1")->{status}, 404, 'it is gone');
$r = $t->delete("/beta/$set/e1", headers => ['If-Match' => $etag4]);
is($r->{status}, 412, 'DELETE, If-Match on a missing key: 412');
$t->post("/beta/$set", { sessionKey => 'e2' });
$r = $t->delete("/beta/$set/nope", headers => ['If-Match' => '*']);
is($r->{status}, 412, 'DELETE, If-Match: * on a missing key: 412');
$r = $t->delete("/beta/$set/e2", headers => ['If-Match' => '*']);
is($r->{status}, 204, 'DELETE, If-Match: * on an object that exists: 204');

# a recreated key has a new version
$r = $t->post("/beta/$set", { sessionKey => 'e1' });
isnt($r->{headers}{etag}, $etag4, 'a key created again: another ETag');

# --- versions survive a restart with state= --------------------------------

SKIP: {
    skip 'state= is not for a zone with backend= (RH_REDIS)', 2
        if $ENV{RH_REDIS};
    my $s = RHTest->new();
    my $dir = $s->dir . '/state';
    mkdir $dir or die "mkdir $dir: $!";
    chown((getpwnam('nobody'))[2, 3], $dir) if $> == 0;
    $s->config(zone => "remote_help_zone zone=rh:8m state=$dir/rh.state;")
        ->start();
    $s->post("/beta/$set", { sessionKey => 's1' });
    my $v = $s->patch("/beta/$set/s1", { acsHelperUserToken => 'x' })
        ->{headers}{etag};
    $s->stop();
    $s->start();
    $s->answering("/beta/$set/s1", 1);
    is($s->get("/beta/$set/s1")->{headers}{etag}, $v,
        'state=: the ETag after a restart is the one before');
    is($s->patch("/beta/$set/s1", { acsHelperUserToken => 'y' },
        headers => ['If-Match' => $v])->{status}, 200,
        'state=: If-Match with the version from before the restart');
    $s->stop();
}

$t->stop();
unlike($t->read_file('error.log'), qr/\[alert\]|\[crit\]|exited on signal/,
    'no alert (one response per request), no worker lost');
done_testing();
