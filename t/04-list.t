#!/usr/bin/perl

# Listing: @odata.context, $top, the page size, $skiptoken and
# @odata.nextLink; following the links visits every object exactly once,
# in the order they were created.

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

my $set = 'ExtendRemoteHelpSessionResponse';
my $port = $t->port;

my $r = $t->get("/beta/$set");
is($r->{status}, 200, 'empty listing: 200');
is($r->{body}, qq({"\@odata.context":"http://127.0.0.1:$port/beta/\$metadata#$set","value":[]}),
    'empty listing: context and an empty value');

# 250 objects, plus some in another set that must not show up
my %want;
for my $i (1 .. 250) {
    my $key = sprintf('key-%03d%s', $i, $i % 10 == 0 ? ' /odd' : '');
    $want{$key} = 1;
    $t->post("/beta/$set", { sessionKey => $key, acsHelperUserToken => "t$i" })
        ->{status} == 201 or die "create $key failed";
}
$t->post('/beta/RemoteHelpSessionRetrieveResponse', { sessionKey => "other-$_" })
    for 1 .. 5;

# $top=1: 250 pages
my ($objects, $pages) = $t->list_all("/beta/$set?\$top=1");
is($pages, 250, '$top=1: 250 pages');
is(scalar @$objects, 250, '$top=1: 250 objects');
my %seen;
$seen{ $_->{sessionKey} }++ for @$objects;
is_deeply(\%seen, \%want, '$top=1: every object exactly once');
is(scalar(grep { $_->{'@odata.type'} ne '#microsoft.graph.extendRemoteHelpSessionResponse' }
    @$objects), 0, 'only objects of the set');
is(join(',', map { $_->{sessionKey} } @$objects), join(',', sort keys %want),
    'in the order of creation');

