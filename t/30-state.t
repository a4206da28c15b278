#!/usr/bin/perl

# remote_help_zone ... state=PATH: objects survive a graceful stop and
# start, reloads with and without a resize; a torn last record is dropped
# with a warning, damage elsewhere stops nginx naming file and offset; a
# state directory the workers cannot write is an error at nginx -t; a full
# zone answers 507 and leaves nothing in the file; state= cannot change on
# reload.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use RHTest qw(json_decode);
use Compress::Zlib qw(crc32);

my $set = '/beta/RemoteHelpSessionRetrieveResponse';
my ($uid, $gid) = (getpwnam('nobody'))[2, 3];

# a server with a state directory its workers (nobody) can write
sub server {
    my (%opts) = @_;
    my $t = RHTest->new(workers => $opts{workers} // 2);
    my $dir = $t->dir . '/state';
    mkdir $dir or die "mkdir $dir: $!";
    chown $uid, $gid, $dir if $> == 0;
    $t->{state} = "$dir/rh.state";
    $t->config(zone => zone($t, $opts{size} // '8m', $opts{extra} // ''));
    return $t;
}

sub zone {
    my ($t, $size, $extra) = @_;
    return "remote_help_zone zone=rh:$size state=$t->{state} $extra;";
}

# CRC-32C, as the records of version 4 carry it (reflected 0x82f63b78)
my @crc32c = map {
    my $c = $_;
    $c = ($c & 1) ? (($c >> 1) ^ 0x82f63b78) : ($c >> 1) for 1 .. 8;
    $c;
} 0 .. 255;

sub crc32c {
    my $c = 0xffffffff;
    $c = $crc32c[($c ^ $_) & 0xff] ^ ($c >> 8) for unpack 'C*', $_[0];
    return $c ^ 0xffffffff;
}

# which checksum each record carries: 'c' (CRC-32C), 'z' (zlib's CRC-32)
sub kinds {
    my ($data) = @_;
    my ($off, $kinds) = (16, '');
    while ($off + 12 <= length $data) {
        my ($len, $crc, $hcrc) = unpack('VVV', substr($data, $off, 12));
        my $rec = substr($data, $off + 12, $len);
        $kinds .= ($crc == crc32c($rec) && $hcrc == crc32c(pack 'VV', $len, $crc))
            ? 'c'
            : ($crc == crc32($rec) && $hcrc == crc32(pack 'VV', $len, $crc))
            ? 'z' : '?';
        $off += 12 + $len;
    }
    return $kinds;
}

# the state file's records: [offset, total length]
sub records {
    my ($file) = @_;
    open my $fh, '<:raw', $file or die "$file: $!";
    local $/;
    my $data = <$fh>;
    close $fh;
    my @r;
    my $off = 16;
    while ($off + 12 <= length $data) {
        my $len = unpack('V', substr($data, $off, 4));
        push @r, [$off, 12 + $len];
        $off += 12 + $len;
    }
    return @r;
}

sub count {
    my ($t) = @_;
    my ($objects) = $t->list_all($set);
    return scalar @$objects;
}

# --- stop and start, reload, resize, crash ---------------------------------

{
    my $t = server();
    $t->start();

    my %want = $t->fill($set, 200, 'k');

    for my $i (1 .. 50) {
        is($t->patch("$set/k$i", { deviceName => "p$i" })->{status}, 200,
            "PATCH k$i") if $i == 1;
        $t->patch("$set/k$i", { deviceName => "p$i" });
        $want{"k$i"} = "p$i";
    }
    for my $i (51 .. 60) {
        $t->delete("$set/k$i")->{status} == 204 or die "DELETE k$i";
        delete $want{"k$i"};
    }

    ok(-s $t->{state} > 16, 'the state file holds records');

    ok($t->stop(), 'graceful stop');
    $t->start();
    is($t->unreadable($set, 'deviceName', %want), 0,
        'after stop and start: every object with its last value');
    is(count($t), 190, 'and nothing else (deleted ones stay deleted)');
    like($t->read_file('error.log'),
        qr/remote_help_zone "rh": 190 objects restored from state file/,
        'the restore is logged');

    ok($t->reload(), 'reload');
    $t->post($set, { sessionKey => 'after-reload', deviceName => 'r' });
    $want{'after-reload'} = 'r';
    is($t->unreadable($set, 'deviceName', %want), 0, 'after a reload');

    $t->config(zone => zone($t, '16m', ''));
    ok($t->reload(), 'reload with the zone resized');
    $t->post($set, { sessionKey => 'after-resize', deviceName => 's' });
    $want{'after-resize'} = 's';
    is($t->unreadable($set, 'deviceName', %want), 0, 'after a resize');

    $t->config(zone => 'remote_help_zone zone=rh:16m;');
    kill 'HUP', $t->pid;
    my $refused = 0;
    for (1 .. 500) {
        last if $refused = $t->read_file('error.log')
            =~ /the state= of remote_help_zone "rh" cannot change on reload/;
        sleep 0.02;
    }
    ok($refused, 'a reload that drops state= is refused');
    $t->config(zone => zone($t, '16m', ''));
    is($t->get("$set/after-resize")->{status}, 200, 'the old workers go on');

    ok($t->crash(), 'kill -9 of master and workers');
    $t->start();
    is($t->unreadable($set, 'deviceName', %want), 0, 'after kill -9');
    is(count($t), scalar keys %want, 'and nothing else');
    $t->stop();
}

# --- the order of the records does not matter: the highest seq wins -------

{
    my $t = server(workers => 1);
    $t->start();
    my %want = $t->fill($set, 30, 'o');
    for my $i (1 .. 10) {
        $t->patch("$set/o$i", { deviceName => "p$i" });
        $want{"o$i"} = "p$i";
    }
    for my $i (11 .. 20) {
        $t->delete("$set/o$i");
        delete $want{"o$i"};
    }
    for my $i (15 .. 17) {
        $t->post($set, { sessionKey => "o$i", deviceName => "again$i" });
        $want{"o$i"} = "again$i";
    }
    $t->stop();

    # the same records, last first
    open my $in, '<:raw', $t->{state} or die $!;
    my $data = do { local $/; <$in> };
    close $in;
    my @r = records($t->{state});
    my $reversed = substr($data, 0, 16)
        . join('', map { substr($data, $_->[0], $_->[1]) } reverse @r);
    is(length $reversed, length $data, 'reversed: same size');
    open my $out, '>:raw', $t->{state} or die $!;
    print $out $reversed;
    close $out;

    $t->start();
    is($t->unreadable($set, 'deviceName', %want), 0,
        'records in reverse order: every key at its last version');
    is(count($t), scalar keys %want, 'deleted keys stay deleted');
    $t->stop();
}

# --- a torn last record is dropped, damage elsewhere stops nginx -----------

{
    my $t = server(workers => 1);
    $t->start();
    my %want = $t->fill($set, 10, 't');
    $t->stop();

    my @r = records($t->{state});
    is(scalar @r, 10, 'ten records');
    my $size = -s $t->{state};

    # crash mid-write: the last record cut short
    truncate $t->{state}, $size - 7 or die $!;
    $t->start();
    delete $want{t10};
    is($t->unreadable($set, 'deviceName', %want), 0, 'torn tail: the rest is there');
    is($t->get("$set/t10")->{status}, 404, 'the torn record is dropped');
    like($t->read_file('error.log'),
        qr/\[warn\].*state file "\Q$t->{state}\E" ends with a record cut short at offset $r[9][0]/,
        'with a warning naming the offset');
    is(-s $t->{state}, $r[9][0], 'the file is cut back to its last whole record');

    # writes after it are kept
    $t->post($set, { sessionKey => 't10', deviceName => 'again' });
    $want{t10} = 'again';
    $t->stop();

    # zeroes where the last write should be (the size grew, the data not)
    open my $fh, '>>:raw', $t->{state} or die $!;
    print $fh "\0" x 300;
    close $fh;
    $t->start();
    is($t->unreadable($set, 'deviceName', %want), 0, 'zeroed tail: all there');
    like($t->read_file('error.log'), qr/ends with zeroes at offset/,
        'the zeroes are reported');
    $t->stop();

    # a flipped byte in a record that is not the last
    @r = records($t->{state});
    my $victim = $r[3][0];
    my $saved = do { local $/; open my $in, '<:raw', $t->{state}; <$in> };
    open $fh, '+<:raw', $t->{state} or die $!;
    seek $fh, $victim + 40, 0;
    print $fh 'X';
    close $fh;

    my ($rc, $out) = $t->test_config();
    isnt($rc, 0, 'nginx -t fails on a damaged state file');
    like($out, qr/state file "\Q$t->{state}\E" is damaged at offset $victim: a record with a bad checksum/,
        'naming the file and the offset');
    ok(!eval { $t->start(); 1 }, 'nginx does not start');
    like($@, qr/is damaged at offset $victim/, 'and says why');

    # a bad length in the middle is damage too, not a torn tail
    open $fh, '>:raw', $t->{state} or die $!;
    print $fh $saved;
    close $fh;
    open $fh, '+<:raw', $t->{state} or die $!;
    seek $fh, $r[2][0], 0;
    print $fh pack('V', 1_000_000);
    close $fh;
    ($rc, $out) = $t->test_config();
    like($out, qr/is damaged at offset $r[2][0]: a bad record header/,
        'a bad length in the middle: damage at its offset');

    # not a state file at all
    open $fh, '>:raw', $t->{state} or die $!;
    print $fh "this is not a state file\n";
    close $fh;
    ($rc, $out) = $t->test_config();
    like($out, qr/is not a remote_help state file/, 'a foreign file is refused');

    # the good file back: it starts again
    open $fh, '>:raw', $t->{state} or die $!;
    print $fh $saved;
    close $fh;
    ($rc, $out) = $t->test_config();
    is($rc, 0, 'the file restored from a backup: nginx -t is fine') or diag $out;
}

# --- a state directory that cannot be written ------------------------------

{
    my $t = RHTest->new();
    my $dir = $t->dir . '/locked';
    mkdir $dir or die $!;
    chmod 0755, $dir;
    $t->config(zone => "remote_help_zone zone=rh:8m state=$dir/rh.state;");

  SKIP: {
        skip 'workers run as this user when not root', 2 unless $> == 0;
        my ($rc, $out) = $t->test_config();
        isnt($rc, 0, 'nginx -t fails when the workers cannot write the directory');
        like($out, qr/state directory "\Q$dir\E" of remote_help_zone "rh" is not writable by user "nobody"/,
            'naming the directory and the user');
    }

    $t->config(zone => "remote_help_zone zone=rh:8m state=$dir/none/rh.state;");
    my ($rc, $out) = $t->test_config();
    isnt($rc, 0, 'nginx -t fails for a directory that does not exist');
    like($out, qr{state directory "\Q$dir\E/none" is not usable}, 'naming it');

    $t->config(zone => "remote_help_zone zone=rh:8m state_sync=on;");
    ($rc, $out) = $t->test_config();
    like($out, qr/"state_sync" needs "state"/, 'state_sync without state');

    $t->config(zone => "remote_help_zone zone=rh:8m state=$dir/a;\n"
        . "remote_help_zone zone=rh2:8m state=$dir/a;");
    ($rc, $out) = $t->test_config();
    like($out, qr/state file "\Q$dir\E\/a" is already used by remote_help_zone "rh"/,
        'two zones cannot share a file');
}

# --- the zone full: 507, and nothing in the file ---------------------------

{
    my $t = server(workers => 1, size => '64k');
    $t->start();

    my (%want, $full);
    for my $i (1 .. 1000) {
        my $r = $t->post($set, { sessionKey => "f$i", deviceName => 'x' x 200 });
        if ($r->{status} == 507) {
            $full = "f$i";
            last;
        }
        $want{"f$i"} = 'x' x 200;
    }
    ok($full, 'the zone fills up: 507');
    my $size = -s $t->{state};
    is($t->post($set, { sessionKey => 'more', deviceName => 'y' x 300 })->{status},
        507, 'another 507');
    is(-s $t->{state}, $size, 'a refused write adds nothing to the file');

    $t->stop();
    $t->start();
    is($t->unreadable($set, 'deviceName', %want), 0, 'restart: the stored ones');
    is($t->get("$set/$full")->{status}, 404, 'the refused one is not there');
    $t->stop();
}

# --- state_sync=on, and compaction keeps the file bounded ------------------

{
    my $t = server(extra => 'state_sync=on');
    $t->start();
    ok($t->answering("$set/none"), 'state_sync=on: every worker answers');
    my %want = $t->fill($set, 20, 's');

    # objects of another set too, with an empty set between: the
    # compaction goes through the sets one after another
    my $ext = '/beta/ExtendRemoteHelpSessionResponse';
    my %ext = map { ("e$_" => "x$_") } 1 .. 5;
    $t->post($ext, { sessionKey => $_, acsHelperUserToken => $ext{$_} })
        ->{status} == 201 or die "create $_ failed" for sort keys %ext;

    # ~400 bytes a record: 1,000 updates write ~400k, the live data is ~8k
    for my $round (1 .. 50) {
        for my $i (1 .. 20) {
            $t->patch("$set/s$i", { deviceName => "r$round-$i" });
            $want{"s$i"} = "r$round-$i";
        }
    }

    my $compacted = 0;
    for (1 .. 500) {
        last if $compacted = () = $t->read_file('error.log') =~ /compacted to/g;
        sleep 0.02;
    }
    ok($compacted, 'the state file was compacted');
    cmp_ok(-s $t->{state}, '<', 4 * 20 * 420 + 64 * 1024 + 2000,
        'it stays under 4 x the live data + 64k');
    ok(!-e "$t->{state}.tmp", 'no temp file is left');

    is($t->unreadable($set, 'deviceName', %want), 0, 'all values after compactions');
    $t->stop();
    $t->start();
    ok($t->answering("$set/none"), 'restarted: every worker answers');
    is($t->unreadable($set, 'deviceName', %want), 0, 'and after a restart');
    is($t->unreadable($ext, 'acsHelperUserToken', %ext), 0,
        'the other set after a restart');
    is(count($t), 20, 'nothing else');
    $t->stop();
}

# --- the end of a compaction (fsync() of the new file, its rename, the
# directory's fsync()) is made by nginx's thread pool, not by a worker's
# event loop: strace, attached to every thread of both workers, names the
# thread of each call ---------------------------------------------------

SKIP: {
    my $strace = (grep { -x } qw(/usr/bin/strace /bin/strace))[0];
    skip 'no strace', 5 unless $strace;

    my $t = server();
    $t->start();
    ok($t->answering("$set/none"), 'state=: every worker answers');
    my @w = $t->workers;
    my $log = $t->dir . '/strace.log';
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        open STDERR, '>', '/dev/null';
        exec $strace, '-f', '-qq', '-e', 'trace=fsync,fdatasync,rename',
            '-o', $log, map { ('-p', $_) } @w;
        exit 127;
    }

    # every thread of both workers traced before the writes begin
    my @tids = map { glob "/proc/$_/task/*" } @w;
    my $traced = 0;
    for (1 .. 250) {
        $traced = grep {
            open my $fh, '<', "$_/status";
            my ($tp) = join('', <$fh>) =~ /^TracerPid:\s*(\d+)/m;
            $tp;
        } @tids;
        last if $traced == @tids;
        select undef, undef, undef, 0.02;
    }

    SKIP: {
        skip 'strace cannot attach here', 4 unless $traced == @tids;

        my %want = $t->fill($set, 20, 't');
        my $compacted = 0;
        for my $round (1 .. 100) {
            for my $i (1 .. 20) {
                $t->patch("$set/t$i", { deviceName => "r$round-$i" });
                $want{"t$i"} = "r$round-$i";
            }
            last if $compacted = () = $t->read_file('error.log')
                =~ /compacted to/g;
        }
        ok($compacted, 'the state file was compacted');

        kill 'INT', $pid;
        waitpid $pid, 0;

        open my $fh, '<', $log or die "$log: $!";
        my (%by, @loop);
        my %worker = map { $_ => 1 } @w;
        while (<$fh>) {
            next unless /^(\d+)\s+(fsync|fdatasync|rename)\(/;
            $by{$2}++;
            push @loop, $_ if $worker{$1};
        }
        close $fh;
        cmp_ok($by{fsync} // 0, '>=', 2, 'fsync()s of the file and directory')
            or diag explain \%by;
        cmp_ok($by{rename} // 0, '>=', 1, 'the rename');
        is(scalar @loop, 0, 'none of them on a worker\'s event loop')
            or diag @loop;
        $pid = 0;
    }

    if ($pid) {
        kill 'INT', $pid;
        waitpid $pid, 0;
    }

    is($t->unreadable($set, 'deviceName', ()), 0, 'the zone reads');
    $t->stop();
}

# --- a file of version 2 (records without times, CRC-32), as earlier
# builds wrote it: made here from one of this build's by cutting the times
# out of each record; it loads, its header says version 4 from then on,
# it takes records of CRC-32C, and a file of both kinds loads -------------

{
    my $t = server(workers => 1);
    $t->start();
    ok(crc32c('123456789') == 0xe3069283, 'the test\'s CRC-32C');
    my %want = $t->fill($set, 30, 'v');
    is($t->delete("$set/v30")->{status}, 204, 'a deletion in the file too');
    delete $want{v30};
    $t->stop();

    open my $fh, '<:raw', $t->{state} or die $!;
    my $data = do { local $/; <$fh> };
    close $fh;

    is(unpack('V', substr($data, 8, 4)), 4, 'this build writes version 4');
    is(kinds($data), 'c' x 31, '... every record with its CRC-32C');

    my $old = substr($data, 0, 8) . pack('V', 2) . substr($data, 12, 4);
    my ($off, $n) = (16, 0);
    while ($off + 12 <= length $data) {
        my $len = unpack('V', substr($data, $off, 4));
        my $rec = substr($data, $off + 12, $len);
        # flags 0, and the 16 bytes of times after the 12 of version 2 go
        substr($rec, 3, 1) = "\0";
        substr($rec, 12, 16) = '';
        my $head = pack('VV', length $rec, crc32($rec));
        $old .= $head . pack('V', crc32($head)) . $rec;
        $off += 12 + $len;
        $n++;
    }
    is($n, 31, 'every record rewritten as version 2');

    open $fh, '>:raw', $t->{state} or die $!;
    print $fh $old;
    close $fh;

    $t->start();
    is($t->unreadable($set, 'deviceName', %want), 0,
        'a version 2 file loads every object');
    is($t->get("$set/v30")->{status}, 404, 'and its deletion');
    is(count($t), 29, 'nothing else');
    like($t->read_file('error.log'), qr/is of version 4 now/,
        'its header is upgraded, said in the log');

    is($t->patch("$set/v1", { deviceName => 'new' })->{status}, 200,
        'a write appends a record of this version to it');
    $want{v1} = 'new';
    $t->stop();

    open $fh, '<:raw', $t->{state} or die $!;
    $data = do { local $/; <$fh> };
    close $fh;
    is(unpack('V', substr($data, 8, 4)), 4, 'the file says version 4');
    is(kinds($data), ('z' x 31) . 'c',
        'the old records with CRC-32, the new one with CRC-32C');

    $t->start();
    is($t->unreadable($set, 'deviceName', %want), 0,
        'records of both versions and checksums in one file load');
    $t->stop();

    # a record of CRC-32 whose payload is damaged is damage, as before
    my $bad = $data;
    substr($bad, 16 + 12 + 4, 1) ^= "\x01";
    open $fh, '>:raw', $t->{state} or die $!;
    print $fh $bad;
    close $fh;
    ok(!eval { $t->start(); 1 }, 'a damaged CRC-32 record stops the start');
    like($t->read_file('error.log'), qr/a record with a bad checksum/,
        '... naming it');
}

done_testing();
