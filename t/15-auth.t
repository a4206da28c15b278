#!/usr/bin/perl

# remote_help_auth jwt and claims: tokens minted here with keys the test
# makes (openssl), a JWKS file it writes.  Every row of the permission
# table, delegated and application callers, a personal account, every
# failure of the SPEC's table (empty, unparsable, expired and not yet
# valid at the leeway's edges, wrong audience, wrong issuer, no exp,
# unknown kid, alg none, HS256 signed with the public key, a tampered
# payload after the original was accepted), ES256, a refused write that
# changes nothing, nginx -t with a missing or bad JWKS file, a reload
# that drops a key; claims through a map and through a real auth_request.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Digest::SHA qw(hmac_sha256);
use MIME::Base64 qw(encode_base64);
use RHTest qw(json_decode json_encode);

my $OPENSSL = '/usr/bin/openssl';
plan skip_all => "no $OPENSSL (make test installs it)" unless -x $OPENSSL;

my $t = RHTest->new(workers => 2);
my $dir = $t->dir;
my $set = '/beta/RemoteHelpSessionRetrieveResponse';
my $iss_tpl = 'https://login.microsoftonline.com/{tid}/v2.0';
my $tenant = '72f988bf-86f1-41af-91ab-2d7cd011db47';
my $aud = 'api://remote-help';

my $SC_R = 'DeviceManagementServiceConfig.Read.All';
my $SC_RW = 'DeviceManagementServiceConfig.ReadWrite.All';
my $C_R = 'DeviceManagementConfiguration.Read.All';
my $C_RW = 'DeviceManagementConfiguration.ReadWrite.All';

sub run {
    my @cmd = @_;
    system(@cmd) == 0 or die "@cmd: $?";
}

sub slurp {
    my ($f) = @_;
    open my $fh, '<:raw', $f or die "$f: $!";
    local $/;
    return <$fh>;
}

sub spit {
    my ($f, $data) = @_;
    open my $fh, '>:raw', $f or die "$f: $!";
    print $fh $data;
    close $fh;
}

sub b64url {
    my $s = encode_base64($_[0], '');
    $s =~ tr{+/}{-_};
    $s =~ s/=+$//;
    return $s;
}

# --- keys and the JWKS ------------------------------------------------------

run($OPENSSL, 'genpkey', '-algorithm', 'RSA', '-pkeyopt',
    'rsa_keygen_bits:2048', '-out', "$dir/rsa.pem", '-quiet');
run($OPENSSL, 'genpkey', '-algorithm', 'EC', '-pkeyopt',
    'ec_paramgen_curve:P-256', '-out', "$dir/ec.pem");
run($OPENSSL, 'genpkey', '-algorithm', 'RSA', '-pkeyopt',
    'rsa_keygen_bits:1024', '-out', "$dir/small.pem", '-quiet');
run("$OPENSSL pkey -in $dir/rsa.pem -pubout -out $dir/rsa.pub");

sub rsa_jwk {
    my ($pem, $kid) = @_;
    my ($hex) = `$OPENSSL rsa -in $pem -noout -modulus 2>/dev/null` =~ /Modulus=([0-9A-F]+)/;
    return { kty => 'RSA', kid => $kid, use => 'sig', alg => 'RS256',
        n => b64url(pack('H*', $hex)), e => 'AQAB' };
}

sub ec_jwk {
    my ($pem, $kid) = @_;
    my $der = `$OPENSSL pkey -in $pem -pubout -outform DER 2>/dev/null`;
    my $pt = substr($der, -65);
    return { kty => 'EC', kid => $kid, crv => 'P-256',
        x => b64url(substr($pt, 1, 32)), y => b64url(substr($pt, 33, 32)) };
}

my %jwk = (rsa => rsa_jwk("$dir/rsa.pem", 'rsa-1'),
    ec => ec_jwk("$dir/ec.pem", 'ec-1'),
    small => rsa_jwk("$dir/small.pem", 'small-1'));

sub jwks {
    my ($file, @keys) = @_;
    spit($file, json_encode({ keys => [ map { $jwk{$_} } @keys ] }));
}

