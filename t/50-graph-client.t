#!/usr/bin/perl

# The official Graph JS client (@microsoft/microsoft-graph-client 3.0.7,
# pinned by t/js/package-lock.json, installed in build/js by "make test") through create, get,
# update, list with paging and delete on all three sets, and GraphError on
# a 400 and a 404: over TLS on loopback with a self-signed certificate made
# here plus customHosts, and over plain http with a middleware that sets
# the token. The stock handler over plain http sends no token: 401.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use RHTest;

my $js = "$FindBin::Bin/js";
my $modules = RHTest::root() . '/build/js/node_modules';

my $node = `command -v node 2>/dev/null`;
chomp $node;
plan skip_all => 'node is not installed' unless $node;
plan skip_all => 'the Graph client is not installed (make js-deps)'
    unless -d "$modules/\@microsoft/microsoft-graph-client";

my $t = RHTest->new(workers => 2);
my $dir = $t->dir;
my $tls = $t->port;
my $plain = RHTest::free_port();

system('openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1'
    . ' -addext subjectAltName=IP:127.0.0.1'
    . " -keyout $dir/key.pem -out $dir/cert.pem 2>/dev/null") == 0
    or BAIL_OUT('openssl could not make a certificate');

$t->config(
    listen => '127.0.0.1:%%PORT%% ssl',
    server => 'ssl_certificate %%PREFIX%%/cert.pem;
        ssl_certificate_key %%PREFIX%%/key.pem;
        location /beta/ { remote_help rh; }',
    http => "server {
        listen 127.0.0.1:$plain;
        location /beta/ { remote_help rh; }
    }",
);
$t->start();

sub run_client {
    my ($mode, $url) = @_;
    local $ENV{NODE_EXTRA_CA_CERTS} = "$dir/cert.pem";
    local $ENV{NODE_PATH} = $modules;
    my @lines = `"$node" "$js/graph_client.js" $mode $url sdk-token 2>&1`;
    my $status = $? >> 8;
    my $n = 0;
    for (@lines) {
        chomp;
        if (/^(not )?ok - (.*?)(?: # (.*))?$/) {
            ok(!$1, $2) or diag($3 // '');
            $n++;
        } else {
            diag($_);
        }
    }
    ok($n > 0, "$mode: the client ran");
    is($status, 0, "$mode: the client exited with 0");
}

run_client('tls', "https://127.0.0.1:$tls");
run_client('http', "http://127.0.0.1:$plain");
run_client('stock-http', "http://127.0.0.1:$plain");

done_testing();
