#!/usr/bin/perl

# state= on a full disk (a tmpfs of 256 KB the test mounts and fills): a
# write whose record cannot be written answers 500 and leaves the zone as
# it was (a POST's object is not there, a PATCH's old version is, a
# DELETE's object stays, also for writes made together in one turn);
# reads go on; once space is back the zone takes writes again without a
# restart; after a restart the zone holds exactly what was acknowledged.
# Mounting needs root: skipped otherwise.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use POSIX ();
use Test::More;
use RHTest qw(json_decode);

plan skip_all => 'mounts a tmpfs: run as root' unless $> == 0;

my @mounts;
END { system('umount', '-l', $_) for @mounts; }

my $set = '/beta/ExtendRemoteHelpSessionResponse';
sub body_of { json_decode($_[0]{body}) }

for my $extra ('', 'state_sync=on') {
    note("--- state= $extra");
    round($extra);
}

sub round {
my ($extra) = @_;
my $t = RHTest->new(workers => 2);
my $mnt = $t->dir . '/disk';
mkdir $mnt or die "mkdir $mnt: $!";

system('mount', '-t', 'tmpfs', '-o', 'size=256k,mode=0777', 'tmpfs', $mnt) == 0
    or plan skip_all => 'mount -t tmpfs is not allowed here';
push @mounts, $mnt;

$t->config(zone => "remote_help_zone zone=rh:8m state=$mnt/rh.state $extra;")
    ->start();
$t->answering($set, 4) or die 'not answering';

my $token_of = sub { body_of($t->get("$set/$_[0]"))->{acsHelperUserToken} };

for my $i (1 .. 5) {
    is($t->post($set, { sessionKey => "a$i", acsHelperUserToken => "v$i" })
        ->{status}, 201, "a$i created");
}
# throwaway objects whose deletions, small records, use up what space a
# larger record left
for my $i (1 .. 40) {
    $t->post($set, { sessionKey => "t$i" })->{status} == 201 or die "t$i";
}
for my $i (1 .. 8) {
    $t->post($set, { sessionKey => "b$i", acsHelperUserToken => 'b' })
        ->{status} == 201 or die "b$i";
}
my $r = $t->patch("$set/a1", { acsHelperUserToken => 'x1' });
is($r->{status}, 200, 'a1 updated');
my $etag = $r->{headers}{etag};

# --- the disk full ---------------------------------------------------------

open my $fill, '>', "$mnt/filler" or die "$mnt/filler: $!";
binmode $fill;
my $block = 'f' x 4096;
my $filled = 0;
while (syswrite($fill, $block)) { $filled += 4096; }
close $fill;
ok($filled > 100_000, "the disk filled ($filled bytes of filler)");

# the state file's last page still takes records: writes go on until
# it is full (each acknowledged, and kept in the model)
my @pads;
for my $i (1 .. 50) {
    $r = $t->post($set, { sessionKey => 'n1', acsHelperUserToken => 'new' });
    last if $r->{status} != 201;
    is($t->delete("$set/n1")->{status}, 204, "pad $i: in the file's last page");
    push @pads, $i;
}
is($r->{status}, 500, 'POST on a full disk: 500 (after ' . scalar(@pads)
    . ' writes the last page took)');
like(body_of($r)->{error}{message}, qr/could not be written \(is its disk full\?\); nothing was changed/,
    '500: the message says nothing changed');
is($t->get("$set/n1")->{status}, 404, "the POST's object is not there");

$r = $t->patch("$set/a1", { acsHelperUserToken => 'lost' });
is($r->{status}, 500, 'PATCH on a full disk: 500');
$r = $t->get("$set/a1");
is(body_of($r)->{acsHelperUserToken}, 'x1', "the PATCH's old version is there");
is($r->{headers}{etag}, $etag, 'with its ETag');

my $gone = 0;
for my $i (1 .. 40) {
    last if $t->delete("$set/t$i")->{status} != 204;
    $gone = $i;
}
ok($gone < 40, "deletions until the file's last bytes are taken ($gone)");
is($t->delete("$set/a2")->{status}, 500, 'DELETE on a full disk: 500');
is($t->get("$set/a2")->{status}, 200, "the DELETE's object stays");

# a PATCH that grows the object (a new chunk in the zone), undone
$r = $t->patch("$set/a3", { acsHelperUserToken => 'g' x 5000 });
is($r->{status}, 500, 'a growing PATCH on a full disk: 500');
is($token_of->('a3'), 'v3', 'its old version is back');

# several writes at once, which may share a batch (each of its own key:
# writes of one key by two workers at once on a full disk, one made over
# the other before either is undone, stop the zone's writes until a
# restart, docs/durability.md)
my @pids;
for my $i (1 .. 8) {
    my $pid = fork() // die "fork: $!";
    if ($pid == 0) {
        my $s = $t->post($set, { sessionKey => "m$i" })->{status};
        my $p = $t->patch("$set/b$i", { acsHelperUserToken => "m$i" })->{status};
        # no END blocks, no destructors: the parent's mount and nginx stay
        POSIX::_exit(($s == 500 && $p == 500) ? 0 : 1);
    }
    push @pids, $pid;
}
my $all500 = 0;
for my $pid (@pids) {
    waitpid($pid, 0);
    $all500++ if $? == 0;
}
is($all500, 8, 'eight clients writing at once: every write 500');
is(scalar(grep { $t->get("$set/m$_")->{status} == 404 } 1 .. 8), 8,
    'none of their objects is there');
is(scalar(grep { $token_of->("b$_") eq 'b' } 1 .. 8), 8,
    'the objects they updated as they were');

my @left = map { "t$_" } $gone + 1 .. 40;
my ($list) = $t->list_all($set);
is(join(',', map { $_->{sessionKey} . '=' . ($_->{acsHelperUserToken} // '') } @$list),
    join(',', 'a1=x1,a2=v2,a3=v3,a4=v4,a5=v5', map({ "$_=" } @left),
         map { "b$_=b" } 1 .. 8),
    'the listing: the acknowledged objects, in order');
is($t->get("$set/a5")->{status}, 200, 'reads go on');

# --- space back: writes again, without a restart --------------------------

unlink "$mnt/filler" or die $!;
$r = $t->post($set, { sessionKey => 'n2', acsHelperUserToken => 'back' });
is($r->{status}, 201, 'space back: POST 201 without a restart');
is($t->patch("$set/a1", { acsHelperUserToken => 'y1' })->{status}, 200,
    'space back: PATCH 200');
is($t->delete("$set/a5")->{status}, 204, 'space back: DELETE 204');

# --- after a restart: what was acknowledged, nothing else -----------------

$t->stop();
$t->start();
$t->answering("$set/a1", 4);

($list) = $t->list_all($set);
is(join(',', map { $_->{sessionKey} . '=' . ($_->{acsHelperUserToken} // '') } @$list),
    join(',', 'a1=y1,a2=v2,a3=v3,a4=v4', map({ "$_=" } @left),
         map({ "b$_=b" } 1 .. 8), 'n2=back'),
    'after a restart: every acknowledged write, and none that got 500');

my $log = $t->read_file('error.log');
like($log, qr/writev\(\) to state file "[^"]+" failed, the writes of remote_help_zone "rh" it held are undone \(28: No space left on device\)/,
    'the log says the writes were undone');
unlike($log, qr/takes no writes until nginx is restarted/,
    'the zone never stopped taking writes');
unlike($log, qr/is damaged|cut short|exited on signal/, 'the file was whole at the start');

$t->stop();
}

done_testing();
