#!/usr/bin/perl

# remote_help_status: zone figures, objects per set, responses by status
# for all workers together, in JSON and in Prometheus' text format; the
# figures survive reloads. $remote_help_set, $remote_help_key and
# $remote_help_error in an access log.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use RHTest qw(json_decode);

my $t = RHTest->new(workers => 2)->config(
    http => 'log_format rh \'$status set=$remote_help_set key=$remote_help_key '
        . 'error=$remote_help_error\';',
    server => 'location /beta/ { remote_help rh; access_log %%PREFIX%%/rh.log rh; }
        location = /status { remote_help_status rh; }
        location = /status-of-nothing { remote_help_status nope; }',
);

my ($rc, $out) = $t->test_config();
like($out, qr/unknown remote_help_zone "nope"/, 'remote_help_status of an unknown zone');

for my $both ('remote_help rh; remote_help_status rh;', 'remote_help_status rh; remote_help rh;') {
    $t->config(server => "location /both/ { $both }");
    ($rc, $out) = $t->test_config();
    like($out, qr/"remote_help(_status)?" directive is duplicate/,
        "one location cannot serve both: $both");
}

$t->config(
    http => 'log_format rh \'$status set=$remote_help_set key=$remote_help_key '
        . 'error=$remote_help_error\';',
    server => 'location /beta/ { remote_help rh; access_log %%PREFIX%%/rh.log rh; }
        location = /status { remote_help_status rh; }',
)->start();
$t->wait_workers(2);

my $ext = '/beta/ExtendRemoteHelpSessionResponse';
my $ret = '/beta/RemoteHelpSessionRetrieveResponse';

sub status {
    my $r = $t->get('/status', auth => undef);
    is($r->{status}, 200, 'status: 200 without a token');
    return json_decode($r->{body});
}

# A response is counted in the log phase, after it has gone: another
# worker may answer /status first.  The status once $n responses are
# counted, or after 2 s.
sub status_counted {
    my ($n) = @_;
    my ($r, $s);
    for (1 .. 100) {
        $r = $t->get('/status', auth => undef);
        $s = json_decode($r->{body});
        my $sum = 0;
        $sum += $_ for values %{ $s->{requests} };
        last if $sum >= $n;
        select(undef, undef, undef, 0.02);
    }
    is($r->{status}, 200, 'status: 200 without a token');
    return $s;
}

my $s = status();
is($s->{zone}, 'rh', 'zone name');
is($s->{size}, 8 * 1024 * 1024, 'size');
cmp_ok($s->{used}, '>', 0, 'used');
is($s->{used} + $s->{free}, $s->{size}, 'used + free = size');
is_deeply($s->{objects}, { ExtendRemoteHelpSessionResponse => 0,
    RequestRemoteHelpSessionAccessResponse => 0,
    RemoteHelpSessionRetrieveResponse => 0 }, 'no objects');
is_deeply($s->{requests}, {}, 'no requests');
my $free0 = $s->{free};

# 2 workers, several clients: counts must add up whichever worker served
my $failed = RHTest::clients(4, sub {
    my ($c) = @_;
    my $bad = 0;
    for my $i (1 .. 25) {
        $bad++ unless $t->post($ret, { sessionKey => "c$c-$i" })->{status} == 201;
    }
    $bad++ unless $t->post($ext, { sessionKey => "e$c" })->{status} == 201;
    $bad++ unless $t->get("$ret/c$c-1")->{status} == 200;
    $bad++ unless $t->get("$ret/missing$c")->{status} == 404;
    $bad++ unless $t->post($ret, { sessionKey => "c$c-1" })->{status} == 409;
    return $bad;
});
is($failed, 0, 'clients done');

$s = status_counted(116);
is_deeply($s->{objects}, { ExtendRemoteHelpSessionResponse => 4,
    RequestRemoteHelpSessionAccessResponse => 0,
    RemoteHelpSessionRetrieveResponse => 100 }, 'objects per set');
is_deeply($s->{requests}, { 201 => 104, 200 => 4, 404 => 4, 409 => 4 },
    'responses by status, all workers');
cmp_ok($s->{free}, '<', $free0, 'free went down');

