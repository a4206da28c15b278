#!/usr/bin/perl

# A worker killed at any moment never stops the others (SPEC section 7):
# under wrk's POST and PATCH load, one worker at a time is killed with -9
# every 0.3 s, 60 times a round; a probe that asks for the status every
# 20 ms must never wait 2 s for an answer; afterwards every key a client
# wrote reads as its last acknowledged write (or a write whose client got
# no answer), a listing holds each object once, and with state= (PATCH
# heavy, so that the file is compacted under the kills) a restart keeps
# every acknowledged write.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use IO::Handle;
use POSIX ();
use Time::HiRes qw(time sleep);
use RHTest qw(json_decode);

my $WRK = '/usr/bin/wrk';
plan skip_all => "no $WRK (make test installs it)" unless -x $WRK;
plan skip_all => 'not under valgrind: the load is the point'
    if $ENV{RH_VALGRIND};

my $set = '/beta/RemoteHelpSessionRetrieveResponse';
my $lua = RHTest::root() . '/bench/wrk/remote_help.lua';
my ($uid, $gid) = (getpwnam('nobody'))[2, 3];
my $KILLS = $ENV{RH_KILLS} // 60;

sub background {
    my (@cmd) = @_;
    my $pid = fork() // die "fork: $!";
    if ($pid == 0) {
        open STDOUT, '>', '/dev/null';
        open STDERR, '>', '/dev/null';
        { exec @cmd; }
        POSIX::_exit(127);
    }
    return $pid;
}

