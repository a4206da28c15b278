#!/usr/bin/perl

# A fleet of gateways with one truth in Redis (remote_help_redis,
# remote_help_zone ... backend=): each test starts its own redis-server
# and several nginx instances on free ports.  Every gateway answers as
# one server (create anywhere, read everywhere; one 201 and one 409 for
# a race on a key; concurrent PATCHes lose nothing; DELETE is 404
# everywhere; listings and their nextLinks are the same on all); copies
# (cache=on) follow a change made anywhere within 100 ms; lifetimes hold
# fleet-wide; Redis paused, killed or restarted empty, its scripts
# flushed, the invalidation connection killed, a password: each gets its
# defined answer, and nothing a client got 503 for is made later.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(time sleep);
use RHTest qw(json_decode uri_escape);
use RHRedis;

plan skip_all => 'redis-server is not installed (apt-get install '
    . 'redis-server)' unless RHRedis::available();

my $acc = '/beta/RequestRemoteHelpSessionAccessResponse';
my $ret = '/beta/RemoteHelpSessionRetrieveResponse';
my $ext = '/beta/ExtendRemoteHelpSessionResponse';

my $NCHAN = '/usr/lib/nginx/modules/ngx_nchan_module.so';

# under valgrind nginx is many times slower: its timings that much looser
# (the 100 ms bound of copies is then checked as 100 ms x K)
my $K = $ENV{RH_VALGRIND} ? 10 : 1;
# remote_help_redis timeout= (ms): under a second, which the harness
# waits for an answer to go on
my $T = $ENV{RH_VALGRIND} ? 800 : 300;

