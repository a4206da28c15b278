#!/usr/bin/perl

# The Debian package (SPEC section 13): "make deb" builds it with Debian's
# own tooling for nginx modules; lintian finds no error in it; it holds
# the module, its load_module snippet, the docs and the copyright, and
# depends on the nginx ABI it was built for and on libyajl2.  Installed
# with apt-get, the stock /etc/nginx/nginx.conf loads the module
# (nginx -t), and a conf.d/ file with a zone and a location serves the
# API from an nginx started on that configuration (its default site left
# out: it listens on port 80); removed, the module, the snippet and the
# link are gone and nginx -t passes again.  It changes the system's
# nginx, so it runs as root only, and leaves alone a system where the
# package is installed already.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use File::Temp qw(tempdir);
use IO::Socket::INET;
use Test::More;
use RHTest qw(json_decode);

my $root = "$FindBin::Bin/..";
my $pkg = 'libnginx-mod-http-remote-help';
my $so = '/usr/lib/nginx/modules/ngx_http_remote_help_module.so';
my $snippet = '/usr/share/nginx/modules-available/mod-http-remote-help.conf';
my $link = '/etc/nginx/modules-enabled/50-mod-http-remote-help.conf';

plan skip_all => 'installs a package: run as root' unless $> == 0;
plan skip_all => 'not a Debian system with nginx (/etc/nginx/nginx.conf)'
    unless -x '/usr/bin/apt-get' && -f '/etc/nginx/nginx.conf';

sub installed {
    my $status = `dpkg-query -W -f='\${Status}' $pkg 2>/dev/null`;
    return $status =~ /^install ok installed/;
}

plan skip_all => "$pkg is installed on this system already: left alone"
    if installed();

my $dir = tempdir('rh-deb-XXXXXX', TMPDIR => 1, CLEANUP => 1);
chmod 0755, $dir;
my $confd = "/etc/nginx/conf.d/zz-remote-help-test-$$.conf";
my ($pid_file, $we_installed);

END {
    unlink $confd;
    if ($pid_file && open my $fh, '<', $pid_file) {
        my $pid = <$fh>;
        kill 'TERM', $pid if $pid;
    }
    system("apt-get remove -y -qq $pkg >/dev/null 2>&1")
        if $we_installed && installed();
}

# --- the build -------------------------------------------------------------

my $out = `make -C $root deb 2>&1`;
is($?, 0, 'make deb: exit 0') or diag substr($out, -3000);

my $version = `dpkg-parsechangelog -l $root/debian/changelog -S Version`;
chomp $version;
my $arch = `dpkg --print-architecture`;
chomp $arch;
my $deb = "$root/build/${pkg}_${version}_$arch.deb";
ok(-f $deb, "build/${pkg}_${version}_$arch.deb is there")
    or BAIL_OUT('no package');

my $lintian = do { local $/; open my $fh, '<', "$root/build/deb/lintian.log";
                   $fh ? <$fh> : undef };