is($t->get($ret, auth => undef)->{status}, 401, 'a 401');
is($t->request('PUT', "$ret/x", body => '{}')->{status}, 405, 'a 405');
$s = status_counted(118);
is($s->{requests}{401}, 1, '401 counted');
is($s->{requests}{405}, 1, '405 counted');

# Prometheus
my $r = $t->get('/status?format=prometheus', auth => undef);
is($r->{status}, 200, 'prometheus: 200');
like($r->{headers}{'content-type'}, qr{^text/plain; version=0\.0\.4}, 'text format 0.0.4');
my $p = $r->{body};
like($p, qr/^# HELP nginx_remote_help_zone_size_bytes .+\n# TYPE nginx_remote_help_zone_size_bytes gauge\nnginx_remote_help_zone_size_bytes\{zone="rh"\} 8388608$/m,
    'zone size with HELP and TYPE');
like($p, qr/^nginx_remote_help_objects\{zone="rh",set="RemoteHelpSessionRetrieveResponse"\} 100$/m,
    'objects per set');
like($p, qr/^# TYPE nginx_remote_help_requests_total counter$/m, 'requests is a counter');
like($p, qr/^nginx_remote_help_requests_total\{zone="rh",status="201"\} 104$/m,
    'responses by status');
my @bad = grep { !/^(# (HELP|TYPE) nginx_remote_help_\w+ .+|nginx_remote_help_\w+\{[^}]*\} \d+)$/ } split /\n/, $p;
is_deeply(\@bad, [], 'every line is a comment or a sample named nginx_remote_help_*');

is($t->get('/status?format=xml', auth => undef)->{status}, 400, 'unknown format: 400');
$r = $t->request('POST', '/status', body => '{}', auth => undef);
is($r->{status}, 405, 'POST on status: 405');
like($r->{headers}{allow} // '', qr/^GET, HEAD$/, 'with Allow');
is(json_decode($r->{body})->{error}{code}, 'MethodNotAllowed', 'Graph error');

# the figures survive a reload, also a resize
my $before = status()->{requests};
ok($t->reload(), 'reload');
is_deeply(status()->{requests}, $before, 'requests after a reload');
is(status()->{objects}{RemoteHelpSessionRetrieveResponse}, 100, 'objects after a reload');

$t->config(zone => 'remote_help_zone zone=rh:16m;',
    http => 'log_format rh \'$status set=$remote_help_set key=$remote_help_key '
        . 'error=$remote_help_error\';',
    server => 'location /beta/ { remote_help rh; access_log %%PREFIX%%/rh.log rh; }
        location = /status { remote_help_status rh; }',
);
ok($t->reload(), 'reload with a resize');
$s = status();
is($s->{size}, 16 * 1024 * 1024, 'the new size');
is_deeply($s->{requests}, $before, 'requests after a resize');
is($s->{objects}{RemoteHelpSessionRetrieveResponse}, 100, 'objects after a resize');

# the log variables
$t->post($ret, { sessionKey => 'logged key' });
$t->get("$ret/" . RHTest::uri_escape('logged key'));
$t->post($ret, { sessionKey => 'logged key' });
$t->get("$ret/nothing-here");
$t->post($ret, '{bad');
$t->get('/beta/Nope');
$t->stop();

my @log = split /\n/, $t->read_file('rh.log');
ok((grep { $_ eq '201 set=RemoteHelpSessionRetrieveResponse key=logged key error=' } @log),
    'POST: set, key from the body, no error');
ok((grep { $_ eq '200 set=RemoteHelpSessionRetrieveResponse key=logged key error=' } @log),
    'GET: the key from the URL, decoded');
ok((grep { $_ eq '409 set=RemoteHelpSessionRetrieveResponse key=logged key error=Conflict' } @log),
    'conflict: error=Conflict');
ok((grep { $_ eq '404 set=RemoteHelpSessionRetrieveResponse key=nothing-here error=ResourceNotFound' } @log),
    'not found: error=ResourceNotFound');
ok((grep { $_ eq '400 set=RemoteHelpSessionRetrieveResponse key= error=BadRequest' } @log),
    'bad body: error=BadRequest');
ok((grep { $_ eq '400 set= key= error=BadRequest' } @log), 'unknown set: no set');

done_testing();
