package RHTest;

# A small harness in the spirit of nginx-tests' Test::Nginx (which Debian
# does not package): each test writes a config into a temporary prefix,
# starts the stock nginx with the built module on a free port, talks HTTP
# to it, and stops it by its pid at the end, also when the test dies.

use strict;
use warnings;

use Cwd qw(abs_path);
use Errno qw(EINTR);
use Exporter qw(import);
use File::Basename qw(dirname);
use File::Path qw(make_path);
use File::Temp qw(tempdir);
use IO::Select;
use IO::Socket::INET;
use JSON::PP;
use POSIX ();
use POSIX qw(WNOHANG);
use Time::HiRes qw(sleep time);

our @EXPORT_OK = qw(json_decode json_encode uri_escape);

my $ROOT = abs_path(dirname(__FILE__) . '/../..');
my @RUNNING;

our $NGINX = $ENV{NGINX} // '/usr/sbin/nginx';
our $MODULE = $ENV{RH_MODULE} // "$ROOT/build/ngx_http_remote_help_module.so";

# "make test-redis" runs request tests with their zones' objects in a
# redis-server (RH_REDIS=127.0.0.1:PORT, emptied at each start)
our $REDIS = $ENV{RH_REDIS};

# "make test-valgrind" runs every nginx under valgrind: slower to start
our @WRAPPER = $ENV{RH_VALGRIND} ? split(' ', $ENV{RH_VALGRIND}) : ();
our $START_TIMEOUT = @WRAPPER ? 60 : 10;

sub root { $ROOT }

sub new {
    my ($class, %opts) = @_;

    my $dir = tempdir('rh-test-XXXXXX', TMPDIR => 1, CLEANUP => !$ENV{RH_KEEP});
    # workers run as nobody when the master is root: let them in
    chmod 0755, $dir;

    my $self = bless {
        dir => $dir,
        port => $opts{port} // free_port(),
        workers => $opts{workers} // 1,
        token => 'test-token',
    }, $class;

    return $self;
}

sub dir { $_[0]{dir} }
sub port { $_[0]{port} }

# a port nobody listens on now
sub free_port {
    my $s = IO::Socket::INET->new(
        LocalAddr => '127.0.0.1', LocalPort => 0, Proto => 'tcp',
        ReuseAddr => 1, Listen => 1,
    ) or die "no free port: $!";
    my $port = $s->sockport;
    close $s;
    return $port;
}