ok(defined $lintian, 'lintian ran');
unlike($lintian // 'E: none', qr/^E:/m, 'lintian: no error');
note("lintian:\n" . ($lintian || "nothing\n"));

my $contents = `dpkg-deb -c $deb`;
for my $file ('./usr/lib/nginx/modules/ngx_http_remote_help_module.so',
              './usr/share/nginx/modules-available/mod-http-remote-help.conf',
              "./usr/share/doc/$pkg/copyright") {
    like($contents, qr/ \Q$file\E$/m, "the package holds $file");
}
for my $doc (qw(README.md api.md directives.md nginx.conf)) {
    like($contents, qr{ \./usr/share/doc/$pkg/\Q$doc\E(\.gz)?$}m,
        "the package holds the doc $doc");
}
my $depends = `dpkg-deb -f $deb Depends`;
my ($abi) = `cat /usr/share/nginx/src/debian/libnginx-mod.abisubstvars`
    =~ /^nginx:abi=(\S+)/m;
like($depends, qr/\Q$abi\E/, "it depends on the nginx ABI it was built for ($abi)");
like($depends, qr/\blibyajl2\b/, 'it depends on libyajl2');

# --- installed ---------------------------------------------------------------

$out = `apt-get install -y -qq $deb 2>&1`;
is($?, 0, 'apt-get install ./build/...deb: exit 0') or diag $out;
$we_installed = 1;

ok(-f $so, "the module is in $so");
ok(-f $snippet, "its snippet is $snippet");
is(readlink($link), $snippet, "$link links to it");
like(`cat $snippet`, qr{^load_module modules/ngx_http_remote_help_module\.so;$}m,
    'the snippet loads the module');

$out = `nginx -t 2>&1`;
is($?, 0, 'nginx -t on the stock nginx.conf: passes with the module loaded')
    or diag $out;

my $port = RHTest::free_port();
open my $fh, '>', $confd or die "$confd: $!";
print $fh <<"EOF";
remote_help_zone zone=remote_help_test_$$:1m;
server {
    listen 127.0.0.1:$port;
    location /beta/ { remote_help remote_help_test_$$; }
}
EOF
close $fh;

$out = `nginx -t 2>&1`;
is($?, 0, 'nginx -t with a conf.d/ file using the module: passes') or diag $out;

# the stock nginx.conf as it is, but its pid, logs and the default site
my $conf = do { local $/; open my $c, '<', '/etc/nginx/nginx.conf' or die;
                <$c> };
$pid_file = "$dir/nginx.pid";
$conf =~ s{^\s*pid\s+[^;]+;}{pid $pid_file;}m or die 'no pid in nginx.conf';
$conf =~ s{^\s*error_log\s+[^;]+;}{error_log $dir/error.log;}mg;
$conf =~ s{^\s*access_log\s+[^;]+;}{access_log $dir/access.log;}mg;
$conf =~ s{^\s*include /etc/nginx/sites-enabled/\*;}{}m
    or die 'no sites-enabled include in nginx.conf';
$conf = "error_log $dir/error.log;\n$conf" unless $conf =~ /^error_log/m;
open $fh, '>', "$dir/nginx.conf" or die;
print $fh $conf;
close $fh;

system('/usr/sbin/nginx', '-c', "$dir/nginx.conf", '-e', "$dir/error.log") == 0
    or BAIL_OUT('nginx did not start: ' . `cat $dir/error.log`);

my $up = 0;
for (1 .. 200) {
    if (IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port", Timeout => 1)) {
        $up = 1;
        last;
    }
    select(undef, undef, undef, 0.05);
}
ok($up, 'the installed module serves on its port');

my $base = "http://127.0.0.1:$port/beta/ExtendRemoteHelpSessionResponse";
my $code = `curl -s -o $dir/post.json -w '%{http_code}' -H 'Authorization: Bearer t' -H 'Content-Type: application/json' -d '{"sessionKey":"installed"}' $base`;
is($code, 201, 'POST through the installed module: 201');
my $got = `curl -s -H 'Authorization: Bearer t' $base/installed`;
is(eval { json_decode($got)->{sessionKey} }, 'installed', 'GET reads it back');

open my $p, '<', $pid_file or die;
my $master = <$p>;
close $p;
kill 'QUIT', $master;
for (1 .. 200) {
    last unless kill 0, $master;
    select(undef, undef, undef, 0.05);
}
ok(!kill(0, $master), 'that nginx stopped');
$pid_file = undef;

# --- removed -----------------------------------------------------------------

unlink $confd;
$out = `apt-get remove -y -qq $pkg 2>&1`;
is($?, 0, 'apt-get remove: exit 0') or diag $out;
$we_installed = 0;
ok(!-e $so, 'the module is gone');
ok(!-e $snippet, 'the snippet is gone');
ok(!-l $link && !-e $link, 'the link is gone');
$out = `nginx -t 2>&1`;
is($?, 0, 'nginx -t passes again') or diag $out;

done_testing();
