#!/usr/bin/perl

# Lifetimes: remote_help_zone ... timeout= (from the last write) and
# expire=on (sessionExpirationDateTime, offsets honoured); an object whose
# moment has come is gone for every request at once (404, skipped by
# listings, a POST of its key creates it again), its memory is given back
# by the sweep without a request asking, and a full zone of expired
# objects takes new ones; "expired" in the status; with state=, an
# expired object does not come back after a restart (also one whose
# lifetime ended while nginx was down), and leaves the file at a
# compaction; reloads keep the lifetimes, or follow new parameters.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use POSIX qw(floor);
use Time::HiRes qw(time sleep);
use RHTest qw(json_decode);

my $ret = '/beta/RemoteHelpSessionRetrieveResponse';
my $ext = '/beta/ExtendRemoteHelpSessionResponse';
my $acc = '/beta/RequestRemoteHelpSessionAccessResponse';
my ($uid, $gid) = (getpwnam('nobody'))[2, 3];

# under valgrind a start takes seconds: the lifetimes that must outlive
# a restart are that much longer
my $K = $ENV{RH_VALGRIND} ? 6 : 1;

# a DateTimeOffset $secs from now, written with the offset $off
# ("Z", "-08:00", "+05:30")
sub moment {
    my ($secs, $off) = @_;
    $off //= 'Z';
    my $t = time() + $secs;
    my $shift = 0;
    if ($off =~ /^([+-])(\d\d):(\d\d)$/) {
        $shift = ($2 * 3600 + $3 * 60) * ($1 eq '-' ? -1 : 1);
    }
    my $local = $t + $shift;
    my @tm = gmtime(floor($local));
    my $ms = floor(($local - floor($local)) * 1000);
    return sprintf('%04d-%02d-%02dT%02d:%02d:%02d.%03d%s', $tm[5] + 1900,
        $tm[4] + 1, $tm[3], $tm[2], $tm[1], $tm[0], $ms, $off);
}

# the status of GET $path once it is $want, polled until $deadline
# (seconds from now); the last status otherwise
sub wait_for {
    my ($t, $path, $want, $deadline) = @_;
    my $end = time() + $deadline;
    my $r;
    while (1) {
        $r = $t->get($path);
        return $r->{status} if $r->{status} == $want || time() > $end;
        sleep 0.05;
    }
}

sub status {
    my ($t) = @_;
    return json_decode($t->get('/status')->{body});
}

