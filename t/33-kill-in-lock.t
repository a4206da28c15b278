#!/usr/bin/perl

# A worker killed at a chosen place inside the zone's lock or the state
# file's: gdb stops it there (a breakpoint on one of the module's
# functions) and kills it.  Within 2 s the other worker answers again,
# the log says at alert what happened, every object reads back, a
# listing holds each object once, the zone's memory is all accounted for
# (deleting everything gives back what it took), and with state= a
# record the dead worker left cut short is cut off, so that a restart
# keeps every acknowledged write.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use IO::Select;
use IO::Socket::INET;
use POSIX ();
use Time::HiRes qw(time sleep);
use RHTest qw(json_decode json_encode);

my $GDB = '/usr/bin/gdb';
plan skip_all => "no $GDB (make test installs it)" unless -x $GDB;
plan skip_all => 'gdb and valgrind do not go together' if $ENV{RH_VALGRIND};

my $set = '/beta/RemoteHelpSessionRetrieveResponse';
my ($uid, $gid) = (getpwnam('nobody'))[2, 3];

sub server {
    my ($state, $workers) = @_;
    my $t = RHTest->new(workers => $workers // 2);
    my $dir = $t->dir . '/work';
    mkdir $dir or die $!;
    chown $uid, $gid, $dir if $> == 0;
    $t->{state_file} = "$dir/rh.state";
    $t->config(zone => 'remote_help_zone zone=rh:8m'
            . ($state ? " state=$dir/rh.state" : '') . ';',
        server => 'location /beta/ { remote_help rh; }
            location = /status { remote_help_status rh; }')->start();
    $t->wait_workers($workers // 2);
    return $t;
}

sub status { json_decode($_[0]->get('/status')->{body}) }

# one request on its own connection, answered within a second or not
sub quick {
    my ($t, $method, $path, $body) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $t->port,
        Proto => 'tcp', Timeout => 1) or return 0;
    my $req = "$method $path HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer t\r\n"
        . "Connection: close\r\n";
    $req .= "Content-Type: application/json\r\nContent-Length: " . length($body)
        . "\r\n" if defined $body;
    print $s "$req\r\n" . ($body // '');
    my $sel = IO::Select->new($s);
    my $line = $sel->can_read(1) ? <$s> : undef;
    close $s;
    return defined $line && $line =~ m{^HTTP/1\.1 (\d+)} ? $1 : 0;
}

# gdb stops worker $pid at $where, runs @before there, and kills it,
# while $traffic->($i) sends requests; returns gdb's output
sub kill_at {
    my ($t, $pid, $where, $traffic, @before) = @_;
    my $out = $t->dir . "/gdb-$pid.log";
    my $gdb = fork() // die "fork: $!";
    if ($gdb == 0) {
        open STDOUT, '>', $out;
        open STDERR, '>&', \*STDOUT;
        { exec $GDB, '-q', '-batch', '-nx', '-p', $pid,
            '-ex', 'set pagination off', '-ex', 'set confirm off',
            '-ex', 'handle all nostop noprint pass',
            '-ex', "break $where",
            '-ex', 'continue',
            (map { ('-ex', $_) } @before),
            '-ex', 'kill'; }
        POSIX::_exit(127);
    }

    # gdb has the process when its breakpoint is set (it goes on right
    # after: a request sent a moment early waits); then the traffic
    my $deadline = time() + 30;
    until (($t->read_file("gdb-$pid.log") =~ /^Breakpoint 1 at /m) || time() > $deadline) {
        sleep 0.05;
    }

    my $i = 0;
    while (waitpid($gdb, POSIX::WNOHANG()) == 0 && time() < $deadline) {
        $traffic->($i++);
    }
    if (waitpid($gdb, POSIX::WNOHANG()) == 0) {
        kill 'KILL', $gdb;
        waitpid($gdb, 0);
    }

    return $t->read_file("gdb-$pid.log");
}

# after the kill: answered again within 2 s, by the other worker
sub answered_within {
    my ($t, $limit) = @_;
    my $start = time();
    while (time() - $start < $limit) {
        return time() - $start if quick($t, 'GET', '/status') == 200;
        sleep 0.02;
    }
    return undef;
}

sub consistent {
    my ($t, $name, %want) = @_;
    my ($objects) = $t->list_all($set);
    my %n;
    $n{ $_->{sessionKey} }++ for @$objects;
    is((grep { $n{$_} > 1 } keys %n), 0, "$name: each object listed once");
    is(status($t)->{objects}{RemoteHelpSessionRetrieveResponse}, scalar @$objects,
        "$name: the status counts what is listed");
    my @missing = grep { !$n{$_} } keys %want;
    is(scalar @missing, 0, "$name: every object there before is listed");
    is($t->unreadable($set, 'deviceName', %want), 0,
        "$name: every object reads back as written");
}

# every chunk accounted for: deleting all gives back all
sub all_given_back {
    my ($t, $name, $empty) = @_;
    my ($objects) = $t->list_all($set);
    my $bad = grep { $t->delete("$set/" . RHTest::uri_escape($_->{sessionKey}))->{status} != 204 }
        @$objects;
    is($bad, 0, "$name: everything deleted");
    is(status($t)->{used}, $empty, "$name: the zone uses what it used empty");
}

# the line of the store's source where $text is
sub line_of {
    my ($text) = @_;
    my $file = 'src/ngx_http_remote_help_store.c';
    open my $fh, '<', RHTest::root() . "/$file" or die "$file: $!";
    while (<$fh>) {
        return $. if index($_, $text) >= 0;
    }
    die "no '$text' in $file";
}

# --- inside the zone's write lock --------------------------------------------

my @cases = (
    # a POST, between the hash chain and the tree's rebalancing
    ['POST', 'ngx_http_remote_help_order_append',
        sub { quick($_[0], 'POST', $set,
            json_encode({ sessionKey => "new$_[1]", deviceName => 'n' })) }],
    # a PATCH that outgrows its chunk: the new version in its chain, the
    # tree not yet changed
    ['PATCH (grows)', 'ngx_http_remote_help_order_replace_locked',
        sub { quick($_[0], 'PATCH', "$set/k" . (1 + $_[1] % 50),
            json_encode({ acsGroupId => 'g' x 3000 . $_[1] })) }],
    # a PATCH written over its object, the old version kept in the spare
    # block: gdb tears the object (200 bytes of 'X' over its spans, key
    # and JSON), as a kill in the middle of the copy would.  It writes
    # the memory itself, eight bytes at a time: a function called in the
    # worker (memset) needs gdb to write the CPU's extended state, which
    # some kernels refuse ("Couldn't write extended state status")
    ['PATCH (in place)', 'ngx_http_remote_help_store.c:' . line_of(
            'ngx_memcpy(ngx_http_rh_spans(n), rec->spans, 8 * nprops);'),
        sub { quick($_[0], 'PATCH', "$set/k" . (1 + $_[1] % 50),
            json_encode({ acsGroupId => "g$_[1]" })) },
        (map { 'set var *(unsigned long *) ((char *) sh->undo + '
               . (120 + 8 * $_) . ') = 0x5858585858585858' } 0 .. 24),
        'print/x *(unsigned long *) ((char *) sh->undo + 312)'],
    # a DELETE, unlinked everywhere, the chunk not yet given back
    ['DELETE', 'ngx_http_remote_help_heap_free_locked',
        sub { quick($_[0], 'DELETE', "$set/k" . (300 - $_[1])) }],
);

for my $case (@cases) {
    my ($what, $where, $traffic, @before) = @$case;
    my $name = "$what killed in $where";

    my $t = server(0);
    my $empty = status($t)->{used};
    my %want = $t->fill($set, 300, 'k');
    my ($victim) = $t->workers();

    my $log = kill_at($t, $victim, $where, sub { $traffic->($t, @_) }, @before);
    like($log, qr/^\$\d+ = 0x5858585858585858$/m, "$name: gdb tore the object")
        if @before;
    if ($where =~ /:\d+$/) {
        # gdb moves a line's breakpoint to where the optimized code has
        # it: inside the write over the object, while the old version
        # is kept aside, is what counts
        my ($line) = $log =~ /^Breakpoint 1(?:\.\d+)?, .*store\.c:(\d+)$/m;
        ok(defined $line && $line > line_of('sh->undo = ngx_http_rh_chunk(old);')
            && $line < line_of('sh->undo = NULL;'),
            "$name: gdb stopped it while the object was written over (line "
            . ($line // 'none') . ')') or diag $log;
    } else {
        like($log, qr/Breakpoint 1(\.\d+)?, .*\Q$where\E/, "$name: gdb stopped it there")
            or diag $log;
    }
    ok(!RHTest::alive($victim), "$name: and it is gone");

    my $took = answered_within($t, 2);
    ok(defined $took, "$name: answered again within 2 s"
        . (defined $took ? sprintf(' (%.2f s)', $took) : ''));
    is(quick($t, 'POST', $set, json_encode({ sessionKey => 'after', deviceName => 'a' })),
        201, "$name: a write goes through");
    $want{after} = 'a';

    like($t->read_file('error.log'),
        qr/\[alert\] (\d+)#\d+: .*process $victim exited while it changed the zone.*\n(?:.*\n)*?.*\[alert\] \1#\d+: .*rebuilt: \d+ objects in \d+ ms/,
        "$name: the log says what happened");

    like($t->read_file('error.log'), qr/an object written over in place is back as it was/,
        "$name: the object written over is put back") if $what =~ /in place/;

    # the killed request: the object may be there or not, written whole
    delete $want{"k$_"} for grep { ($t->get("$set/k$_")->{status}) == 404 } 1 .. 300;
    consistent($t, $name, %want);
    is(status($t)->{repairs}, 1, "$name: one rebuild in the status");
    my ($all) = $t->list_all($set);
    is((grep { join('', map { $_ // '' } values %$_) =~ /XXXX/ } @$all), 0,
        "$name: nothing torn is left");

    all_given_back($t, $name, $empty);

    $t->stop() or $t->crash();
}

# --- the sweep killed inside the zone's lock, in a zone with lifetimes ------

{
    # one worker: its sweep is the one that runs; the master starts another
    my $name = 'the sweep killed in ngx_http_remote_help_heap_free_locked';
    my $t = RHTest->new(workers => 1);
    $t->config(zone => 'remote_help_zone zone=rh:8m timeout=1h expire=on;',
        server => 'location /beta/ { remote_help rh; }
            location = /status { remote_help_status rh; }')->start();
    $t->wait_workers(1);
    my $empty = status($t)->{used};

    # 100 objects that go in about 2 s, 200 that stay
    my @tm = gmtime(time() + 2);
    my $soon = sprintf('%04d-%02d-%02dT%02d:%02d:%02dZ', $tm[5] + 1900,
        $tm[4] + 1, @tm[3, 2, 1, 0]);
    my %want;
    for my $i (1 .. 300) {
        my %body = (sessionKey => "k$i", deviceName => "d$i");
        $body{sessionExpirationDateTime} = $soon if $i <= 100;
        $t->post($set, \%body)->{status} == 201 or die "POST k$i";
        $want{"k$i"} = "d$i" if $i > 100;
    }

    # no DELETE is sent: the first chunk given back is the sweep's
    my ($victim) = $t->workers();
    my $log = kill_at($t, $victim, 'ngx_http_remote_help_heap_free_locked',
        sub { quick($t, 'GET', "$set/k200"); sleep 0.05 });
    like($log, qr/Breakpoint 1(\.\d+)?, .*heap_free_locked/,
        "$name: gdb stopped it there") or diag $log;
    ok(!RHTest::alive($victim), "$name: and it is gone");
    ok(defined answered_within($t, 2), "$name: answered again within 2 s");
    like($t->read_file('error.log'), qr/\[alert\].*rebuilt: \d+ objects/,
        "$name: the zone was rebuilt");

    # the other worker's sweep (or the new one's) takes the rest
    my $end = time() + 5;
    my $st;
    do { sleep 0.1; $st = status($t) }
        until $st->{objects}{RemoteHelpSessionRetrieveResponse} == 200
            || time() > $end;
    is($st->{objects}{RemoteHelpSessionRetrieveResponse}, 200,
        "$name: the expired objects are all swept after the rebuild");
    cmp_ok($st->{expired}, '>=', 99, "$name: and counted (the dead one's "
        . 'last may not be)');
    is((grep { $t->get("$set/k$_")->{status} != 404 } 1 .. 100), 0,
        "$name: none of them reads");
    consistent($t, $name, %want);

    all_given_back($t, $name, $empty);
    $t->stop() or $t->crash();
}

# --- a reader killed inside the read lock -------------------------------------

{
    my $name = 'GET killed in ngx_http_remote_help_lookup_locked';
    my $t = server(0);
    my %want = $t->fill($set, 50, 'k');
    my ($victim) = $t->workers();

    my $log = kill_at($t, $victim, 'ngx_http_remote_help_lookup_locked',
        sub { quick($t, 'GET', "$set/k1") });
    like($log, qr/Breakpoint 1(\.\d+)?, .*ngx_http_remote_help_lookup_locked/, "$name: gdb stopped it there");
    ok(!RHTest::alive($victim), "$name: and it is gone");

    # a writer must not wait for the dead reader's mark
    my $start = time();
    my $st = 0;
    while (time() - $start < 2 && $st != 200) {
        $st = quick($t, 'PATCH', "$set/k2", json_encode({ deviceName => 'd2' }));
    }
    is($st, 200, sprintf("$name: a write goes through (%.2f s)", time() - $start));
    consistent($t, $name, %want);
    is(status($t)->{repairs}, 0, "$name: a reader's death needs no rebuild");

    $t->stop() or $t->crash();
}

# --- inside the state file's lock, a record cut short ----------------------------

{
    my $name = 'PATCH killed in the middle of its record';

    # one worker: the first PATCH stops in its append to PATH, before the
    # file can grow to a compaction (whose PATH.tmp a torn append would
    # end instead); the worker the master starts next takes the lock over
    my $t = server(1, 1);
    my %want = $t->fill($set, 100, 'k');
    my ($victim) = $t->workers();

    # the record's first 10 bytes reach the file, then the kill: gdb
    # stops the worker in writev() on the state file's descriptor (the
    # module's own write function is inlined where gdb cannot tell),
    # cuts its first buffer to 10 bytes and the call to that buffer
    # (memory and a register: no function called in the worker, see
    # above), and lets it return
    my ($fd) = map { m{/(\d+)$} ? $1 : () }
        grep { (readlink($_) // '') eq $t->{state_file} } glob "/proc/$victim/fd/*";
    ok(defined $fd, "$name: the worker's descriptor of the state file");
    my $log = kill_at($t, $victim, "writev if \$rdi == $fd",
        sub { quick($t, 'PATCH', "$set/k1", json_encode({ deviceName => "x$_[0]" })) },
        'set var *(long *) ($rsi + 8) = 10', 'set var $rdx = 1', 'finish');
    like($log, qr/Breakpoint 1(\.\d+)?, .*writev/, "$name: gdb stopped it there");
    like($log, qr/\$1 = 10/, "$name: 10 bytes of the record written");
    ok(!RHTest::alive($victim), "$name: and it is gone");

    my $took = answered_within($t, 2);
    ok(defined $took, "$name: answered again within 2 s");

    # the next writes, acknowledged, come after the cut
    my $acked = 0;
    for my $i (1 .. 20) {
        my $r = $t->patch("$set/k5", { deviceName => "acked$i" });
        $acked = $i if $r->{status} == 200;
    }
    is($acked, 20, "$name: writes go on");
    $want{k5} = 'acked20';
    delete $want{k1};

    like($t->read_file('error.log'),
        qr/\[alert\].*process $victim exited while it wrote state file.*\n.*\[alert\].*10 bytes of a record not acknowledged cut off at offset \d+/,
        "$name: the log says what was cut off");

    ok($t->stop(), "$name: graceful stop");
    $t->start();
    unlike($t->read_file('error.log'), qr/damaged/, "$name: the file is not damaged");
    is($t->unreadable($set, 'deviceName', %want), 0,
        "$name: after a restart every acknowledged write is there");
    like(json_decode($t->get("$set/k1")->{body})->{deviceName} // '', qr/^(d1|x\d+)$/,
        "$name: the killed write's object is as it was or as written");
    $t->stop();
}

done_testing();
