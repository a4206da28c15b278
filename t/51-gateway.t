#!/usr/bin/perl

# Every nginx snippet of docs/gateway.md ("# gateway: NAME" blocks), with
# its addresses, ports and paths swapped for the test's own: nginx -t
# passes, and requests through it get what the guide says.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use RHTest qw(json_decode);

my $guide = RHTest::root() . '/docs/gateway.md';
open my $fh, '<', $guide or die "$guide: $!";
my $text = do { local $/; <$fh> };
close $fh;

my %snippet;
while ($text =~ /```nginx\n# gateway: (\w+)\n(.*?)```/sg) {
    $snippet{$1} = $2;
}

is_deeply([sort keys %snippet], [qw(all auth limit log status tls)],
    'the guide has its six snippets');

my ($uid, $gid) = (getpwnam('nobody'))[2, 3];
my $set = '/beta/RemoteHelpSessionRetrieveResponse';

# an https request with curl (the certificate is the test's own)
sub https {
    my ($t, $method, $path, %opts) = @_;
    my @cmd = ('curl', '-sk', '-o', $t->dir . '/body', '-w', '%{http_code}',
        '-X', $method, '-H', 'Content-Type: application/json');
    push @cmd, '-H', "Authorization: Bearer $opts{token}" if defined $opts{token};
    push @cmd, '--data-binary', $opts{body} if defined $opts{body};
    push @cmd, "https://127.0.0.1:$t->{tls}$path";
    open my $p, '-|', @cmd or die "curl: $!";
    my $code = <$p>;
    close $p;
    return ($code // 0, $t->read_file('body'));
}

sub server_for {
    my ($name) = @_;
    my $t = RHTest->new(workers => 1);
    my $dir = $t->dir;
    $t->{tls} = $t->port;
    $t->{status} = RHTest::free_port();
    $t->{identity} = RHTest::free_port();

    mkdir "$dir/state" or die $!;
    chown $uid, $gid, "$dir/state" if $> == 0;
    system("openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1"
        . " -keyout $dir/key.pem -out $dir/cert.pem 2>/dev/null") == 0
        or die 'openssl failed';

    my $s = $snippet{$name};
    $s =~ s/listen(\s+)443 ssl;/listen${1}127.0.0.1:$t->{tls} ssl;/g;
    $s =~ s/listen 127\.0\.0\.1:8081;/listen 127.0.0.1:$t->{status};/g;
    $s =~ s/\n\s*listen 10\.0\.0\.1:8081;//g;
    $s =~ s{/etc/ssl/gateway/fullchain\.pem}{$dir/cert.pem}g;
    $s =~ s{/etc/ssl/gateway/privkey\.pem}{$dir/key.pem}g;
    $s =~ s{/var/lib/nginx/remote_help/}{$dir/state/}g;
    $s =~ s{/var/log/nginx/}{$dir/}g;
    $s =~ s{identity\.internal:9000}{127.0.0.1:$t->{identity}}g;

    # the harness waits for its port: the status server's when no TLS one
    $t->{port} = $t->{status} unless $s =~ /:$t->{tls} ssl;/;

    # the identity service of the guide: "good" passes, anything else 401
    my $identity = <<"EOF";
    server {
        listen 127.0.0.1:$t->{identity};
        location = /validate {
            if (\$http_authorization = "Bearer good") { return 204; }
            return 401;
        }
    }
EOF

    $t->write_config(<<"EOF");
load_module %%MODULE%%;
worker_processes 1;
pid %%PREFIX%%/nginx.pid;
error_log %%PREFIX%%/error.log info;
events { worker_connections 1024; }

http {
    access_log off;
    client_body_temp_path %%PREFIX%%/client_body;
    proxy_temp_path %%PREFIX%%/proxy;
    fastcgi_temp_path %%PREFIX%%/fastcgi;
    uwsgi_temp_path %%PREFIX%%/uwsgi;
    scgi_temp_path %%PREFIX%%/scgi;

$s
$identity
}
EOF

    my ($rc, $out) = $t->test_config();
    is($rc, 0, "$name: nginx -t") or diag $out;
    $t->start();
    return $t;
}

sub create {
    my ($t, $name, $token) = @_;
    my ($code, $body) = https($t, 'POST', $set, token => $token,
        body => '{"sessionKey":"gw-1","deviceName":"d"}');
    is($code, 201, "$name: a POST through it") or diag $body;
}

{
    my $t = server_for('tls');
    create($t, 'tls', 'any');
    my ($code) = https($t, 'GET', "$set/gw-1", token => 'any');
    is($code, 200, 'tls: GET');
    ok(-s $t->dir . '/state/remote_help.state', 'tls: the state file is written');
    $t->stop();
}

{
    my $t = server_for('auth');
    create($t, 'auth', 'good');
    my ($code, $body) = https($t, 'GET', "$set/gw-1", token => 'bad');
    is($code, 401, 'auth: a token the identity service refuses: 401');
    is(eval { json_decode($body)->{error}{code} }, 'InvalidAuthenticationToken',
        'auth: as a Graph error');
    $t->stop();
}

{
    my $t = server_for('limit');
    create($t, 'limit', 'any');

    # 300 requests on one connection: past the burst of 100, 429s
    my $url = "https://127.0.0.1:$t->{tls}$set/gw-1";
    open my $p, '-|', 'curl', '-sk', '-H', 'Authorization: Bearer any',
        '-w', '%{http_code}\n', '-o', '/dev/null', ($url) x 300
        or die "curl: $!";
    my @codes = <$p>;
    close $p;
    chomp @codes;
    my $limited = grep { /429$/ } @codes;   # -o is for the first URL only
    cmp_ok($limited, ">", 0, "limit: $limited of 300 quick requests limited")
        or diag "@codes[0 .. 9]";
    my ($body) = map { /^(.*)429$/ } grep { /^\{.*429$/ } @codes;
    is(eval { json_decode($body)->{error}{code} }, 'TooManyRequests',
        'limit: the 429 is a Graph error');
    $t->stop();
}

{
    my $t = server_for('log');
    create($t, 'log', 'any');
    https($t, 'GET', "$set/none", token => 'any');
    $t->stop();
    my $log = $t->read_file('remote_help.log');
    like($log, qr/"POST \Q$set\E HTTP\/1\.1" 201 set=RemoteHelpSessionRetrieveResponse key="gw-1" error= rt=/,
        'log: the POST line with the variables');
    like($log, qr/ 404 set=RemoteHelpSessionRetrieveResponse key="none" error=ResourceNotFound /,
        'log: the 404 line');
}

{
    my $t = server_for('status');
    my $s = RHTest->new();
    $s->{port} = $t->{status};
    my $r = $s->get('/remote_help/status', auth => undef);
    is($r->{status}, 200, 'status: from 127.0.0.1');
    is(eval { json_decode($r->{body})->{zone} }, 'remote_help', 'status: the zone');
    $r = $s->get('/remote_help/status?format=prometheus', auth => undef);
    like($r->{body}, qr/^nginx_remote_help_zone_size_bytes\{zone="remote_help"\} 67108864$/m,
        'status: prometheus');
    $t->stop();
}

{
    my $t = server_for('all');
    create($t, 'all', 'good');
    my ($code) = https($t, 'GET', "$set/gw-1", token => 'bad');
    is($code, 401, 'all: identity refusal');
    my $s = RHTest->new();
    $s->{port} = $t->{status};
    my $st = json_decode($s->get('/remote_help/status', auth => undef)->{body});
    is($st->{requests}{201}, 1, 'all: the status counted the POST');
    $t->stop();
    like($t->read_file('remote_help.log'), qr/ 201 set=RemoteHelpSessionRetrieveResponse key="gw-1"/,
        'all: logged');
}

done_testing();