jwks("$dir/jwks.json", qw(rsa ec));

# --- tokens -----------------------------------------------------------------

my $n = 0;

# header and claims (hashes) signed by $key ("rsa", "ec", "small")
sub sign {
    my ($key, $header, $claims) = @_;
    my $input = b64url(json_encode($header)) . '.' . b64url(json_encode($claims));
    $n++;
    spit("$dir/in$n", $input);
    run($OPENSSL, 'dgst', '-sha256', '-sign', "$dir/$key.pem", '-out',
        "$dir/sig$n", "$dir/in$n");
    my $sig = slurp("$dir/sig$n");
    if ($key eq 'ec') {
        # DER (SEQUENCE of two INTEGERs) to r || s
        my ($rl) = unpack('C', substr($sig, 3, 1));
        my $r = substr($sig, 4, $rl);
        my ($sl) = unpack('C', substr($sig, 5 + $rl, 1));
        my $s = substr($sig, 6 + $rl, $sl);
        $_ = substr("\0" x 32 . ($_ =~ s/^\0+//r), -32) for $r, $s;
        $sig = $r . $s;
    }
    return "$input." . b64url($sig);
}

# a valid token, with %over changing or (undef) removing claims
sub token {
    my (%opts) = @_;
    my $key = delete $opts{key} // 'rsa';
    my $header = delete $opts{header}
        // { alg => $key eq 'ec' ? 'ES256' : 'RS256', typ => 'JWT',
             kid => $key eq 'ec' ? 'ec-1' : $key eq 'small' ? 'small-1' : 'rsa-1' };
    my %claims = (aud => $aud, iss => "https://login.microsoftonline.com/$tenant/v2.0",
        tid => $tenant, exp => time() + 3600, nbf => time() - 60,
        scp => "$C_RW User.Read", oid => 'o-' . $n);
    for my $k (keys %opts) {
        if (defined $opts{$k}) { $claims{$k} = $opts{$k} } else { delete $claims{$k} }
    }
    return sign($key, $header, \%claims);
}

sub req {
    my ($method, $path, $token, $body) = @_;
    return $t->request($method, $path,
        auth => defined $token ? "Bearer $token" : undef,
        defined $body ? (body => json_encode($body)) : ());
}

sub refused {
    my ($r, $status, $message, $name) = @_;
    is($r->{status}, $status, "$name: $status");
    my $doc = eval { json_decode($r->{body}) } // {};
    is($doc->{error}{code}, $status == 401 ? 'InvalidAuthenticationToken' : 'Forbidden',
        "$name: code");
    is($doc->{error}{message}, $message, "$name: message");
    like($r->{headers}{'www-authenticate'} // '', qr/^Bearer/,
        "$name: WWW-Authenticate") if $status == 401;
}

# --- the server ---------------------------------------------------------------

my $port = $t->port;
my $conf = $t->default_config(
    http => "
    map \$http_authorization \$map_scp {
        'Bearer map-write' '$SC_RW';
        'Bearer map-read'  '$C_R';
        default '';
    }
    map \$http_authorization \$map_roles {
        'Bearer map-app' 'Other.Role,$C_RW';
        default '';
    }
    map \$http_x_token \$introspect_scp {
        'Bearer ar-read' '$SC_R';
        'Bearer ar-write' '$C_RW';
        'Bearer ar-personal' '$C_RW';
        default '';
    }
    map \$http_x_token \$introspect_tid {
        'Bearer ar-personal' '9188040d-6c67-4c5b-b112-36a304b66dad';
        default '$tenant';
    }",
    server => "
        location /beta/ {
            remote_help rh;
            remote_help_auth jwt;
            remote_help_jwt_keys %%PREFIX%%/jwks.json;
            remote_help_jwt_issuer \"$iss_tpl\" https://issuer.example;
            remote_help_jwt_audience $aud https://graph.microsoft.com;
            remote_help_jwt_leeway 30s;
        }
        location /map/beta/ {
            remote_help rh;
            remote_help_auth claims;
            remote_help_claims scp=\$map_scp roles=\$map_roles tid=\$http_x_tid;
        }
        location /ar/beta/ {
            auth_request /verify;
            auth_request_set \$ar_scp \$upstream_http_x_scp;
            auth_request_set \$ar_tid \$upstream_http_x_tid;
            remote_help rh;
            remote_help_auth claims;
            remote_help_claims scp=\$ar_scp tid=\$ar_tid;
        }
        location = /verify {
            internal;
            proxy_pass http://127.0.0.1:$port/introspect;
            proxy_pass_request_body off;
            proxy_set_header Content-Length '';
            proxy_set_header X-Token \$http_authorization;
        }
        location = /introspect {
            if (\$introspect_scp = '') { return 401; }
            add_header X-Scp \$introspect_scp;
            add_header X-Tid \$introspect_tid;
            return 204;
        }
        location = /status { remote_help_status rh; }");
$t->write_config($conf)->start();
$t->wait_workers(2);

# --- the permission table ------------------------------------------------------

my $k = 0;
for my $case (
    # [name, claims, read allowed, write allowed]
    ["delegated $SC_R", { scp => $SC_R }, 1, 0],
    ["delegated $SC_RW", { scp => "openid $SC_RW" }, 1, 1],
    ["delegated $C_R", { scp => $C_R }, 1, 0],
    ["delegated $C_RW", { scp => $C_RW }, 1, 1],
    ['delegated, none of them', { scp => 'User.Read Mail.Send' }, 0, 0],
    ["application $SC_R", { scp => undef, roles => [$SC_R] }, 1, 0],
    ["application $C_RW", { scp => undef, roles => ['X', $C_RW] }, 1, 1],
    ['application, no roles', { scp => undef }, 0, 0],
    ["a user token's roles grant nothing", { scp => 'User.Read', roles => [$C_RW] }, 0, 0],
) {
    my ($name, $claims, $read, $write) = @$case;
    my $tok = token(%$claims);
    $k++;
    my $r = req('POST', $set, $tok, { sessionKey => "perm$k" });
    if ($write) {
        is($r->{status}, 201, "$name: POST allowed");
        is(req('PATCH', "$set/perm$k", $tok, { deviceName => 'x' })->{status}, 200,
            "$name: PATCH allowed");
    } else {
        refused($r, 403, 'Application is not authorized to perform this operation. '
            . "Application must have one of the following scopes: $SC_RW, $C_RW",
            "$name: POST");
        is(req('GET', "$set/perm$k", token(scp => $C_RW))->{status}, 404,
            "$name: the refused POST created nothing");
        req('POST', $set, token(scp => $C_RW), { sessionKey => "perm$k" });
        refused(req('PATCH', "$set/perm$k", $tok, { deviceName => 'x' }), 403,
            'Application is not authorized to perform this operation. '
            . "Application must have one of the following scopes: $SC_RW, $C_RW",
            "$name: PATCH");
        refused(req('DELETE', "$set/perm$k", $tok), 403,
            'Application is not authorized to perform this operation. '
            . "Application must have one of the following scopes: $SC_RW, $C_RW",
            "$name: DELETE");
    }
    if ($read) {
        is(req('GET', "$set/perm$k", $tok)->{status}, 200, "$name: GET allowed");
        is(req('GET', $set, $tok)->{status}, 200, "$name: listing allowed");
        is(req('HEAD', "$set/perm$k", $tok)->{status}, 200, "$name: HEAD allowed");
    } else {
        refused(req('GET', "$set/perm$k", $tok), 403,
            'Application is not authorized to perform this operation. '
            . "Application must have one of the following scopes: $SC_R, $SC_RW, $C_R, $C_RW",
            "$name: GET");
        is(req('GET', $set, $tok)->{status}, 403, "$name: listing refused");
    }
}

is(req('GET', $set, token(key => 'ec', scp => $C_R))->{status}, 200, 'ES256: accepted');

refused(req('GET', $set, token(tid => '9188040d-6c67-4c5b-b112-36a304b66dad',
    iss => 'https://login.microsoftonline.com/9188040d-6c67-4c5b-b112-36a304b66dad/v2.0')),
    401, 'Access token validation failure.', 'a personal Microsoft account');

# --- every failure -------------------------------------------------------------

refused(req('GET', $set, undef), 401, 'Access token is empty.', 'no Authorization');
refused(req('GET', $set, ''), 401, 'Access token is empty.', 'an empty token');
is(req('GET', $set, undef)->{headers}{'www-authenticate'}, 'Bearer',
    'no token: WWW-Authenticate: Bearer');
for my $bad ('abc', 'a.b', 'a.b.c.d', '!!.!!.!!', b64url('[1]') . '.' . b64url('{}') . '.AA') {
    refused(req('GET', $set, $bad), 401,
        'CompactToken parsing failed with error code: 80049217', "unparsable '$bad'");
}

my $now = time();
refused(req('GET', $set, token(exp => $now - 40)), 401,
    'Access token has expired or is not yet valid.', 'exp 40 s ago (leeway 30 s)');
is(req('GET', $set, token(exp => $now - 20))->{status}, 200, 'exp 20 s ago: within the leeway');
refused(req('GET', $set, token(nbf => $now + 40)), 401,
    'Access token has expired or is not yet valid.', 'nbf in 40 s');
is(req('GET', $set, token(nbf => $now + 20))->{status}, 200, 'nbf in 20 s: within the leeway');
refused(req('GET', $set, token(aud => 'api://other')), 401,
    'Access token validation failure. Invalid audience.', 'another audience');
refused(req('GET', $set, token(aud => undef)), 401,
    'Access token validation failure. Invalid audience.', 'no audience');
is(req('GET', $set, token(aud => ['api://other', 'https://graph.microsoft.com']))->{status},
    200, 'an audience array with one of ours');
refused(req('GET', $set, token(iss => 'https://evil.example')), 401,
    'Access token validation failure.', 'another issuer');
refused(req('GET', $set, token(iss => 'https://login.microsoftonline.com/other/v2.0')), 401,
    'Access token validation failure.', "an issuer of another tenant than the token's tid");
is(req('GET', $set, token(iss => 'https://issuer.example', tid => undef))->{status}, 200,
    'the other issuer, without {tid}');
refused(req('GET', $set, token(exp => undef)), 401,
    'Access token validation failure.', 'no exp');
refused(req('GET', $set, token(header => { alg => 'RS256', kid => 'nope' })), 401,
    'Access token validation failure.', 'an unknown kid');
refused(req('GET', $set, token(header => { alg => 'RS256' })), 401,
    'Access token validation failure.', 'no kid');
refused(req('GET', $set, token(header => { alg => 'ES256', kid => 'rsa-1' })), 401,
    'Access token validation failure.', "a kid of another algorithm's key");

my $input = b64url(json_encode({ alg => 'none', kid => 'rsa-1' })) . '.'
    . b64url(json_encode({ aud => $aud, exp => $now + 600, scp => $C_RW,
        iss => 'https://issuer.example' }));
refused(req('GET', $set, "$input."), 401, 'Access token validation failure.', 'alg none');

my $hs_input = b64url(json_encode({ alg => 'HS256', kid => 'rsa-1' })) . '.'
    . b64url(json_encode({ aud => $aud, exp => $now + 600, scp => $C_RW,
        iss => 'https://issuer.example' }));
my $hs = "$hs_input." . b64url(hmac_sha256($hs_input, slurp("$dir/rsa.pub")));
refused(req('GET', $set, $hs), 401, 'Access token validation failure.',
    'HS256 signed with the public key');

# a token accepted, then its payload changed under the same signature
my $good = token(scp => $C_R);
is(req('GET', $set, $good)->{status}, 200, 'a read token accepted');
my ($h, $p, $s) = split /\./, $good;
my $claims = json_decode(MIME::Base64::decode_base64($p =~ tr/-_/+\//r
    . '=' x ((4 - length($p) % 4) % 4)));
$claims->{scp} = $C_RW;
my $tampered = join('.', $h, b64url(json_encode($claims)), $s);
refused(req('POST', $set, $tampered, { sessionKey => 'tampered' }), 401,
    'Access token validation failure.', 'its payload changed, the signature kept');
is(req('GET', "$set/tampered", $good)->{status}, 404, 'and nothing was written');
my $resigned = substr($good, 0, -4) . (substr($good, -4, 1) eq 'A' ? 'B' : 'A') . substr($good, -3);
refused(req('GET', $set, $resigned), 401, 'Access token validation failure.',
    'its signature changed');
is(req('GET', $set, $good)->{status}, 200, 'the original still accepted (cached)');

refused(req('GET', $set, token(key => 'small', header => { alg => 'RS256', kid => 'small-1' })),
    401, 'Access token validation failure.', 'a key of 1024 bits is not in the set');

# --- claims: a map and a real auth_request --------------------------------------

my $map = '/map/beta/RemoteHelpSessionRetrieveResponse';
is(req('POST', $map, 'map-write', { sessionKey => 'm1' })->{status}, 201,
    'claims via map: a write scope writes');
is(req('GET', "$map/m1", 'map-read')->{status}, 200, 'claims via map: a read scope reads');
is(req('POST', $map, 'map-read', { sessionKey => 'm2' })->{status}, 403,
    'claims via map: a read scope does not write');
is(req('POST', $map, 'map-app', { sessionKey => 'm3' })->{status}, 201,
    'claims via map: an application (no scp) by its roles');
is(req('GET', "$map/m1", 'nobody')->{status}, 403, 'claims via map: nothing claimed');
refused(req('GET', "$map/m1", undef), 401, 'Access token is empty.', 'claims: no token');
is($t->request('GET', "$map/m1", auth => 'Bearer map-read',
    headers => ['X-Tid' => '9188040d-6c67-4c5b-b112-36a304b66dad'])->{status}, 401,
    'claims via map: a personal account');

my $ar = '/ar/beta/RemoteHelpSessionRetrieveResponse';
is(req('GET', "$ar/m1", 'ar-read')->{status}, 200, 'auth_request: a read scope reads');
is(req('POST', $ar, 'ar-read', { sessionKey => 'a1' })->{status}, 403,
    'auth_request: a read scope does not write');
is(req('POST', $ar, 'ar-write', { sessionKey => 'a1' })->{status}, 201,
    'auth_request: a write scope writes');
is(req('GET', "$ar/m1", 'ar-unknown')->{status}, 401,
    'auth_request: the verifier refuses, nginx answers 401');
is(req('GET', "$ar/m1", 'ar-personal')->{status}, 401,
    'auth_request: a personal account');

# --- configuration: JWKS files, a reload that drops a key ------------------------

my $tok_rsa = token(scp => $C_R);
my $tok_ec = token(key => 'ec', scp => $C_R);
is(req('GET', $set, $tok_rsa)->{status}, 200, 'before the reload: RSA');

for my $case (['missing', undef, qr/open\(\) ".*nope\.json" failed/],
              ['not JSON', 'not json', qr/".*bad\.json" is not a JWKS file/],
              ['no keys', '{"keys":[]}', qr/".*bad\.json" has no usable key/],
              ['small RSA only', json_encode({ keys => [$jwk{small}] }),
                  qr/".*bad\.json" has no usable key/]) {
    my ($name, $text, $re) = @$case;
    my $file = defined $text ? 'bad.json' : 'nope.json';
    spit("$dir/bad.json", $text) if defined $text;
    (my $c = $conf) =~ s{%%PREFIX%%/jwks\.json}{%%PREFIX%%/$file};
    my $t2 = RHTest->new();
    $t2->write_config($c =~ s/%%PREFIX%%/$dir/gr);
    my ($rc, $out) = $t2->test_config();
    isnt($rc, 0, "nginx -t: a JWKS file $name fails");
    like($out, $re, "nginx -t: $name, named");
}

jwks("$dir/jwks.json", qw(ec));
ok($t->reload(), 'reload with the RSA key dropped');
refused(req('GET', $set, $tok_rsa), 401, 'Access token validation failure.',
    'after the reload: the dropped key is not trusted, cache or not');
is(req('GET', $set, $tok_ec)->{status}, 200, 'after the reload: the EC key is');

$t->stop();
unlike($t->read_file('error.log'), qr/\[(alert|emerg|crit)\]/, 'nothing went wrong');

done_testing();