sub server {
    my (%opts) = @_;
    my $t = RHTest->new(workers => $opts{workers} // 2);
    if ($opts{state}) {
        my $dir = $t->dir . '/state';
        mkdir $dir or die "mkdir $dir: $!";
        chown $uid, $gid, $dir if $> == 0;
        $t->{state} = "$dir/rh.state";
        $opts{zone} .= " state=$t->{state}";
    }
    $t->{zone} = $opts{zone};
    $t->config(zone => "remote_help_zone $opts{zone};",
        server => 'location /beta/ { remote_help rh; }
            location = /status { remote_help_status rh; }');
    return $t;
}

# --- the parameters --------------------------------------------------------

{
    my $t = server(zone => 'zone=rh:1m timeout=');
    my ($rc, $out) = $t->test_config();
    like($out, qr/invalid timeout "timeout="/, 'an empty timeout is refused');
    $t->config(zone => 'remote_help_zone zone=rh:1m timeout=0s;');
    ($rc, $out) = $t->test_config();
    like($out, qr/invalid timeout "timeout=0s"/, 'a timeout of 0 is refused');
    $t->config(zone => 'remote_help_zone zone=rh:1m timeout=soon;');
    ($rc, $out) = $t->test_config();
    like($out, qr/invalid timeout "timeout=soon"/, 'so is one not a time');
    $t->config(zone => 'remote_help_zone zone=rh:1m expire=yes;');
    ($rc, $out) = $t->test_config();
    like($out, qr/invalid parameter "expire=yes"/, 'expire= is on or off');
    $t->config(zone => 'remote_help_zone zone=rh:1m timeout=1h expire=on;');
    ($rc, $out) = $t->test_config();
    is($rc, 0, 'timeout=1h expire=on is a valid zone') or diag $out;
}

# --- timeout= --------------------------------------------------------------

{
    my $t = server(zone => 'zone=rh:1m timeout=2s');
    $t->start();

    my $t0 = time();
    is($t->post($ret, { sessionKey => 'a', deviceName => 'x' })->{status}, 201,
        'created in a zone with timeout=2s');
    is($t->post($acc, { sessionKey => 'q', pubSubEncryption => 'c' })->{status},
        201, 'and one of the request-access set');
    is($t->post($ret, { sessionKey => 'b' })->{status}, 201, 'and another');

    sleep 1.2 - (time() - $t0);
    is($t->patch("$ret/b", { deviceName => 'y' })->{status}, 200,
        'a PATCH after 1.2 s: its time starts again');
    my $tb = time();

    is(wait_for($t, "$ret/a", 404, 3), 404, 'not written for 2 s: gone');
    my $gone = time() - $t0;
    cmp_ok($gone, '>=', 1.9, 'not before its timeout');
    cmp_ok($gone, '<', 3.1, 'within a second of it');
    is(wait_for($t, "$acc/q", 404, 2), 404, 'the request-access set too');
    is($t->get("$ret/b")->{status}, 200, 'the one written again is there')
        if time() - $tb < 1.8;

    is(wait_for($t, "$ret/b", 404, 3), 404, 'and goes 2 s after its PATCH');
    cmp_ok(time() - $tb, '>=', 1.9, 'not before');

    is($t->patch("$ret/a", { deviceName => 'z' })->{status}, 404,
        'PATCH of an expired key: 404');
    is($t->delete("$ret/a")->{status}, 404, 'DELETE: 404');
    is(scalar @{ json_decode($t->get($ret)->{body})->{value} }, 0,
        'the listing has none');
    is($t->post($ret, { sessionKey => 'a', deviceName => 'new' })->{status},
        201, 'a POST of an expired key creates it anew');
    is(json_decode($t->get("$ret/a")->{body})->{deviceName}, 'new', 'new value');

    # the sweep gives the memory back: expired counted, objects 0
    my $end = time() + 5;
    my $st;
    do { sleep 0.1; $st = status($t) } until $st->{expired} >= 3 || time() > $end;
    is($st->{expired}, 3, 'status: 3 objects expired (a, q, b)');
    is($st->{objects}{RemoteHelpSessionRetrieveResponse}, 1, 'one stored');

    my $p = $t->get('/status?format=prometheus')->{body};
    like($p, qr/^nginx_remote_help_expired_total\{zone="rh"\} 3$/m,
        'and in Prometheus');

    $t->stop();
}

# --- expire=on -------------------------------------------------------------

{
    my $t = server(zone => 'zone=rh:1m expire=on');
    $t->start();

    my %at;
    for my $off ('Z', '-08:00', '+05:30') {
        my $key = "m$off";
        my $m = moment(2, $off);
        is($t->post($ret, { sessionKey => $key, sessionExpirationDateTime => $m })
            ->{status}, 201, "created, expiring at $m");
        $at{$key} = time() + 2;
    }
    is($t->post($ext, { sessionKey => 'e', sessionExpirationDateTime => moment(2) })
        ->{status}, 201, 'and one of the extend set');
    is($t->post($acc, { sessionKey => 'q', pubSubEncryption => 'c' })->{status},
        201, 'the request-access set has no such property');
    is($t->post($ret, { sessionKey => 'none', deviceName => 'd' })->{status}, 201,
        'an object without the property');
    is($t->post($ret, { sessionKey => 'later', sessionExpirationDateTime => moment(2) })
        ->{status}, 201, 'one to move later');
    is($t->patch("$ret/later", { sessionExpirationDateTime => moment(600, '-08:00') })
        ->{status}, 200, 'a PATCH moves its moment 10 minutes on');
    is($t->post($ret, { sessionKey => 'cleared', sessionExpirationDateTime => moment(2) })
        ->{status}, 201, 'one to clear');
    is($t->patch("$ret/cleared", { sessionExpirationDateTime => undef })
        ->{status}, 200, 'a PATCH clears it');
    is($t->post($ret, { sessionKey => 'kept', sessionExpirationDateTime => moment(2) })
        ->{status}, 201, 'one whose PATCH leaves it');
    is($t->patch("$ret/kept", { deviceName => 'other' })->{status}, 200,
        'a PATCH of another property keeps the moment');

    for my $key (sort keys %at) {
        my $path = "$ret/" . RHTest::uri_escape($key);
        is($t->get($path)->{status}, 200, "$key there before its moment")
            if time() < $at{$key} - 0.3;
        is(wait_for($t, $path, 404, 4), 404, "$key gone");
        cmp_ok(time(), '>=', $at{$key} - 0.05, "$key: not before its moment");
        cmp_ok(time(), '<', $at{$key} + 1, "$key: within a second of it");
    }
    is(wait_for($t, "$ext/e", 404, 2), 404, 'the extend set too');
    is(wait_for($t, "$ret/kept", 404, 2), 404,
        'the moment a PATCH of another property kept');
    is($t->get("$ret/later")->{status}, 200, 'the moment moved on: there');
    is($t->get("$ret/cleared")->{status}, 200, 'the moment cleared: there');
    is($t->get("$ret/none")->{status}, 200, 'without a moment: there');
    is($t->get("$acc/q")->{status}, 200, 'request-access: there (no timeout=)');

    # a moment already past: answered as usual, gone at once after
    my $r = $t->post($ret, { sessionKey => 'past',
        sessionExpirationDateTime => '2016-12-31T23:59:57.5564522-08:00' });
    is($r->{status}, 201, 'a moment past: 201 as usual');
    like($r->{body}, qr/"sessionExpirationDateTime":"2016-12-31T23:59:57.5564522-08:00"/,
        'with its body');
    is($t->get("$ret/past")->{status}, 404, 'and gone at once');
    is($t->post($ret, { sessionKey => 'past' })->{status}, 201,
        'its key can be created again');
    is($t->patch("$ret/past", { sessionExpirationDateTime => '2016-01-01T00:00:00Z' })
        ->{status}, 200, 'a PATCH to a moment past: 200');
    is($t->get("$ret/past")->{status}, 404, 'and gone at once');

    my ($objects) = $t->list_all($ret);
    is_deeply([sort map { $_->{sessionKey} } @$objects],
        [qw(cleared later none)], 'the listing holds only what is there');

    # a moment moved earlier (a PATCH of one 10 minutes on to 1 s on):
    # gone then, and swept then, not 10 minutes later
    is($t->post($ret, { sessionKey => 'early', sessionExpirationDateTime => moment(600) })
        ->{status}, 201, 'one 10 minutes from its moment');
    is($t->patch("$ret/early", { sessionExpirationDateTime => moment(1) })
        ->{status}, 200, 'a PATCH moves it 1 s on');
    is(wait_for($t, "$ret/early", 404, 3), 404, 'gone at the earlier moment');
    my $end = time() + 3;
    my $live = sub { status($t)->{objects}{RemoteHelpSessionRetrieveResponse} };
    sleep 0.1 while $live->() != 3 && time() < $end;
    is($live->(), 3, 'and swept then: the zone holds the 3 objects there');

    $t->stop();
}

# --- both: whichever comes first --------------------------------------------

{
    my $t = server(zone => 'zone=rh:1m timeout=2s expire=on');
    $t->start();
    my $t0 = time();
    $t->post($ret, { sessionKey => 'soon', sessionExpirationDateTime => moment(1) });
    $t->post($ret, { sessionKey => 'far', sessionExpirationDateTime => moment(60) });
    is(wait_for($t, "$ret/soon", 404, 3), 404, 'moment before timeout: gone');
    cmp_ok(time() - $t0, '<', 1.9, 'at its moment, before the timeout');
    is($t->get("$ret/far")->{status}, 200, 'the other one is there')
        if time() - $t0 < 1.8;
    is(wait_for($t, "$ret/far", 404, 3), 404, 'timeout before moment: gone');
    cmp_ok(time() - $t0, '>=', 1.9, 'at its timeout');
    $t->stop();
}

# --- a full zone of expired objects takes new ones -------------------------

{
    my $t = server(zone => 'zone=rh:1m timeout=2s', workers => 1);
    $t->start();

    my $blob = 'x' x 2000;
    my $n = 0;
    while ($n < 5000) {
        my $r = $t->post($ret, { sessionKey => "f$n", deviceName => $blob });
        last if $r->{status} == 507;
        die "POST f$n: $r->{status}" unless $r->{status} == 201;
        $n++;
    }
    cmp_ok($n, '>', 100, "the 1 MB zone is full after $n objects");
    my $t0 = time();

    my $end = time() + 6;
    my $st;
    do { sleep 0.1; $st = status($t) } until $st->{expired} >= $n || time() > $end;
    is($st->{expired}, $n, 'the sweep removed every one, no request asking');
    is($st->{objects}{RemoteHelpSessionRetrieveResponse}, 0, 'none is left');

    my $again = 0;
    for my $i (0 .. $n - 1) {
        $again++ if $t->post($ret, { sessionKey => "f$i", deviceName => $blob })
            ->{status} == 201;
    }
    is($again, $n, 'the zone takes as many again');

    # the write into a full zone gives back what has gone, before the sweep
    is(wait_for($t, "$ret/f0", 404, 4), 404, 'those expire too');
    my $r = $t->post($ret, { sessionKey => 'g', deviceName => $blob });
    is($r->{status}, 201, 'a write right after their moment finds room');
    $t->stop();
}

# --- state=: restart, compaction, reload -----------------------------------

{
    my $t = server(zone => 'zone=rh:1m expire=on', state => 1, workers => 1);
    $t->start();

    $t->post($ret, { sessionKey => 'short', sessionExpirationDateTime => moment(1.5) });
    $t->post($ret, { sessionKey => 'long', sessionExpirationDateTime => moment(3600) });
    $t->post($ret, { sessionKey => 'down', sessionExpirationDateTime => moment(2.5 * $K) });
    $t->post($ret, { sessionKey => 'plain', deviceName => 'p' });
    $t->post($ret, { sessionKey => 'patched', deviceName => 'p' });
    is($t->patch("$ret/patched", { sessionExpirationDateTime => moment(2.5 * $K) })
        ->{status}, 200, 'a PATCH gives an object a moment');
    my $t0 = time();

    is(wait_for($t, "$ret/short", 404, 3 * $K), 404, 'one expired');
    $t->stop();
    $t->start();
    is($t->get("$ret/short")->{status}, 404, 'an expired object is not restored');
    is($t->get("$ret/long")->{status}, 200, 'one not expired is');
    is($t->get("$ret/down")->{status}, 200, 'one not expired yet is');
    $t->stop();

    sleep 0.05 while time() < $t0 + 2.7 * $K;
    $t->start();
    is($t->get("$ret/down")->{status}, 404,
        'one whose moment came while nginx was down is not restored');
    is($t->get("$ret/patched")->{status}, 404,
        'nor one whose moment a PATCH gave (its earlier version neither)');
    is($t->get("$ret/plain")->{status}, 200, 'one without a moment is');

    # compaction: the file is cut to what is there
    my $blob = 'y' x 3000;
    for my $i (1 .. 60) {
        $t->post($ret, { sessionKey => "c$i", deviceName => $blob,
            sessionExpirationDateTime => moment(1) });
    }
    my $big = -s $t->{state};
    cmp_ok($big, '>', 60 * 3000, 'the file holds the short-lived objects');
    is(wait_for($t, "$ret/c60", 404, 3), 404, 'they expire');
    my $end = time() + 10;
    my $compacted = 0;
    my $i = 0;
    while (time() < $end) {
        $t->patch("$ret/plain", { deviceName => 'p' . $i++ });
        last if $compacted = () = $t->read_file('error.log') =~ /compacted to/g;
        sleep 0.05;
    }
    ok($compacted, 'the file was compacted');
    cmp_ok(-s $t->{state}, '<', 20000, 'without the expired objects')
        or diag(-s $t->{state});
    $t->stop();
    $t->start();
    is($t->get("$ret/c1")->{status}, 404, 'which a restart does not bring back');
    is($t->get("$ret/long")->{status}, 200, 'the others are there');
    $t->stop();
}

{
    my $t = server(zone => 'zone=rh:1m timeout=3s');
    $t->start();
    my $t0 = time();
    $t->post($ret, { sessionKey => 'r1' });
    ok($t->reload(), 'reload, the same parameters');
    is($t->get("$ret/r1")->{status}, 200, 'the object is there');
    is(wait_for($t, "$ret/r1", 404, 4), 404, 'and keeps its lifetime');
    cmp_ok(time() - $t0, '<', 4, 'from its write, not from the reload');

    $t0 = time();
    $t->post($ret, { sessionKey => 'r2' });
    $t->config(zone => 'remote_help_zone zone=rh:1m timeout=1h;',
        server => 'location /beta/ { remote_help rh; }
            location = /status { remote_help_status rh; }');
    ok($t->reload(), 'reload with timeout=1h');
    sleep 0.05 while time() < $t0 + 3.5;
    is($t->get("$ret/r2")->{status}, 200,
        'an object stored follows the new timeout from its last write');
    like($t->read_file('error.log'),
        qr/lifetimes of 1 objects follow timeout=3600000 expire=off now/,
        'which the log says');

    $t->config(zone => 'remote_help_zone zone=rh:2m timeout=1s;',
        server => 'location /beta/ { remote_help rh; }
            location = /status { remote_help_status rh; }');
    ok($t->reload(), 'reload with a new size and timeout=1s');
    is($t->get("$ret/r2")->{status}, 404,
        'its last write is over 1 s ago: gone');
    cmp_ok(status($t)->{expired}, '>=', 1, 'expired is kept across reloads');
    $t->stop();
}

done_testing();
