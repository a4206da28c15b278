#!/usr/bin/perl

# Two workers share the zone: 8 parallel clients create 2,000 objects;
# every one is readable afterwards, from any worker, and the listing holds
# each exactly once.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use RHTest qw(json_decode);

my $t = RHTest->new(workers => 2)->config(zone => 'remote_help_zone zone=rh:32m;')
    ->start();

my $set = '/beta/RequestRemoteHelpSessionAccessResponse';
my ($clients, $each) = (8, 250);

is($t->wait_workers(2), 2, 'two workers run');

my $failed = RHTest::clients($clients, sub {
    my ($c) = @_;
    my $bad = 0;
    open(my $ids, '>', $t->dir . "/ids-$c") or die "ids-$c: $!";
    for my $i (1 .. $each) {
        my $r = $t->post($set, { sessionKey => "c$c-$i",
            sessionType => 'viewScreen', pubSubEncryption => "v$c.$i" });
        $bad++ unless $r->{status} == 201;
        print $ids ($r->{headers}{'request-id'} // ''), "\n";
    }
    close $ids;
    return $bad;
});
is($failed, 0, "$clients clients each got 201 for all $each creates");

# request ids from both workers (each seeds its own generator) never repeat
my %ids;
for my $c (1 .. $clients) {
    open(my $ids, '<', $t->dir . "/ids-$c") or die "ids-$c: $!";
    chomp, $ids{$_}++ for <$ids>;
}
is(scalar(grep { /^[0-9a-f-]{36}$/ } keys %ids), $clients * $each,
    'every request has its own request-id');

# each object readable, with its own value
my %want;
for my $c (1 .. $clients) {
    $want{"c$c-$_"} = "v$c.$_" for 1 .. $each;
}
is($t->unreadable($set, 'pubSubEncryption', %want), 0,
    'every object is readable with its value');

my ($objects) = $t->list_all("$set?\$top=333");
my %seen;
$seen{ $_->{sessionKey} }++ for @$objects;
is(scalar @$objects, $clients * $each, 'the listing has 2000 objects');
is(scalar(grep { $_ != 1 } values %seen), 0, 'each exactly once');
is(scalar keys %seen, $clients * $each, 'and all distinct keys');

# concurrent updates of one key from both workers: every one lands whole
is($t->post('/beta/ExtendRemoteHelpSessionResponse',
    { sessionKey => 'hot' })->{status}, 201, 'hot key created');

$failed = RHTest::clients(4, sub {
    my ($c) = @_;
    my $bad = 0;
    for my $i (1 .. 100) {
        my $prop = $c % 2 ? 'acsHelperUserToken' : 'pubSubHelperAccessUri';
        my $r = $t->patch('/beta/ExtendRemoteHelpSessionResponse/hot',
            { $prop => "c$c-$i" });
        $bad++ unless $r->{status} == 200;
    }
    return $bad;
});
is($failed, 0, 'concurrent PATCHes of one key all succeed');
my $doc = json_decode($t->get('/beta/ExtendRemoteHelpSessionResponse/hot')->{body});
like($doc->{acsHelperUserToken}, qr/^c[13]-100$/, 'last write of odd clients');
like($doc->{pubSubHelperAccessUri}, qr/^c[24]-100$/,
    'last write of even clients: no update was lost to another');

done_testing();
