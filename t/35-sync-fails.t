#!/usr/bin/perl

# state= on a disk that does not confirm writes: fsync() and fdatasync()
# fail with EIO on a FUSE file system (t/fuse/failfs.c, mirroring a
# directory of the test) while a control file is there.
#
# - state_sync=on: the write whose fdatasync() failed answers 500 "takes
#   no writes until nginx is restarted", and so do the writes after it,
#   also once the disk confirms again; reads go on; after a restart
#   every acknowledged write is there and writes are taken again.
# - state= alone: a compaction whose fsync() fails is abandoned (no
#   PATH.tmp left, PATH as it was), the writes go on, and the next
#   compaction, once the disk confirms, succeeds.
#
# Mounting needs root and /dev/fuse: skipped otherwise.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use RHTest qw(json_decode);

my $failfs = "$FindBin::Bin/../build/fuse/failfs";

plan skip_all => 'mounts a FUSE file system: run as root' unless $> == 0;
plan skip_all => 'no /dev/fuse' unless -c '/dev/fuse';
plan skip_all => "$failfs is not built: run \"make test\"" unless -x $failfs;

my $set = '/beta/ExtendRemoteHelpSessionResponse';
my ($uid, $gid) = (getpwnam('nobody'))[2, 3];
my @mounts;

END {
    system('fusermount3', '-u', '-z', $_) for @mounts;
}

# a FUSE mount over BACKING, failing its syncs while CONTROL/fail-sync is
sub mount_failfs {
    my ($t) = @_;
    my ($backing, $control, $mnt) = map { $t->dir . "/$_" }
        qw(backing control disk);
    for ($backing, $control, $mnt) { mkdir $_ or die "mkdir $_: $!" }
    chown $uid, $gid, $backing;
    system($failfs, $backing, $control, $mnt,
           '-o', 'allow_other,default_permissions') == 0
        or plan skip_all => 'a FUSE mount is not allowed here';
    push @mounts, $mnt;
    # mounted once the mount point has the backing directory's owner
    for (1 .. 250) {
        last if (stat $mnt)[4] == $uid;
        select undef, undef, undef, 0.02;
    }
    is((stat $mnt)[4], $uid, 'the FUSE file system is mounted');
    return ($mnt, "$control/fail-sync");
}

sub failing {
    my ($flag, $on) = @_;
    if ($on) {
        open my $fh, '>', $flag or die "$flag: $!";
        close $fh;
    } else {
        unlink $flag or die "unlink $flag: $!";
    }
}

sub body_of { json_decode($_[0]{body}) }

# --- state_sync=on ---------------------------------------------------------

{
    my $t = RHTest->new(workers => 2);
    my ($mnt, $flag) = mount_failfs($t);

    $t->config(zone => "remote_help_zone zone=rh:8m state=$mnt/rh.state "
                       . "state_sync=on;")->start();
    ok($t->answering($set, 4), 'every worker answers');

    for my $i (1 .. 5) {
        is($t->post($set, { sessionKey => "a$i", acsHelperUserToken => "v$i" })
            ->{status}, 201, "a$i created");
    }

    failing($flag, 1);

    my $r = $t->post($set, { sessionKey => 'f1', acsHelperUserToken => 'f' });
    is($r->{status}, 500, 'the disk does not confirm: 500');
    like(body_of($r)->{error}{message} // '',
         qr/could not be written; the zone takes no writes until nginx is restarted/,
         '... the zone takes no more writes, it says');
    like($t->read_file('error.log'), qr/fdatasync\(".*rh\.state"\) failed/,
         '... the failed fdatasync() in the log');

    $r = $t->patch("$set/a1", { acsHelperUserToken => 'x' });
    is($r->{status}, 500, 'the next write: 500 too');

    failing($flag, 0);

    $r = $t->post($set, { sessionKey => 'f2' });
    is($r->{status}, 500, 'the disk confirms again: still 500 until a restart');
    is($t->delete("$set/a2")->{status}, 500, 'a DELETE too');

    for my $i (1 .. 5) {
        is(body_of($t->get("$set/a$i"))->{acsHelperUserToken}, "v$i",
           "a$i reads as acknowledged");
    }

    $t->stop();
    $t->start();
    ok($t->answering($set, 4), 'restarted: every worker answers');

    for my $i (1 .. 5) {
        is(body_of($t->get("$set/a$i"))->{acsHelperUserToken}, "v$i",
           "restarted: a$i as acknowledged");
    }
    is($t->get("$set/f2")->{status}, 404, 'a refused write is not there');
    is($t->post($set, { sessionKey => 'n1' })->{status}, 201,
       'writes are taken again');
    $t->stop();
    $t->start();
    is($t->get("$set/n1")->{status}, 200, '... and kept');
    $t->stop();
}

# --- state= alone: a compaction whose fsync() fails is abandoned ------------

{
    my $t = RHTest->new(workers => 1);
    my ($mnt, $flag) = mount_failfs($t);
    my $state = "$mnt/rh.state";

    $t->config(zone => "remote_help_zone zone=rh:8m state=$state;")->start();
    ok($t->answering($set, 2), 'state= alone: the worker answers');

    my %want;
    for my $i (1 .. 20) {
        $t->post($set, { sessionKey => "c$i", acsHelperUserToken => 'x' })
            ->{status} == 201 or die "c$i";
        $want{"c$i"} = 'x';
    }

    failing($flag, 1);

    # rounds of updates of every object (at most $rounds) until the log
    # matches $re; the values "TAG<round>" kept in %want
    my $update_until = sub {
        my ($tag, $rounds, $re) = @_;
        for my $round (1 .. $rounds) {
            for my $i (1 .. 20) {
                $t->patch("$set/c$i", { acsHelperUserToken => "$tag$round" })
                    ->{status} == 200 or die "c$i round $round";
                $want{"c$i"} = "$tag$round";
            }
            return 1 if $t->read_file('error.log') =~ $re;
        }
        return 0;
    };
    my $unlike_want = sub {
        scalar grep {
            (body_of($t->get("$set/$_"))->{acsHelperUserToken} // '')
                ne $want{$_}
        } sort keys %want;
    };

    # updates until a compaction starts, and fails at its fsync()
    ok($update_until->('r', 200,
        qr/fsync\(".*rh\.state\.tmp"\) failed, compaction abandoned/),
       'a compaction whose fsync() failed is abandoned');
    ok(!-e "$state.tmp", '... its PATH.tmp is gone');
    unlike($t->read_file('error.log'), qr/compacted to/,
           '... PATH was not replaced');

    failing($flag, 0);

    # the file grows by half before the next try
    ok($update_until->('s', 400, qr/compacted to/),
       'the disk confirms again: the next compaction succeeds');
    is($unlike_want->(), 0, 'every object as last written');

    $t->stop();
    $t->start();
    is($unlike_want->(), 0, 'restarted: every object as last written');
    $t->stop();
}

done_testing();