# the whole nginx.conf: %%PORT%%, %%PREFIX%% and %%MODULE%% are replaced;
# without a text, a default one with a zone "rh" and "location /beta/"
sub write_config {
    my ($self, $conf) = @_;

    $conf //= $self->default_config();

    $conf =~ s/%%PORT%%/$self->{port}/g;
    $conf =~ s/%%PREFIX%%/$self->{dir}/g;
    $conf =~ s/%%MODULE%%/$MODULE/g;

    if ($REDIS && $conf !~ /remote_help_redis/) {
        # every zone without state= keeps its objects in Redis
        $conf =~ s{^(\s*remote_help_zone\s+zone=[^;]*?)(\s*;)}{
            my ($zone, $end) = ($1, $2);
            $zone =~ /\bstate=/ ? "$zone$end" : "$zone backend=rhtest$end"
        }gme
            and $conf =~ s/^(http\s*\{)/$1\n    remote_help_redis rhtest server=$REDIS;/m;
    }

    open my $fh, '>', "$self->{dir}/nginx.conf" or die $!;
    print $fh $conf;
    close $fh;

    return $self;
}

# the parts of a config every test shares; %opts: http, server, zone,
# workers, main, listen (the server's listen parameters)
sub default_config {
    my ($self, %opts) = @_;

    my $workers = $opts{workers} // $self->{workers};
    my $zone = $opts{zone} // 'remote_help_zone zone=rh:8m;';
    my $server = $opts{server} // 'location /beta/ { remote_help rh; }';
    my $http = $opts{http} // '';
    my $main = $opts{main} // '';
    my $listen = $opts{listen} // '127.0.0.1:%%PORT%%';

    return <<"EOF";
load_module %%MODULE%%;
worker_processes $workers;
pid %%PREFIX%%/nginx.pid;
error_log %%PREFIX%%/error.log info;
$main
events { worker_connections 1024; }

http {
    access_log %%PREFIX%%/access.log;
    client_body_temp_path %%PREFIX%%/client_body;
    proxy_temp_path %%PREFIX%%/proxy;
    fastcgi_temp_path %%PREFIX%%/fastcgi;
    uwsgi_temp_path %%PREFIX%%/uwsgi;
    scgi_temp_path %%PREFIX%%/scgi;

    $zone
    $http

    server {
        listen $listen;
        $server
    }
}
EOF
}

sub config {
    my ($self, %opts) = @_;
    return $self->write_config($self->default_config(%opts));
}

sub nginx_cmd {
    my ($self, @args) = @_;
    return ($NGINX, '-p', "$self->{dir}/", '-c', "$self->{dir}/nginx.conf",
        '-e', "$self->{dir}/error.log", @args);
}

# nginx -t: (exit status, output)
sub test_config {
    my ($self) = @_;
    my @cmd = $self->nginx_cmd('-t');
    my $out = `@cmd 2>&1`;
    return ($? >> 8, $out);
}

sub pid {
    my ($self) = @_;
    open my $fh, '<', "$self->{dir}/nginx.pid" or return undef;
    my $pid = <$fh>;
    close $fh;
    chomp $pid if defined $pid;
    return $pid;
}

sub start {
    my ($self) = @_;

    unlink "$self->{dir}/nginx.pid";

    if ($REDIS) {
        my ($host, $port) = split /:/, $REDIS;
        system('redis-cli', '-h', $host, '-p', $port, 'FLUSHALL') == 0
            or die "redis-cli FLUSHALL on $REDIS failed";
    }

    my $pid = fork();
    die "fork: $!" unless defined $pid;

    if ($pid == 0) {
        open STDOUT, '>', "$self->{dir}/stdout.log";
        open STDERR, '>', "$self->{dir}/stderr.log";
        exec @WRAPPER, $self->nginx_cmd('-g', 'daemon off;');
        exit 127;
    }

    $self->{master} = $pid;
    $self->{owner} = $$;
    push @RUNNING, $self;

    my $deadline = time() + $START_TIMEOUT;

    while (time() < $deadline) {
        if (waitpid($pid, WNOHANG) == $pid) {
            delete $self->{master};
            die "nginx exited at start: " . $self->read_file('stderr.log')
                . $self->read_file('error.log');
        }

        if ($self->listening()) {
            $self->pools_ready();
            return $self;
        }

        sleep 0.02;
    }

    $self->stop();
    die "nginx did not listen on port $self->{port}";
}

# Under valgrind, a worker of a zone with state= starts nginx's thread
# pool "default" (32 threads unless a thread_pool directive says) before
# it serves, and that takes seconds: waits, a minute at most, until every
# worker the configuration asks for has them all.  Without valgrind it
# is done before the workers accept.
sub pools_ready {
    my ($self) = @_;
    return 1 unless @WRAPPER;

    my $conf = $self->read_file('nginx.conf');
    return 1 unless $conf =~ /\bstate=/;

    my ($n) = $conf =~ /^\s*worker_processes\s+(\d+)/m;
    my ($threads) = $conf =~ /^\s*thread_pool\s+default\s+threads=(\d+)/m;
    $n //= 1;
    $threads //= 32;

    my $deadline = time() + 60;

    while (time() < $deadline) {
        my @w = $self->workers();
        my $ready = grep {
            my @tasks = glob "/proc/$_/task/*";
            @tasks > $threads;
        } @w;
        return 1 if @w >= $n && $ready >= $n;
        sleep 0.05;
    }

    return 0;
}

# polls GET $path until $n answers in a row come back (every worker
# answering: under valgrind a worker's start, its thread pool's with
# state_sync=on, takes seconds, and a request waits meanwhile); returns
# whether they did within a minute
sub answering {
    my ($self, $path, $n) = @_;
    $n //= 8;
    my $answered = 0;
    my $deadline = time() + 60;

    while (time() < $deadline) {
        $answered = $self->get($path)->{status} ? $answered + 1 : 0;
        return 1 if $answered >= $n;
        sleep 0.05;
    }

    return 0;
}

sub listening {
    my ($self) = @_;
    my $s = IO::Socket::INET->new(
        PeerAddr => '127.0.0.1', PeerPort => $self->{port}, Proto => 'tcp',
    );
    return 0 unless $s;
    close $s;
    return 1;
}

sub read_file {
    my ($self, $name) = @_;
    open my $fh, '<', "$self->{dir}/$name" or return '';
    local $/;
    my $text = <$fh>;
    close $fh;
    return $text;
}

# the master's children: its workers
sub workers {
    my ($self) = @_;
    my $master = $self->{master} or return ();
    my @pids;

    for my $stat (glob '/proc/[0-9]*/stat') {
        open my $fh, '<', $stat or next;
        my $line = <$fh>;
        close $fh;
        next unless defined $line;
        # pid (comm) state ppid
        if ($line =~ /^(\d+) \(.*\) \S+ (\d+)/ && $2 == $master) {
            my $pid = $1;
            my $cmd = '';
            if (open my $c, '<', "/proc/$pid/cmdline") {
                local $/;
                $cmd = <$c> // '';
                close $c;
            }
            # under valgrind the process title is not in cmdline:
            # then every child counts (no test config has a cache)
            next if $cmd =~ /nginx: (\w+) process/ && $1 ne 'worker';
            push @pids, $pid;
        }
    }

    return sort { $a <=> $b } @pids;
}

# waits until n workers run (they start after the master listens)
sub wait_workers {
    my ($self, $n) = @_;
    my $deadline = time() + $START_TIMEOUT;
    my @w;

    while (time() < $deadline) {
        @w = $self->workers();
        return scalar @w if @w >= $n;
        sleep 0.02;
    }

    return scalar @w;
}

# SIGHUP, then waits until none of the old workers is left and new
# ones run
sub reload {
    my ($self) = @_;
    my %old = map { $_ => 1 } $self->workers();

    kill 'HUP', $self->{master} or die "kill HUP: $!";

    my $deadline = time() + $START_TIMEOUT;

    while (time() < $deadline) {
        my @now = $self->workers();
        if (@now && !grep { $old{$_} } @now) {
            return $self->pools_ready() || 1;
        }
        sleep 0.02;
    }

    return 0;
}

sub stop {
    my ($self, $signal) = @_;
    my $pid = delete $self->{master} or return;

    @RUNNING = grep { defined $_ && $_ != $self } @RUNNING;

    kill $signal // 'QUIT', $pid;

    my $deadline = time() + $START_TIMEOUT;

    while (time() < $deadline) {
        return 1 if waitpid($pid, WNOHANG) == $pid;
        sleep 0.02;
    }

    kill 'KILL', $pid;
    waitpid($pid, 0);

    return 0;
}

# kill -9 of the master and every worker at once, as a crash would;
# returns when none of them is left
sub crash {
    my ($self) = @_;
    my $pid = delete $self->{master} or return;
    $self->{master} = $pid;
    my @all = ($pid, $self->workers());
    delete $self->{master};

    @RUNNING = grep { defined $_ && $_ != $self } @RUNNING;

    kill 'KILL', @all;
    waitpid($pid, 0);

    my $deadline = time() + $START_TIMEOUT;
    while (time() < $deadline) {
        return 1 unless grep { alive($_) } @all;
        sleep 0.02;
    }

    return 0;
}

# a process that exists and is not a zombie: of its threads (a worker's
# thread pool) one that is not; a killed process's leader is a zombie
# before its other threads are gone, and they hold its files (the
# listening sockets) until the last one is
sub alive {
    my ($pid) = @_;
    my @tasks = glob "/proc/$pid/task/*";
    @tasks = ("/proc/$pid") unless @tasks;

    for my $task (@tasks) {
        open my $fh, '<', "$task/stat" or next;
        my $line = <$fh> // '';
        close $fh;
        return 1 if $line =~ /^\d+ \(.*\) ([A-Za-z])/ && $1 ne 'Z'
            && $1 ne 'X';
    }

    return 0;
}

sub DESTROY {
    my ($self) = @_;
    local $?;
    $self->stop() if $self->{master} && $$ == ($self->{owner} // $$);
}

END {
    local $?;
    # forked clients leave the server to the process that started it
    my @mine = grep { ($_->{owner} // 0) == $$ } @RUNNING;
    $_->stop() for @mine;
}

# one request on its own connection: { status, headers (lower-case
# names), body, raw }; %opts: body, headers (array of name => value),
# auth (default: a bearer token; undef sends none), chunked, type
sub request {
    my ($self, $method, $path, %opts) = @_;

    my @headers = @{ $opts{headers} // [] };
    my $body = $opts{body};

    my $req = "$method $path HTTP/1.1\r\nHost: 127.0.0.1:$self->{port}\r\n"
        . "Connection: close\r\n";

    my $auth = exists $opts{auth} ? $opts{auth} : "Bearer $self->{token}";
    $req .= "Authorization: $auth\r\n" if defined $auth;

    if (defined $body) {
        my $type = exists $opts{type} ? $opts{type} : 'application/json';
        $req .= "Content-Type: $type\r\n" if defined $type;
    }

    while (my ($name, $value) = splice @headers, 0, 2) {
        $req .= "$name: $value\r\n";
    }

    if (defined $body && $opts{chunked}) {
        $req .= "Transfer-Encoding: chunked\r\n\r\n";
        my $size = $opts{chunked} > 1 ? $opts{chunked} : 1000;
        for (my $i = 0; $i < length $body; $i += $size) {
            my $part = substr($body, $i, $size);
            $req .= sprintf("%x\r\n%s\r\n", length $part, $part);
        }
        $req .= "0\r\n\r\n";

    } elsif (defined $body) {
        $req .= "Content-Length: " . length($body) . "\r\n\r\n$body";

    } else {
        $req .= "\r\n";
    }

    my $raw = $self->raw($req);

    return parse_response($raw, $method eq 'HEAD');
}

# sends bytes, returns all that comes back until the server closes
sub raw {
    my ($self, $bytes) = @_;

    my $s = IO::Socket::INET->new(
        PeerAddr => '127.0.0.1', PeerPort => $self->{port}, Proto => 'tcp',
        Timeout => 10,
    ) or die "connect to $self->{port}: $!";

    binmode $s;
    $s->autoflush(1);

    # the server may answer (413) before all is sent: keep reading
    local $SIG{PIPE} = 'IGNORE';
    my $off = 0;
    while ($off < length $bytes) {
        my $n = syswrite($s, $bytes, 65536, $off);
        last unless $n;
        $off += $n;
    }

    my $sel = IO::Select->new($s);
    my $raw = '';
    my $deadline = time() + 30;

    while (time() < $deadline) {
        last unless $sel->can_read(1);
        my $n = sysread($s, my $buf, 65536);
        last unless $n;
        $raw .= $buf;
    }

    close $s;
    return $raw;
}

sub parse_response {
    my ($raw, $head) = @_;

    my ($head_text, $body) = split /\r\n\r\n/, $raw, 2;
    $head_text //= '';
    $body //= '';

    my ($status_line, @lines) = split /\r\n/, $head_text;
    my ($status) = ($status_line // '') =~ m{^HTTP/1\.\d (\d{3})};

    my %headers;
    for my $line (@lines) {
        my ($name, $value) = $line =~ /^([^:]+):\s*(.*)$/ or next;
        $name = lc $name;
        $headers{$name} = exists $headers{$name}
            ? "$headers{$name}, $value" : $value;
    }

    if (($headers{'transfer-encoding'} // '') =~ /chunked/i) {
        my $decoded = '';
        while ($body =~ s/^([0-9a-fA-F]+)\r\n//) {
            my $len = hex $1;
            last if $len == 0;
            $decoded .= substr($body, 0, $len, '');
            $body =~ s/^\r\n//;
        }
        $body = $decoded;
    }

    $body = '' if $head;

    return {
        status => $status // 0,
        headers => \%headers,
        body => $body,
        raw => $raw,
    };
}

sub get { my $self = shift; $self->request('GET', @_) }
sub head { my $self = shift; $self->request('HEAD', @_) }
sub delete { my $self = shift; $self->request('DELETE', @_) }

sub post {
    my ($self, $path, $body, %opts) = @_;
    $body = json_encode($body) if ref $body;
    return $self->request('POST', $path, body => $body, %opts);
}

sub patch {
    my ($self, $path, $body, %opts) = @_;
    $body = json_encode($body) if ref $body;
    return $self->request('PATCH', $path, body => $body, %opts);
}

# how many objects (key => expected value of $prop) do not read back
# from $set with that value
sub unreadable {
    my ($self, $set, $prop, %want) = @_;
    my $bad = 0;

    for my $key (keys %want) {
        my $r = $self->get("$set/" . uri_escape($key));
        my $doc = $r->{status} == 200 ? eval { json_decode($r->{body}) } : undef;
        $bad++ unless $doc && defined $doc->{$prop} && $doc->{$prop} eq $want{$key};
    }

    return $bad;
}

# runs $code in $n forked clients, each given its number 1..$n; a client
# fails when $code returns true (its count of failures); returns how
# many clients failed
sub clients {
    my ($n, $code) = @_;
    my @kids;

    for my $c (1 .. $n) {
        my $pid = fork() // die "fork: $!";
        if ($pid == 0) {
            # no END or DESTROY here: the server belongs to the parent
            POSIX::_exit($code->($c) ? 1 : 0);
        }
        push @kids, $pid;
    }

    my $failed = 0;
    for my $pid (@kids) {
        waitpid($pid, 0);
        $failed++ if $? != 0;
    }

    return $failed;
}

# POSTs "$prefix1" .. "$prefix$n" into $set with deviceName "d1" ..;
# returns key => deviceName
sub fill {
    my ($self, $set, $n, $prefix) = @_;
    my %want;
    for my $i (1 .. $n) {
        my $r = $self->post($set, { sessionKey => "$prefix$i", deviceName => "d$i" });
        die "POST $prefix$i: $r->{status}" unless $r->{status} == 201;
        $want{"$prefix$i"} = "d$i";
    }
    return %want;
}

# a forked client that writes keys "$name-1", "$name-2", ... of $set: a
# POST (deviceName v0), two PATCHes (v1, v2) and, every $opts{delete}-th
# key, a DELETE ("-"); it logs "try KEY VALUE" before each, then "ack KEY
# VALUE" after a 2xx or "err KEY VALUE STATUS"; a request that gets no
# answer ends it, or with $opts{go_on} is logged "lost KEY VALUE"; it
# stops when the file $opts{stop} exists, after 120 s at the most;
# returns its pid
sub writer {
    my ($self, $set, $log, $name, %opts) = @_;
    my $pid = fork() // die "fork: $!";
    return $pid if $pid;

    open my $fh, '>', $log or POSIX::_exit(2);
    $fh->autoflush(1);
    my $end = time() + 120;
    my $i = 0;
    while (!($opts{stop} && -e $opts{stop}) && time() < $end) {
        $i++;
        my $key = "$name-$i";
        my @ops = (['POST', 'v0'], ['PATCH', 'v1'], ['PATCH', 'v2']);
        push @ops, ['DELETE', '-'] if $i % ($opts{delete} // 4) == 0;
        for my $op (@ops) {
            my ($method, $value) = @$op;
            print $fh "try $key $value\n";
            my $r = eval {
                $method eq 'POST'
                    ? $self->post($set, { sessionKey => $key, deviceName => $value })
                    : $method eq 'PATCH'
                    ? $self->patch("$set/$key", { deviceName => $value })
                    : $self->delete("$set/$key");
            };
            if (!$r || !$r->{status}) {
                POSIX::_exit(0) unless $opts{go_on};
                print $fh "lost $key $value\n";
            } elsif ($r->{status} =~ /^2/) {
                print $fh "ack $key $value\n";
            } else {
                print $fh "err $key $value $r->{status}\n";
            }
        }
    }
    close $fh;
    POSIX::_exit(0);
}

# follows @odata.nextLink from a listing URL; returns (objects, pages)
sub list_all {
    my ($self, $path) = @_;
    my (@objects, $pages);

    while (defined $path) {
        my $r = $self->get($path);
        die "listing $path: $r->{status} $r->{body}" unless $r->{status} == 200;
        my $doc = json_decode($r->{body});
        push @objects, @{ $doc->{value} };
        $pages++;
        $path = $doc->{'@odata.nextLink'};
        if (defined $path) {
            $path =~ s{^http://[^/]+}{} or die "nextLink not a full URL: $path";
        }
    }

    return (\@objects, $pages);
}

my $JSON = JSON::PP->new->utf8->canonical;

sub json_decode { $JSON->decode($_[0]) }
sub json_encode { $JSON->encode($_[0]) }

sub uri_escape {
    my ($s) = @_;
    utf8::encode($s) if utf8::is_utf8($s);
    $s =~ s/([^A-Za-z0-9\-._~])/sprintf('%%%02X', ord $1)/ge;
    return $s;
}

1;
