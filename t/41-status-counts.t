#!/usr/bin/perl

# The status figures are what happened: a request whose client went away
# before any response is not counted as an error status (it is nginx's
# 499), and every response sent during a storm of reloads that resize the
# zone is counted, also those of old workers after the copy (404s, and
# the 503s of writes to the retired zone).

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use IO::Socket::INET;
use Time::HiRes qw(time sleep);
use POSIX ();
use RHTest qw(json_decode json_encode);

my $ext = '/beta/ExtendRemoteHelpSessionResponse';
my $ret = '/beta/RemoteHelpSessionRetrieveResponse';

my $t = RHTest->new(workers => 2);

sub conf {
    my ($size) = @_;
    $t->config(zone => "remote_help_zone zone=rh:$size;",
        server => 'location /beta/ { remote_help rh; }
            location = /status { remote_help_status rh; }');
}

sub requests { json_decode($t->get('/status')->{body})->{requests} }

conf('8m');
$t->start();
$t->wait_workers(2);

# --- aborted requests --------------------------------------------------------

my $aborted = 2000;
my $sent = 0;
my $head = "POST $ext HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer t\r\n"
    . "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"sessionKey\":";

for (1 .. $aborted) {
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $t->port,
        Proto => 'tcp') or next;
    print $s $head;
    close $s;
    $sent++;
}
is($sent, $aborted, "$aborted POSTs sent a part of their body and went away");

# nginx finds each closed connection on its own time: poll, bounded
my $deadline = time() + 20;
my $req = requests();
while (($req->{499} // 0) < $aborted && time() < $deadline) {
    sleep 0.05;
    $req = requests();
}
is($req->{499} // 0, $aborted, 'each aborted request is counted as 499');
ok(!exists $req->{400}, 'none is counted as 400, which no client got')
    or diag explain $req;

# --- a storm of resizing reloads ------------------------------------------

is($t->post($ret, { sessionKey => 'there' })->{status}, 201, 'the key the POSTs hit');
my $before = requests();

my $stop = $t->dir . '/stop';
my $clients = 4;

my @kids;
for my $c (1 .. $clients) {
    my $pid = fork() // die "fork: $!";
    if ($pid == 0) {
        my %got;
        my $end = time() + 60;
        my $body = json_encode({ sessionKey => 'there' });
        my $i = 0;

        while (!-e $stop && time() < $end) {
            my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                PeerPort => $t->port, Proto => 'tcp');
            if (!$s) { $got{connect}++; next; }
            if ($i++ % 2) {
                print $s "GET $ret/missing-$c HTTP/1.1\r\nHost: localhost\r\n"
                    . "Authorization: Bearer t\r\nConnection: close\r\n\r\n";
            } else {
                print $s "POST $ret HTTP/1.1\r\nHost: localhost\r\n"
                    . "Authorization: Bearer t\r\nContent-Type: application/json\r\n"
                    . 'Content-Length: ' . length($body)
                    . "\r\nConnection: close\r\n\r\n$body";
            }
            my $line = <$s>;
            if (defined $line && $line =~ m{^HTTP/1\.1 (\d{3}) }) {
                $got{$1}++;
                local $/;
                my $rest = <$s>;
            } else {
                $got{broken}++;
            }
            close $s;
        }

        open my $fh, '>', $t->dir . "/counts.$c" or POSIX::_exit(1);
        print $fh json_encode(\%got);
        close $fh;
        POSIX::_exit(0);
    }
    push @kids, $pid;
}

# the clients are under way: resize back and forth
my $reloads = 0;
sleep 0.2;
for my $i (1 .. 12) {
    conf($i % 2 ? '9m' : '8m');
    $reloads++ if $t->reload();
    sleep 0.05;
}
is($reloads, 12, '12 reloads, each resizing the zone');

open my $fh, '>', $stop or die "$stop: $!";
close $fh;

my $failed = 0;
for my $pid (@kids) {
    waitpid($pid, 0);
    $failed++ if $? != 0;
}
is($failed, 0, 'every client wrote its counts');

my %sum;
for my $c (1 .. $clients) {
    my $got = json_decode($t->read_file("counts.$c"));
    $sum{$_} += $got->{$_} for keys %$got;
}
ok(!$sum{connect} && !$sum{broken}, 'every request got a response')
    or diag explain \%sum;
cmp_ok($sum{404} // 0, '>', 100, 'the clients got 404s');
cmp_ok(($sum{409} // 0) + ($sum{503} // 0), '>', 100, 'and 409s or 503s');
diag("answered: " . join(', ', map { "$_: $sum{$_}" } sort keys %sum));

# a worker counts a response in its log phase, after the last byte is
# sent: under valgrind a slow (old) worker may count the last ones a
# moment after the client read them; polled until they are all in
my $after;
$deadline = time() + 10;
while (1) {
    $after = requests();
    last if time() > $deadline
        || !grep { (($after->{$_} // 0) - ($before->{$_} // 0)) != $sum{$_} }
                keys %sum;
    sleep 0.05;
}
for my $status (sort keys %sum) {
    is(($after->{$status} // 0) - ($before->{$status} // 0), $sum{$status},
        "every $status answered during the reloads is counted");
}
is(json_decode($t->get('/status')->{body})->{size}, 8 * 1024 * 1024,
    'the zone has its last size');

$t->stop();

done_testing();