# asks for the status every 20 ms; writes the longest time without an
# answer
sub probe {
    my ($t, $out, $stop) = @_;
    my $pid = fork() // die "fork: $!";
    return $pid if $pid;

    my $last = time();
    my $gap = 0;
    my $end = time() + 120;
    while (!-e $stop && time() < $end) {
        my $r = eval { $t->get('/status') };
        my $now = time();
        if ($r && ($r->{status} // 0) == 200) {
            $gap = $now - $last if $now - $last > $gap;
            $last = $now;
        }
        sleep 0.02;
    }
    my $now = time();
    $gap = $now - $last if $now - $last > $gap;
    open my $fh, '>', $out or POSIX::_exit(2);
    print $fh $gap;
    close $fh;
    POSIX::_exit(0);
}

# what each key may be now: its last acknowledged value ("-": absent),
# or a value written after it whose client got no answer
sub allowed {
    my ($dir, $n) = @_;
    my (%acked, %maybe, $acks);
    for my $c (1 .. $n) {
        open my $fh, '<', "$dir/writer$c.log" or die "$dir/writer$c.log: $!";
        for (<$fh>) {
            my ($what, $key, $value) = split;
            next unless defined $value;
            if ($what eq 'ack') {
                $acked{$key} = $value;
                $maybe{$key} = {};
                $acks++;
            } elsif ($what eq 'lost') {
                $maybe{$key}{$value} = 1;
            }
        }
    }
    my %allowed;
    for my $key (keys %acked, keys %maybe) {
        $allowed{$key} = { ($acked{$key} // '-') => 1, %{ $maybe{$key} // {} } };
    }
    return (\%allowed, $acks // 0);
}

sub check_keys {
    my ($t, $allowed, $name) = @_;
    my ($bad, $present) = (0, 0);
    for my $key (sort keys %$allowed) {
        my $r = $t->get("$set/$key");
        my $now = ($r->{status} // 0) == 200
            ? json_decode($r->{body})->{deviceName}
            : ($r->{status} // 0) == 404 ? '-' : "status " . ($r->{status} // 'none');
        $present++ if $now ne '-' && $now !~ /^status/;
        next if $allowed->{$key}{$now};
        $bad++;
        diag "$name: $key is '$now', expected one of "
            . join(' ', sort keys %{ $allowed->{$key} }) if $bad <= 5;
    }
    is($bad, 0, "$name: every written key as acknowledged ("
        . scalar(keys %$allowed) . ' keys)');
    return $present;
}

sub check_listing {
    my ($t, $name) = @_;
    my ($objects) = eval { $t->list_all($set) };
    ok($objects, "$name: the listing is answered") or return;
    my %n;
    $n{ $_->{sessionKey} }++ for @$objects;
    my @twice = grep { $n{$_} > 1 } keys %n;
    is(scalar @twice, 0, "$name: each object listed once ("
        . scalar(@$objects) . ' objects)');
    my $status = json_decode($t->get('/status')->{body});
    is($status->{objects}{RemoteHelpSessionRetrieveResponse}, scalar @$objects,
        "$name: the status counts what is listed");
    my $unreadable = grep { ($t->get("$set/" . RHTest::uri_escape($_))->{status} // 0) != 200 }
        keys %n;
    is($unreadable, 0, "$name: every listed object is readable");
}

for my $round (1 .. 4) {
    my $state = $round > 2;
    my $name = ($state ? 'state=' : 'zone') . " round $round";

    my $t = RHTest->new(workers => 2);
    my $dir = $t->dir . '/work';
    mkdir $dir or die $!;
    chown $uid, $gid, $dir if $> == 0;
    my $zone = 'remote_help_zone zone=rh:32m'
        . ($state ? " state=$dir/rh.state" : '') . ';';
    $t->config(zone => $zone,
        server => 'location /beta/ { remote_help rh; }
            location = /status { remote_help_status rh; }')->start();
    $t->wait_workers(2);

    my $url = 'http://127.0.0.1:' . $t->port;
    my $nkeys = 2000;

    # the keys PATCH works on
    system("$WRK -t1 -c8 -d1s -s $lua $url -- load $nkeys r$round >/dev/null 2>&1");

    my $stop = "$dir/stop";
    my @load = (
        background($WRK, '-t1', '-c16', '-d60s', '-s', $lua, $url, '--',
            $state ? 'patch' : 'post', $nkeys, "r$round"),
        background($WRK, '-t1', '-c16', '-d60s', '-s', $lua, $url, '--',
            'patch', $nkeys, "r$round"),
    );
    my @kids = map { $t->writer($set, "$dir/writer$_.log", "w$_",
        delete => 3, go_on => 1, stop => $stop) } 1 .. 2;
    push @kids, probe($t, "$dir/gap", $stop);

    my $killed = 0;
    sleep 0.5;
    for (1 .. $KILLS) {
        my @w = $t->workers();
        if (@w) {
            $killed++ if kill 'KILL', $w[int rand @w];
        }
        sleep 0.3;
    }

    # a second more of load with no kill, then stop
    sleep 1;
    kill 'KILL', @load;
    waitpid($_, 0) for @load;
    open my $fh, '>', $stop or die $!;
    close $fh;
    waitpid($_, 0) for @kids;

    is($killed, $KILLS, "$name: $KILLS workers killed under load");
    my $gap = $t->read_file('work/gap');
    ok($gap ne '' && $gap < 2, "$name: the longest wait for an answer was "
        . sprintf('%.2f', $gap || 99) . ' s');

    # a wedged server answers nothing: the checks below would only time out
    my $r = $t->get('/status');
    if (!ok(($r->{status} // 0) == 200, "$name: the status is answered")) {
        $t->crash();
        next;
    }

    my ($allowed, $acks) = allowed($dir, 2);
    cmp_ok($acks, '>', 100, "$name: $acks writes acknowledged");
    my $present = check_keys($t, $allowed, $name);
    check_listing($t, $name);

    my $log = $t->read_file('error.log');
    my @alerts = $log =~ /^.*\[alert\].*remote_help.*$/mg;
    diag("$name: " . scalar(@alerts) . ' alerts of the module; first: '
        . ($alerts[0] // 'none'));
    unlike($log, qr/\[(emerg|crit)\]/, "$name: no emerg or crit in the log");

    if ($state) {
        like($log, qr/compacted to/, "$name: the state file was compacted")
            if $round == 4;

        # every acknowledged write survives a restart
        ok($t->stop(), "$name: graceful stop");
        $t->start();
        check_keys($t, $allowed, "$name after a restart");
        check_listing($t, "$name after a restart");
    }

    $t->stop() or $t->crash();
}

done_testing();
