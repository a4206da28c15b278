#!/usr/bin/perl

# kill -9 of master and workers while clients POST, PATCH and DELETE
# (and the state file is compacted under them; in round 3 with
# state_sync=on, fdatasync()s running in the thread pool): after a
# start, every key has the value of its last acknowledged write, or of
# the one write that was in flight when the server died; nothing else is
# there.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use IO::Handle;
use POSIX ();
use RHTest qw(json_decode);

my $set = '/beta/RemoteHelpSessionRetrieveResponse';
my $clients = 4;
my ($uid, $gid) = (getpwnam('nobody'))[2, 3];

for my $round (1 .. 3) {
    my $t = RHTest->new(workers => 2);
    my $dir = $t->dir . '/state';
    mkdir $dir or die $!;
    chown $uid, $gid, $dir if $> == 0;
    my $state = "$dir/rh.state";
    my $sync = $round == 3 ? ' state_sync=on' : '';
    $t->config(zone => "remote_help_zone zone=rh:16m state=$state$sync;")
        ->start();
    $t->wait_workers(2);

    # both workers answering: the clients stop at an unanswered request
    $t->answering("$set/warm-up") or die "the workers do not answer";

    # each client works on its own keys and logs "try" before a request
    # and "ack" after its 2xx
    my @kids = map { $t->writer($set, "$dir/client$_.log", "c$_") } 1 .. $clients;

    # let them write until the file was compacted at least once (round 1)
    # or for a while (round 2), then kill everything
    my $acks = sub {
        my $n = 0;
        for my $c (1 .. $clients) {
            open my $fh, '<', "$dir/client$c.log" or next;
            $n += grep { /^ack/ } <$fh>;
        }
        return $n;
    };

    my $deadline = time() + 60;
    while (time() < $deadline) {
        last if $round == 1 && $t->read_file('error.log') =~ /compacted to/
            && $acks->() > 3000;
        last if $round >= 2 && $acks->() > 1500;
        select undef, undef, undef, 0.05;
    }

    ok($t->crash(), "round $round: kill -9 of master and workers under load");
    waitpid($_, 0) for @kids;

    # what each key may be: after its last ack, or after the write in flight
    my (%acked, %inflight, $errors, $total);
    for my $c (1 .. $clients) {
        open my $fh, '<', "$dir/client$c.log" or die $!;
        my @lines = <$fh>;
        my %tried;
        for (@lines) {
            my ($what, $key, $value) = split;
            if ($what eq 'try') {
                %tried = ($key => $value);
            } elsif ($what eq 'ack') {
                $acked{$key} = $value;
                %tried = ();
                $total++;
            } else {
                $errors++;
                %tried = ();
            }
        }
        %inflight = (%inflight, %tried);
    }

    cmp_ok($total, '>', 500, "round $round: $total writes acknowledged");
    is($errors // 0, 0, "round $round: no write got an error");

    $t->start();

    # an unanswered GET would read as a missing object
    $t->answering("$set/warm-up") or die "the workers do not answer";

    my $bad = 0;
    my %seen = (%acked, map { $_ => 1 } keys %inflight);
    my $present = 0;
    for my $key (keys %seen) {
        my $r = $t->get("$set/$key");
        my $now = $r->{status} == 200 ? json_decode($r->{body})->{deviceName} : '-';
        $present++ if $r->{status} == 200;
        my @ok = ($acked{$key} // '-');
        push @ok, $inflight{$key} if exists $inflight{$key};
        next if grep { $_ eq $now } @ok;
        $bad++;
        diag "$key is '$now', expected one of @ok" if $bad <= 5;
    }
    is($bad, 0, "round $round: every key as acknowledged (" . scalar(keys %seen)
        . ' keys)');

    my ($objects) = $t->list_all($set);
    is(scalar @$objects, $present, "round $round: no other object");

    like($t->read_file('error.log'), qr/objects restored from state file/,
        "round $round: restored");

    $t->stop();
}

done_testing();