# a gateway of the fleet; %opts: redis (server=), params (more of
# remote_help_redis), zone (more of remote_help_zone), workers, main
sub gateway {
    my ($redis, %opts) = @_;

    my $t = RHTest->new(workers => $opts{workers} // 2);
    my $server = $opts{server} // ('server=' . $redis->address);
    my $params = $opts{params} // '';
    my $zone = $opts{zone} // '';

    $t->config(
        main => $opts{main} // '',
        zone => "remote_help_redis fleet $server $params;\n"
            . "    remote_help_zone zone=rh:" . ($opts{size} // '4m')
            . " backend=fleet $zone;",
        server => 'location /beta/ { remote_help rh; }
        location = /status { remote_help_status rh; }
        location = /plain { return 200 "plain\n"; }',
    );

    return $t->start() if !$opts{no_start};
    return $t;
}

# polls $code until it returns true, for $secs at most; returns the time
# it took, or undef
sub within {
    my ($secs, $code) = @_;
    my $start = time();
    while (time() - $start < $secs) {
        return time() - $start if $code->();
        sleep 0.005;
    }
    return undef;
}

sub doc {
    my ($r) = @_;
    return $r->{status} == 200 ? eval { json_decode($r->{body}) } : undef;
}

sub status_of {
    my ($t) = @_;
    my $r = $t->get('/status', auth => undef);
    return $r->{status} == 200 ? json_decode($r->{body}) : {};
}

# how many times Redis has run a command (INFO commandstats), scripts'
# calls of it included
sub calls {
    my ($redis, $command) = @_;
    my ($n) = ($redis->cmd('INFO', 'commandstats') // '')
        =~ /cmdstat_\Q$command\E:calls=(\d+)/;
    return $n // 0;
}

# the gateways answer once they are connected
sub ready {
    my (@t) = @_;
    for my $t (@t) {
        within(10, sub { (status_of($t)->{backend}{connected} // 0) })
            or return 0;
    }
    return 1;
}


# configuration: nginx -t needs no Redis; what cannot work is refused

{
    my $t = RHTest->new();
    my $port = RHTest::free_port();

    $t->config(zone => "remote_help_redis r server=127.0.0.1:$port;\n"
        . "remote_help_zone zone=rh:4m backend=r timeout=1h expire=on;");
    my ($rc, $out) = $t->test_config();
    is($rc, 0, 'nginx -t passes with no Redis listening') or diag $out;

    my @bad = (
        ["remote_help_redis r server=127.0.0.1:$port;\n"
            . 'remote_help_zone zone=rh:4m backend=r state=%%PREFIX%%/s;',
         qr/"state" and "backend" cannot be used together/, 'state='],
        ['remote_help_zone zone=rh:4m backend=nope;',
         qr/unknown remote_help_redis "nope" in remote_help_zone "rh"/, 'an unknown backend'],
        ['remote_help_redis r server=localhost:6379;'
            . 'remote_help_zone zone=rh:4m backend=r;',
         qr/is not an IP address/, 'a name, not an address'],
        ['remote_help_redis r db=1;'
            . 'remote_help_zone zone=rh:4m backend=r;',
         qr/must have "server" parameter/, 'no server='],
        ["remote_help_redis r server=127.0.0.1:$port cache=maybe;"
            . 'remote_help_zone zone=rh:4m backend=r;',
         qr/invalid parameter "cache=maybe"/, 'cache=maybe'],
        ["remote_help_redis r server=127.0.0.1:$port timeout=0;"
            . 'remote_help_zone zone=rh:4m backend=r;',
         qr/invalid parameter "timeout=0"/, 'timeout=0'],
        ["remote_help_redis r server=127.0.0.1:$port "
            . 'password_file=/nonexistent/pw;'
            . 'remote_help_zone zone=rh:4m backend=r;',
         qr/nonexistent\/pw/, 'a password file that is not there'],
    );

    for my $case (@bad) {
        my ($zone, $re, $what) = @$case;
        $t->config(zone => $zone);
        my ($rc, $out) = $t->test_config();
        ok($rc != 0 && $out =~ $re, "nginx -t refuses $what") or diag $out;
    }
}


# started before Redis: 503 with Retry-After, then connected by itself

{
    my $port = RHTest::free_port();
    my $t = gateway(undef, server => "server=127.0.0.1:$port",
                    params => "timeout=${T}ms");

    my $start = time();
    my $r = $t->post($acc, { sessionKey => 'early' });
    my $took = time() - $start;
    is($r->{status}, 503, 'Redis not there: 503');
    like($r->{body}, qr/"code":"ServiceUnavailable"/, '... ServiceUnavailable');
    ok(defined $r->{headers}{'retry-after'}, '... with Retry-After');
    cmp_ok($took, '<', 0.25 * $K, '... at once, not after a timeout');
    is($t->get('/plain')->{status}, 200, 'other locations answer');

    my $redis = RHRedis->new(port => $port);

    my $lag = within(10, sub {
        $t->post($acc, { sessionKey => 'early' })->{status} == 201 });
    ok(defined $lag, 'Redis up: the gateway connects by itself')
        and cmp_ok($lag, '<', 5, '... within a few seconds');
    ok(defined within(10, sub { $t->get("$acc/early")->{status} == 200 }),
       '... and serves from it (every worker connected)');
}


# the fleet: two gateways with copies (cache=on), one without

my $redis = RHRedis->new();
my $a = gateway($redis);
my $b = gateway($redis);
my $c = gateway($redis, params => 'cache=off');
ok(ready($a, $b, $c), 'three gateways connected');

{
    my $r = $a->post($acc, { sessionKey => 'k1', sessionType => 'viewScreen',
                             pubSubEncryptionKey => 'a' });
    is($r->{status}, 201, 'created through A');

    for my $g ([$b, 'B'], [$c, 'C']) {
        my $d = doc($g->[0]->get("$acc/k1"));
        is($d && $d->{pubSubEncryptionKey}, 'a', "read through $g->[1]");
    }

    $r = $b->post($acc, { sessionKey => 'k1' });
    is($r->{status}, 409, 'a POST of the key through B: 409');
    like($r->{body}, qr/already exists/, '... Graph\'s Conflict');

    # B has a copy now; a PATCH through C reaches it within 100 ms
    doc($b->get("$acc/k1")) for 1 .. 3;
    $r = $c->patch("$acc/k1", { pubSubEncryptionKey => 'c' });
    is($r->{status}, 200, 'PATCH through C');
    my $lag = within(2, sub {
        ((doc($b->get("$acc/k1")) // {})->{pubSubEncryptionKey} // '')
            eq 'c' });
    ok(defined $lag && $lag <= 0.1 * $K, 'B\'s copy follows within 100 ms')
        or diag 'lag ' . ($lag // 'none');
    diag sprintf('invalidation seen after %.1f ms', 1000 * $lag) if $lag;

    # any Redis client's change reaches the copies too
    (my $json = $a->get("$acc/k1")->{body}) =~ s/"c"/"outside"/;
    $redis->cmd('HSET', '{rh:rh}:o:1:k1', 'j', $json);
    $lag = within(2, sub {
        ((doc($a->get("$acc/k1")) // {})->{pubSubEncryptionKey} // '')
            eq 'outside' });
    ok(defined $lag && $lag <= 0.1 * $K,
       'a change by redis-cli reaches A too');

    $r = $a->delete("$acc/k1");
    is($r->{status}, 204, 'DELETE through A');
    $lag = within(2, sub { $b->get("$acc/k1")->{status} == 404 });
    ok(defined $lag && $lag <= 0.1 * $K, '... 404 through B within 100 ms');
    is($c->get("$acc/k1")->{status}, 404, '... 404 through C at once');
    is($c->delete("$acc/k1")->{status}, 404, '... a second DELETE: 404');
    is($b->patch("$acc/k1", { pubSubEncryption => 'x' })->{status}, 404,
       '... a PATCH: 404');

    my $subs = grep { /name=/ } split /\n/,
        $redis->cmd('CLIENT', 'LIST', 'TYPE', 'pubsub') // '';
    is($subs, 2, 'one connection hears the changes for each gateway with '
       . 'copies (A, B: 2 workers each)');

    my $s = status_of($b);
    ok($s->{backend}{cache_hits} > 0, 'B answered reads from its copies')
        or diag explain $s->{backend};
    ok($s->{backend}{invalidations} > 0, '... and was told of changes');
}


# an ETag another gateway gave a moment ago: a copy that has not heard
# of that change yet is not what decides If-Match (the write reads the
# object from Redis again instead of answering 412)

{
    ok($a->post($ret, { sessionKey => 'im', deviceName => 'd' })
        ->{status} == 201, 'If-Match: the object created');
    my (%patch, %delete);
    for my $i (1 .. 150) {
        doc($a->get("$ret/im"));                 # A keeps a copy
        my $r = $b->patch("$ret/im", { deviceName => "b$i" });
        my $r2 = $a->patch("$ret/im", { acsGroupId => "a$i" },
                           headers => ['If-Match' => $r->{headers}{etag}]);
        $patch{$r2->{status}}++;
        next if $i % 3;
        # and a DELETE with it, then the object again
        doc($a->get("$ret/im"));
        $r = $b->patch("$ret/im", { deviceName => "d$i" });
        $r2 = $a->delete("$ret/im",
                         headers => ['If-Match' => $r->{headers}{etag}]);
        $delete{$r2->{status}}++;
        $a->post($ret, { sessionKey => 'im', deviceName => 'd' });
    }
    is_deeply(\%patch, { 200 => 150 }, 'a PATCH through A with the ETag B '
              . 'had just answered: 200, every time')
        or diag explain \%patch;
    is_deeply(\%delete, { 204 => 50 }, '... a DELETE: 204, every time')
        or diag explain \%delete;
    is($a->patch("$ret/im", { deviceName => 'x' },
                 headers => ['If-Match' => 'W/"1"'])->{status}, 412,
       '... and an ETag no gateway gave: 412');
    is($a->delete("$ret/im")->{status}, 204, '... deleted');
}


# hints: what a gateway wrote last is what its next PATCH of the object
# is made from, with no read from Redis; a GET never answers from it,
# and a PATCH made from one that another write overtook loses nothing

{
    my $hmgets = sub { calls($redis, 'hmget') };
    is($a->post($ret, { sessionKey => 'hint', deviceName => 'd' })
        ->{status}, 201, 'hints: the object created through A');
    my $h0 = $hmgets->();
    is($a->patch("$ret/hint", { acsGroupId => 'a1' })->{status}, 200,
       '... PATCH through A');
    my $h1 = $hmgets->();
    is($b->patch("$ret/hint", { acsGroupId => 'b1' })->{status}, 200,
       '... PATCH through B');
    my $h2 = $hmgets->();
    # the update script reads the version with HMGET, in Redis
    is($h1 - $h0, 1, '... A\'s PATCH read no object: it had written it')
        or diag "$h0 $h1 $h2";
    is($h2 - $h1, 2, '... B\'s read it from Redis');

    # once A has heard of B's change, its hint is gone: its next PATCH
    # reads Redis's version, and is not refused for a version B replaced
    # (INCR: only a write's script makes one; the sweep's runs too, now
    # and then, with neither INCR nor HMGET)
    my $evals = sub { calls($redis, 'incr') };
    for my $i (1 .. 5) {
        $a->patch("$ret/hint", { acsGroupId => "a$i" });
        sleep 0.05;                              # A hears of its own
        $b->patch("$ret/hint", { acsGroupId => "b$i" });
        sleep 0.05;                              # and of B's
        my ($e0, $m0) = ($evals->(), $hmgets->());
        $a->patch("$ret/hint", { deviceName => "a$i" });
        my ($e1, $m1) = ($evals->(), $hmgets->());
        $h0 .= " " . ($e1 - $e0) . "/" . ($m1 - $m0);
    }
    like($h0, qr/^\d+( 1\/2){5}$/, '... a PATCH through A after B\'s, '
         . 'heard of: one write, from Redis\'s object, none refused (INCRs/'
         . 'HMGETs:' . ($h0 =~ s/^\d+//r) . ')');

    my (%got, $lost);
    for my $i (1 .. 60) {
        $a->patch("$ret/hint", { deviceName => "a$i" });
        $b->patch("$ret/hint", { acsGroupId => "b$i" });
        # A's hint is behind now: never its GET's answer
        my $d = doc($a->get("$ret/hint")) // {};
        $got{ ($d->{acsGroupId} // '') eq "b$i" ? 'B' : 'other' }++;
        # and a PATCH made from it is made again from Redis's
        $a->patch("$ret/hint", { pubSubGroupId => "p$i" });
        $d = doc($c->get("$ret/hint")) // {};
        $lost++ unless ($d->{deviceName} // '') eq "a$i"
            && ($d->{acsGroupId} // '') eq "b$i"
            && ($d->{pubSubGroupId} // '') eq "p$i";
    }
    is_deeply(\%got, { B => 60 }, '... a GET through A right after B\'s '
              . 'PATCH answers B\'s version, every time')
        or diag explain \%got;
    ok(!$lost, '... PATCHes through A after B\'s lose none of the three '
       . 'changes') or diag "$lost lost";
    is($a->delete("$ret/hint")->{status}, 204, '... deleted');
    is($a->patch("$ret/hint", { deviceName => 'x' })->{status}, 404,
       '... a PATCH after it: 404');
}


# without copies (C), a gateway keeps hints of its updates only: its
# next PATCH of the object is one call; one whose hint another write
# overtook is made again from the version the update script's refusal
# gives, with no read between; and when most hints turn out behind, the
# PATCHes read Redis again (HMGET counts: one in the update script, two
# when it refuses, one more for a read)

{
    my $hmgets = sub { calls($redis, 'hmget') };
    my $cost = sub {
        my ($g, $body) = @_;
        my $h = $hmgets->();
        my $r = $g->patch("$ret/offh", $body);
        return ($r->{status}, $hmgets->() - $h, $r);
    };
    my $ours = '{rh:rh}:o:2:offh';

    is($c->post($ret, { sessionKey => 'offh', deviceName => 'd' })
        ->{status}, 201, 'cache=off: an object created through C');
    my ($st, $n) = $cost->($c, { acsGroupId => 'c1' });
    is("$st $n", '200 2', '... its first PATCH reads it (no hint of a '
       . 'create)');
    ($st, $n) = $cost->($c, { acsHelperUserId => 'c2' });
    is("$st $n", '200 1', '... the next one reads nothing: one call');

    is($b->patch("$ret/offh", { acsSharerUserId => 'b1' })->{status}, 200,
       '... a PATCH through B');
    is((doc($c->get("$ret/offh")) // {})->{acsSharerUserId}, 'b1',
       '... a GET through C answers B\'s version, never the hint');
    my ($st2, $n2, $r) = $cost->($c, { pubSubGroupId => 'c3' });
    is("$st2 $n2", '200 3', '... a PATCH through C from its hint, behind: '
       . 'refused, made again from what the refusal gave, no read');
    my $d = doc($r) // {};
    is(join(',', map { $d->{$_} // '-' }
                 qw(acsGroupId acsHelperUserId acsSharerUserId pubSubGroupId)),
       'c1,c2,b1,c3', '... and loses none of the changes');
    like($r->{headers}{etag} // '', qr/^W\/"\d+"$/, '... with its ETag');

    # an ETag B gave, which C's hint does not have: 200, not 412
    my $e = $b->patch("$ret/offh", { deviceName => 'b2' })->{headers}{etag};
    is($c->patch("$ret/offh", { deviceName => 'c4' },
                 headers => ['If-Match' => $e])->{status}, 200,
       '... If-Match with the ETag B just gave: 200');
    is($c->patch("$ret/offh", { deviceName => 'c5' },
                 headers => ['If-Match' => $e])->{status}, 412,
       '... and with it once more: 412');

    # another writer before every PATCH (its version changed in Redis):
    # the hints stop being read after a few, but for a probe in 32
    my @n;
    my $bad = 0;
    for my $i (1 .. 96) {
        $redis->cmd('HSET', $ours, 'v', 1_000_000_000 + $i);
        my ($st, $n) = $cost->($c, { deviceName => "g$i" });
        $bad++ unless $st == 200;
        push @n, $n;
    }
    is($bad, 0, '... PATCHes after another writer\'s every time: 200');
    my $late = 0;
    $late += $_ for @n[32 .. 95];
    my $hinted = grep { $_ == 3 } @n[32 .. 95];
    ok($hinted <= 4 && $late <= 2 * 64 + 4, '... most of them no longer '
       . "read a hint (of the last 64: $hinted did, HMGETs $late)")
        or diag "@n";
    is((doc($c->get("$ret/offh")) // {})->{deviceName}, 'g96',
       '... the last one is there');

    is($c->delete("$ret/offh")->{status}, 204, '... deleted');
    is($c->patch("$ret/offh", { deviceName => 'x' })->{status}, 404,
       '... a PATCH after it: 404');
}


# hints take at most half of a zone: writes through a gateway whose zone
# is far smaller than what it writes all succeed, and leave half free

{
    my $small = gateway($redis, size => '128k');
    ok(ready($small), 'a gateway with a 128k zone');
    my $bad = 0;
    for my $i (1 .. 300) {
        $bad++ unless $small->post($ret, { sessionKey => "small$i",
            deviceName => 'd' x 500 })->{status} == 201;
    }
    is($bad, 0, '... 300 objects of 600 bytes POSTed through it: 201 each');
    my $s = status_of($small);
    ok($s->{free} >= $s->{size} / 2 - 4096, '... its zone half free '
       . "(free $s->{free} of $s->{size})");
    is($small->patch("$ret/small300", { deviceName => 'p' })->{status}, 200,
       '... a PATCH of the last');
    is((doc($small->get("$ret/small1")) // {})->{deviceName}, 'd' x 500,
       '... the first read back');
    $bad = grep { $small->delete("$ret/small$_")->{status} != 204 } 1 .. 300;
    is($bad, 0, '... all deleted');
    $small->stop();
}


# the same answers, byte for byte, as one gateway's zone: PATCHes that
# grow, shrink, null and escape properties, in every position

{
    my $plain = RHTest->new(workers => 1);
    $plain->config();
    $plain->start();

    my @steps = (
        [POST => $ret, { sessionKey => 'same', deviceName => 'dev',
                         acsGroupId => 'g', sessionType => 'viewScreen' }],
        [PATCH => "$ret/same", { deviceName => 'a much longer device name' }],
        [PATCH => "$ret/same", { acsHelperUserToken => "t\x{e9}\"\\/<",
                                 sessionType => 'viewScreen, elevation' }],
        [PATCH => "$ret/same", { deviceName => undef, acsGroupId => 'gg' }],
        [PATCH => "$ret/same", { sessionExpirationDateTime =>
                                 '2030-01-02T03:04:05.678+05:30' }],
        [PATCH => "$ret/same", { sessionKey => 'same', pubSubGroupId => '' }],
        [PATCH => "$ret/same", { acsHelperUserToken => 'x',
                                 sessionExpirationDateTime => undef }],
        [GET => "$ret/same"],
        [PATCH => "$ret/nope", { deviceName => 'x' }],
        [PATCH => "$ret/same", { deviceName => 5 }],
        [GET => "$ret/same"],
    );

    my ($diff, $n) = (0, 0);
    for my $step (@steps) {
        my ($method, $path, $body) = @$step;
        # writes through C and A in turn; reads through both
        my @fleet = $method eq 'GET' ? ($c, $a) : ($n++ % 2 ? $a : $c);
        my @r = map {
            $method eq 'POST' ? $_->post($path, $body)
            : $method eq 'PATCH' ? $_->patch($path, $body)
            : $_->get($path)
        } $plain, @fleet;
        push @r, $r[1] if @r == 2;
        my @norm = map {
            (my $b = $_->{body}) =~ s/"(date|request-id|client-request-id)":"[^"]*"//g;
            "$_->{status} $b" } @r;
        $diff++, diag "$method $path:\n  $norm[0]\n  $norm[1]\n  $norm[2]"
            unless $norm[0] eq $norm[1] && $norm[0] eq $norm[2];
    }
    is($diff, 0, scalar(@steps) . ' writes and reads answered byte for byte '
       . 'as by one gateway\'s zone (cache=off and cache=on)');
    $plain->stop();
}


# a reload may not turn a zone of copies into one of objects, or back

{
    my $redis6 = RHRedis->new();
    my $g = gateway($redis6);
    ok(ready($g), 'a gateway for reloads');
    is($g->post($acc, { sessionKey => 'rl' })->{status}, 201, '... a write');

    my $conf = $g->read_file('nginx.conf');
    (my $plain = $conf) =~ s/ backend=fleet//;
    (my $bigger = $conf) =~ s/zone=rh:4m/zone=rh:8m/;
    my $n = 0;

    my @cases = ([$plain, 'the same size'],
                 [$plain =~ s/zone=rh:4m/zone=rh:8m/r, 'a new size']);

    for my $case (@cases) {
        my ($text, $what) = @$case;
        $g->write_config($text);
        kill 'HUP', $g->pid;
        $n++;
        my $refused = within(10, sub {
            my @hits = $g->read_file('error.log')
                =~ /the backend= of remote_help_zone "rh" cannot change/g;
            @hits >= $n });
        ok(defined $refused, "a reload without backend= ($what) is refused");
        is($g->get("$acc/rl")->{status}, 200, '... the fleet serves on');
    }

    $g->write_config($bigger);
    ok($g->reload(), 'a reload that resizes the zone of copies');
    is($g->get("$acc/rl")->{status}, 200, '... the fleet serves on');
    $g->stop();
}


# races: two gateways POST one key at once, PATCH one object at once

{
    my $n = 20;
    my $dir = $a->dir;

    RHTest::clients(2, sub {
        my ($i) = @_;
        my $g = $i == 1 ? $a : $b;
        open my $fh, '>', "$dir/race-$i" or return 1;
        for my $k (1 .. $n) {
            my $r = $g->post($ext, { sessionKey => "race$k" });
            print $fh "$k $r->{status}\n";
        }
        close $fh;
        return 0;
    });

    my %got;
    for my $i (1, 2) {
        open my $fh, '<', "$dir/race-$i" or die $!;
        while (<$fh>) {
            my ($k, $status) = split;
            push @{ $got{$k} }, $status;
        }
    }

    my $bad = grep {
        join(',', sort @{ $got{$_} // [] }) ne '201,409' } 1 .. $n;
    is($bad, 0, "$n keys POSTed by two gateways at once: one 201, one 409");

    is($a->post($ret, { sessionKey => 'p', deviceName => 'd0',
                        acsGroupId => 'g0' })->{status}, 201, 'an object');

    my $rounds = 25;
    my $failed = RHTest::clients(2, sub {
        my ($i) = @_;
        my ($g, $prop) = $i == 1 ? ($a, 'deviceName') : ($b, 'acsGroupId');
        my $bad = 0;
        for my $k (1 .. $rounds) {
            $bad++ unless $g->patch("$ret/p", { $prop => "v$k" })->{status}
                == 200;
        }
        return $bad;
    });
    is($failed, 0, 'PATCHes of two properties through two gateways');

    my $d = doc($c->get("$ret/p"));
    is($d && "$d->{deviceName} $d->{acsGroupId}", "v$rounds v$rounds",
       '... neither change lost');
}


# listings: the same on every gateway, a nextLink continues on another

{
    my %want;
    for my $i (1 .. 7) {
        my $g = ($a, $b, $c)[$i % 3];
        is($g->post($ext, { sessionKey => "list$i" })->{status}, 201,
           "list$i created") or next;
        $want{"list$i"} = 1;
    }

    my @gateways = ($a, $b, $c);
    my @page;
    my ($path, $pages, %seen, $dups) = ("$ext?\$top=4", 0);

    while (defined $path && $pages < 20) {
        my $g = $gateways[$pages % 3];
        my $r = $g->get($path);
        last unless $r->{status} == 200;
        my $d = json_decode($r->{body});
        $pages++;
        for my $o (@{ $d->{value} }) {
            $dups++ if $seen{ $o->{sessionKey} }++;
        }
        $path = $d->{'@odata.nextLink'};
        $path =~ s{^http://[^/]+}{} if defined $path;
    }

    my @listed = grep { /^(list|race)/ } keys %seen;
    is(scalar(@listed), 7 + 20, 'pages taken from three gateways in turn '
       . 'list every object');
    ok(!$dups, '... each once');
    cmp_ok($pages, '>=', 7, '... over several pages');

    my @all = map { join ',', map { $_->{sessionKey} }
                    @{ ($_->list_all($ext))[0] } } $a, $b, $c;
    ok($all[0] eq $all[1] && $all[1] eq $all[2],
       'the same listing from every gateway');

    my $s = status_of($b);
    is($s->{objects}{ExtendRemoteHelpSessionResponse}, 27,
       'the status counts the fleet\'s objects');
    ok($s->{backend}{connected}, '... connected');
    like($b->get('/status?format=prometheus', auth => undef)->{body},
         qr/nginx_remote_help_backend_connected\{zone="rh",backend="fleet"\} 1/,
         '... and in Prometheus');
}


# lifetimes hold fleet-wide

{
    my $redis2 = RHRedis->new();
    my $x = gateway($redis2, zone => 'timeout=1s');
    my $y = gateway($redis2, zone => 'timeout=1s expire=on');
    ok(ready($x, $y), 'two gateways with lifetimes');

    is($x->post($acc, { sessionKey => 'short' })->{status}, 201,
       'created with timeout=1s');
    is($y->get("$acc/short")->{status}, 200, '... read on the other');
    my $ttl = $redis2->cmd('PTTL', '{rh:rh}:o:1:short');
    ok($ttl > 0 && $ttl <= 1000, "... its PEXPIRE in Redis ($ttl ms)");

    my $soon = time() + 0.5;
    my @t = gmtime($soon);
    my $moment = sprintf('%04d-%02d-%02dT%02d:%02d:%02d.%03dZ',
        $t[5] + 1900, $t[4] + 1, @t[3, 2, 1, 0],
        1000 * ($soon - int $soon));
    is($y->post($ext, { sessionKey => 'soon',
                        sessionExpirationDateTime => $moment })->{status},
       201, 'created with expire=on, due in 0.5 s');

    my $gone = within(5, sub {
        $x->get("$acc/short")->{status} == 404
            && $y->get("$acc/short")->{status} == 404 });
    ok(defined $gone, 'expired: 404 on both gateways');
    ok(defined within(5, sub { $x->get("$ext/soon")->{status} == 404 }),
       'expire=on: gone by its moment on the other gateway');
    my $d = doc($x->get($acc));
    is($d && scalar(@{ $d->{value} }), 0, '... and listings skip it');

    # PATCHes move, keep, clear the moment (expire=on alone)
    my $z = gateway($redis2, zone => 'expire=on');
    ok(ready($z), 'a gateway with expire=on alone');
    my $in = sub {
        my ($secs) = @_;
        my $at = time() + $secs;
        my @t = gmtime($at);
        sprintf('%04d-%02d-%02dT%02d:%02d:%02d.%03dZ', $t[5] + 1900,
                $t[4] + 1, @t[3, 2, 1, 0], 1000 * ($at - int $at));
    };
    is($z->post($ext, { sessionKey => 'pm',
                        sessionExpirationDateTime => $in->(60) })->{status},
       201, 'an object due in a minute');
    my $pttl = $redis2->cmd('PTTL', '{rh:rh}:o:0:pm');
    ok($pttl > 50000 && $pttl <= 60000, "... PEXPIREAT in Redis ($pttl ms)");
    my $r = $z->patch("$ext/pm", { acsHelperUserToken => 'x' });
    is($r->{status}, 200, 'a PATCH of another property');
    $pttl = $redis2->cmd('PTTL', '{rh:rh}:o:0:pm');
    ok($pttl > 50000 && $pttl <= 60000, "... keeps the moment ($pttl ms)");
    like($r->{body}, qr/"acsHelperUserToken":"x"/, '... and answers the '
         . 'whole object') and like($r->{body},
         qr/"sessionExpirationDateTime":"\d{4}-/, '... with its moment');
    $r = $z->patch("$ext/pm", { sessionExpirationDateTime => undef });
    is($r->{status}, 200, 'a PATCH that clears the moment');
    is($redis2->cmd('PTTL', '{rh:rh}:o:0:pm'), '-1', '... no expiry left');
    is($redis2->cmd('ZSCORE', '{rh:rh}:e', '0:pm'), '',
       '... nor its place among the moments');
    is($z->patch("$ext/pm", { sessionExpirationDateTime => $in->(0.4) })
       ->{status}, 200, 'a PATCH that moves it to 0.4 s from now');
    ok(defined within(5, sub { $x->get("$ext/pm")->{status} == 404 }),
       '... gone then on another gateway');
    is($z->post($ext, { sessionKey => 'pm2' })->{status}, 201, 'another');
    is($z->patch("$ext/pm2", { sessionExpirationDateTime =>
                               '2001-01-01T00:00:00Z' })->{status},
       200, 'a PATCH to a moment past: answered');
    is($x->get("$ext/pm2")->{status}, 404, '... and gone at once');
    ok(defined within(5, sub {
        (status_of($y)->{objects}{RequestRemoteHelpSessionAccessResponse}
         // -1) == 0 }), '... and the status no longer counts it');
}


# Redis paused: 503 within the timeout, and a write refused is not made
# later when Redis reads it

{
    my $redis3 = RHRedis->new();
    my $g = gateway($redis3, params => "timeout=${T}ms cache=off");
    ok(ready($g), "a gateway with timeout=${T}ms");
    is($g->post($acc, { sessionKey => 'before' })->{status}, 201, 'a write');

    $redis3->pause();

    my $start = time();
    my $r = $g->post($acc, { sessionKey => 'paused' });
    my $took = time() - $start;
    is($r->{status}, 503, 'Redis paused: a POST gets 503');
    ok(defined $r->{headers}{'retry-after'}, '... with Retry-After');
    ok($took >= 0.9 * $T / 1000 && $took < $T / 1000 + 0.7 * $K,
       sprintf('... after the timeout (%.2f s)', $took));
    is($g->patch("$acc/before", { pubSubEncryptionKey => 'late' })->{status},
       503, '... a PATCH too');
    is($g->delete("$acc/before")->{status}, 503, '... a DELETE too');
    is($g->get("$acc/before")->{status}, 503, '... and a GET');
    $start = time();
    is($g->get('/plain')->{status}, 200, 'other locations answer meanwhile');
    cmp_ok(time() - $start, '<', 0.2 * $K,
           '... at once: the worker never waits');

    $redis3->resume();

    ok(defined within(5, sub {
        $g->get("$acc/before")->{status} == 200 }), 'Redis resumed: 200');
    is($g->get("$acc/paused")->{status}, 404,
       'the POST that got 503 was not made when Redis ran it');
    my $d = doc($g->get("$acc/before"));
    ok($d && !defined $d->{pubSubEncryptionKey}, '... nor the PATCH');
    is($redis3->cmd('EXISTS', '{rh:rh}:o:1:before'), '1', '... nor the DELETE');
}


# Redis killed and restarted empty; its scripts flushed; the
# invalidation connection killed; a password

{
    my $port = RHTest::free_port();
    my $redis4 = RHRedis->new(port => $port);
    my $g = gateway($redis4, params => "timeout=${T}ms");
    my $h = gateway($redis4, params => "timeout=${T}ms",
                    main => -e $NCHAN ? "load_module $NCHAN;" : '');
    my $o = gateway($redis4, params => "timeout=${T}ms cache=off");
    ok(ready($g, $h, $o), 'two gateways (one with nchan loaded beside it), '
       . 'and one without copies');
    is($g->post($acc, { sessionKey => 'r1' })->{status}, 201, 'a write');
    is($h->get("$acc/r1")->{status}, 200, '... read on the other')
        for 1 .. 2;

    # a hint of the gateway without copies, of a version the new Redis
    # will give another object of that key
    is($o->post($acc, { sessionKey => 'rz', pubSubEncryptionKey => 'old' })
        ->{status}, 201, '... and through the one without copies');
    my $tag;
    for (1 .. 2) {
        $tag = $o->patch("$acc/rz", { pubSubEncryption => 'p' })
            ->{headers}{etag} // '';
    }
    my ($v) = $tag =~ /^W\/"(\d+)"$/;
    ok($v, "... its hint, version $tag");

    $redis4->stop();
    is($g->get("$acc/r1")->{status}, 503, 'Redis killed: 503');
    is($h->get("$acc/r1")->{status}, 503, '... also where a copy was kept');

    $redis4 = RHRedis->new(port => $port);
    ok(defined within(10, sub {
        $g->post($acc, { sessionKey => 'r2' })->{status} == 201 }),
       'restarted empty: the gateway reconnects and writes');
    ok(defined within(10, sub { $h->get("$acc/r1")->{status} == 404 }),
       '... the object of the old Redis is gone everywhere');
    is($h->get("$acc/r2")->{status}, 200, '... the new one is read');
    ok(status_of($g)->{backend}{reconnects} > 0, '... reconnects counted');

    ok(defined within(10, sub { $o->get("$acc/r2")->{status} == 200 }),
       '... the gateway without copies reconnects too');
    is($g->post($acc, { sessionKey => 'rz', pubSubEncryptionKey => 'new' })
        ->{status}, 201, '... the key of its hint created anew');
    $redis4->cmd('HSET', '{rh:rh}:o:1:rz', 'v', $v // 0);
    my $z = doc($o->patch("$acc/rz", { pubSubEncryption => 'q' })) // {};
    is(($z->{pubSubEncryptionKey} // '-') . ',' . ($z->{pubSubEncryption} // '-'),
       'new,q', '... its PATCH is made from the new object, not from the '
       . 'hint of the old Redis (of the same version)');

    is($redis4->cmd('SCRIPT', 'FLUSH'), 'OK', 'SCRIPT FLUSH');
    is($g->post($acc, { sessionKey => 'r3' })->{status}, 201,
       '... the scripts are loaded again (NOSCRIPT)');
    is($h->patch("$acc/r3", { pubSubEncryption => 'x' })->{status}, 200,
       '... by every gateway');

    # the copies go with the channel that keeps them true
    doc($h->get("$acc/r3")) for 1 .. 3;
    my $flushes = status_of($h)->{backend}{flushes};
    $redis4->cmd('CLIENT', 'KILL', 'TYPE', 'pubsub');
    (my $json = $h->get("$acc/r3")->{body}) =~ s/"x"/"y"/;
    $redis4->cmd('HSET', '{rh:rh}:o:1:r3', 'j', $json);
    my $d = doc($h->get("$acc/r3"));
    is($d && $d->{pubSubEncryption}, 'y',
       'invalidation connection killed: no stale copy is served');
    ok(status_of($h)->{backend}{flushes} > $flushes, '... copies dropped');
    ok(defined within(5, sub {
        my $hits = status_of($h)->{backend}{cache_hits};
        $h->get("$acc/r3") for 1 .. 2;
        status_of($h)->{backend}{cache_hits} > $hits;
    }), '... and kept again once it is back');

    ok(!grep({ /exited on signal|exited with fatal code/ }
             split /\n/, $h->read_file('error.log')),
       'no worker died (nchan loaded beside it)');
}

{
    my $redis5 = RHRedis->new(password => 's3cret');
    my $t = RHTest->new();
    open my $fh, '>', $t->dir . '/pw' or die $!;
    print $fh "s3cret\n";
    close $fh;
    open $fh, '>', $t->dir . '/bad' or die $!;
    print $fh "wrong\n";
    close $fh;

    my $g = gateway($redis5, params => 'password_file=' . $t->dir . '/pw');
    ok(ready($g), 'AUTH with password_file=');
    is($g->post($acc, { sessionKey => 'pw' })->{status}, 201, '... writes');

    my $h = gateway($redis5, params => "timeout=${T}ms password_file="
                    . $t->dir . '/bad');
    is($h->get("$acc/pw")->{status}, 503, 'a wrong password: 503');
    ok(defined within(5, sub {
        $h->read_file('error.log') =~ /refused the connection's set-up/ }),
       '... and the refusal logged');
}

done_testing();