# the default page size is 100
$r = $t->get("/beta/$set");
my $doc = json_decode($r->{body});
is(scalar @{ $doc->{value} }, 100, 'default page: 100 objects');
like($doc->{'@odata.nextLink'},
    qr{^http://127\.0\.0\.1:$port/beta/$set\?\$skiptoken=},
    'nextLink is a full URL with $skiptoken');
is($doc->{'@odata.context'}, "http://127.0.0.1:$port/beta/\$metadata#$set",
    '@odata.context');

($objects, $pages) = $t->list_all("/beta/$set");
is($pages, 3, 'default page size: 3 pages');
%seen = ();
$seen{ $_->{sessionKey} }++ for @$objects;
is_deeply(\%seen, \%want, 'default page size: every object exactly once');

# remote_help_page_size
($objects, $pages) = $t->list_all("/small/$set");
is($pages, 36, 'remote_help_page_size 7: 36 pages');
is(scalar @$objects, 250, 'remote_help_page_size 7: all objects');

# $top larger than what remains: no nextLink
$r = $t->get("/beta/$set?\$top=500");
$doc = json_decode($r->{body});
is(scalar @{ $doc->{value} }, 250, '$top=500: all 250');
ok(!exists $doc->{'@odata.nextLink'}, 'no nextLink when nothing remains');

# $top is capped at 1000
for my $i (251 .. 1100) {
    $t->post("/beta/$set", { sessionKey => "more-$i" })->{status} == 201
        or die "create more-$i failed";
}
$r = $t->get("/beta/$set?\$top=5000");
$doc = json_decode($r->{body});
is(scalar @{ $doc->{value} }, 1000, '$top=5000 is capped at 1000');
ok(exists $doc->{'@odata.nextLink'}, 'capped page has a nextLink');

# percent-encoded option names
$r = $t->get("/beta/$set?%24top=2");
is(scalar @{ json_decode($r->{body})->{value} }, 2, '%24top works as $top');

# $top=0: an empty page
$r = $t->get("/beta/$set?\$top=0");
is(scalar @{ json_decode($r->{body})->{value} }, 0, '$top=0: no objects');

# a page stays consistent after a deletion of the last key it returned
$r = $t->get("/beta/$set?\$top=3");
$doc = json_decode($r->{body});
my $last = $doc->{value}[2]{sessionKey};
(my $next = $doc->{'@odata.nextLink'}) =~ s{^http://[^/]+}{};
is($t->delete("/beta/$set/" . RHTest::uri_escape($last))->{status}, 204,
    'delete the last key of a page');
$r = $t->get($next);
is($r->{status}, 200, 'the next page still works');
isnt(json_decode($r->{body})->{value}[0]{sessionKey}, $last,
    'and does not repeat the deleted key');

# a new version keeps its place, also when it outgrows its chunk
my @before = map { $_->{sessionKey} } @{ ($t->list_all("/beta/$set"))[0] };
is($t->patch("/beta/$set/key-002", { acsHelperUserToken => 'x' x 5000 })
    ->{status}, 200, 'an update that grows an object 100-fold');
is(join(',', map { $_->{sessionKey} } @{ ($t->list_all("/beta/$set"))[0] }),
    join(',', @before), 'the listing order is unchanged');

# objects created while a client pages come on a later page
$r = $t->get("/beta/$set?\$top=10");
($next = json_decode($r->{body})->{'@odata.nextLink'}) =~ s{^http://[^/]+}{};
is($t->post("/beta/$set", { sessionKey => 'aaa-late' })->{status}, 201,
    'create an object after the first page');
my @rest = map { $_->{sessionKey} } @{ ($t->list_all($next))[0] };
is($rest[-1], 'aaa-late', 'it is listed last');

# churn in another set: the newest deleted again and again, others at
# random, new ones in between; the listing keeps the creation order
{
    my $rset = 'RemoteHelpSessionRetrieveResponse';
    my @model = map { "other-$_" } 1 .. 5;
    my $n = 0;
    my $del = sub {
        my $i = shift;
        my ($key) = splice(@model, $i, 1);
        $t->delete("/beta/$rset/$key")->{status} == 204
            or die "delete $key failed";
    };
    srand(42);
    for my $step (1 .. 400) {
        my $r = rand();
        if (@model && $r < 0.35) {
            $del->($#model);
        } elsif (@model && $r < 0.5) {
            $del->(int rand @model);
        } else {
            my $key = sprintf('churn-%04d', ++$n);
            $t->post("/beta/$rset", { sessionKey => $key })->{status} == 201
                or die "create $key failed";
            push @model, $key;
        }
    }
    $del->($#model) while @model > 3;
    for (1 .. 3) {
        my $key = sprintf('churn-%04d', ++$n);
        $t->post("/beta/$rset", { sessionKey => $key });
        push @model, $key;
    }
    my @got = map { $_->{sessionKey} }
        @{ ($t->list_all("/beta/$rset?\$top=7"))[0] };
    is(join(',', @got), join(',', @model),
        'churn of creations and deletions of the newest: creation order kept');
}

# bad options
$r = $t->get("/beta/$set?\$skiptoken=key-001");
is($r->{status}, 400, '$skiptoken not one the server gave: 400');
like(json_decode($r->{body})->{error}{message},
    qr/Invalid value 'key-001' for the \$skiptoken query option/,
    '$skiptoken not one the server gave: message');
is($t->get("/beta/$set?\$skiptoken=")->{status}, 400, 'empty $skiptoken: 400');
$r = $t->get("/beta/$set?\$top=abc");
is($r->{status}, 400, '$top=abc: 400');
is(json_decode($r->{body})->{error}{code}, 'BadRequest', '$top=abc: BadRequest');
is($t->get("/beta/$set?\$top=-1")->{status}, 400, '$top=-1: 400');
is($t->get("/beta/$set?\$skiptoken=%FF")->{status}, 400,
    '$skiptoken not UTF-8: 400');
is($t->get("/beta/$set?\$skiptoken=%zz")->{status}, 400,
    'bad percent-encoding: 400');

# HEAD on the collection
$r = $t->head("/beta/$set?\$top=2");
is($r->{status}, 200, 'HEAD listing: 200');
is($r->{body}, '', 'HEAD listing: no body');
ok($r->{headers}{'content-length'} > 0, 'HEAD listing: Content-Length');

done_testing();
