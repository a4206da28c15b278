#!/usr/bin/perl

# Every stored key can be addressed: a sessionKey is at most 1,024 bytes
# and has no control character, otherwise 400 and nothing is stored; the
# longest key of four-byte characters (3,072 bytes percent-encoded) works
# for GET, PATCH and DELETE with nginx's default large_client_header_buffers;
# a key that breaks the rule but was stored before it (in a state file)
# still loads and can be read and deleted through its URL.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Compress::Zlib qw(crc32);
use RHTest qw(json_decode);

my $ext = '/beta/ExtendRemoteHelpSessionResponse';
my $ret = '/beta/RemoteHelpSessionRetrieveResponse';

my ($uid, $gid) = (getpwnam('nobody'))[2, 3];

my $t = RHTest->new();
my $state = $t->dir . '/state';
mkdir $state or die "mkdir $state: $!";
chown $uid, $gid, $state if $> == 0;

$t->config(http => 'client_max_body_size 2m;',
    zone => "remote_help_zone zone=rh:8m state=$state/rh.state;",
    server => 'location /beta/ { remote_help rh; }
        location = /status { remote_help_status rh; }')->start();

sub objects {
    my $doc = json_decode($t->get('/status')->{body});
    my $n = 0;
    $n += $_ for values %{ $doc->{objects} };
    return $n;
}

sub refused {
    my ($set, $key, $message, $name) = @_;
    my $r = $t->post($set, { sessionKey => $key });
    is($r->{status}, 400, "$name: 400");
    my $doc = eval { json_decode($r->{body}) } || {};
    is($doc->{error}{code}, 'BadRequest', "$name: BadRequest");
    like($doc->{error}{message} // '', $message, "$name: the rule is named");
    ok(!defined $r->{headers}{location}, "$name: no Location");
}

# percent-encodes every byte but the unreserved ones
sub enc {
    my ($s) = @_;
    utf8::encode($s);
    $s =~ s/([^A-Za-z0-9_.~-])/sprintf('%%%02X', ord $1)/ge;
    return $s;
}

my $long = qr/^The property 'sessionKey' is the key of type 'microsoft\.graph\.\w+' and cannot be longer than 1024 bytes \(UTF-8\)/;
my $ctl = qr/^The property 'sessionKey' is the key of type 'microsoft\.graph\.\w+' and cannot contain a control character \(U\+0000 to U\+001F, U\+007F\)/;

# --- refused ----------------------------------------------------------------

refused($ext, 'k' x (1024 * 1024), $long, 'a key of 1 MB');
refused($ret, "\x{1F600}" x 10_000, $long, 'a key of 10,000 four-byte characters');
refused($ext, 'k' x 1025, qr/$long; the value has 1025\./, 'a key of 1,025 bytes');
refused($ret, "\x{1F600}" x 257, qr/$long; the value has 1028\./,
    'a key of 257 four-byte characters');
refused($ext, "a\x{0}b", qr/$ctl: U\+0000 at byte 1\./, 'a key with U+0000');
refused($ext, "\x{1F}", qr/$ctl: U\+001F at byte 0\./, 'a key with U+001F');
refused($ext, "ab\x{7F}", qr/$ctl: U\+007F at byte 2\./, 'a key with U+007F');
refused($ret, "line\nbreak", qr/$ctl: U\+000A/, 'a key with a line feed');
is(objects(), 0, 'nothing was stored');

# a PATCH cannot bring such a key in either (it must equal the URL's)
is($t->post($ext, { sessionKey => 'plain' })->{status}, 201, 'plain key');
my $r = $t->patch("$ext/plain", { sessionKey => "pl\x{0}ain" });
is($r->{status}, 400, 'PATCH with a control character in the key: 400');
is(json_decode($t->get("$ext/plain")->{body})->{sessionKey}, 'plain',
    'the object is unchanged');
is($t->delete("$ext/plain")->{status}, 204, 'plain key deleted');

# --- the longest keys work everywhere ------------------------------------------

for my $case ([$ret, "\x{1F600}" x 256, '256 four-byte characters'],
    [$ext, 'k' x 1024, '1,024 ASCII bytes'],
    [$ret, ("\x{A0}\x{80}x" x 204) . 'ab', '1,022 bytes of U+00A0, U+0080'])
{
    my ($set, $key, $name) = @$case;
    my $bytes = $key;
    utf8::encode($bytes);
    cmp_ok(length $bytes, '<=', 1024, "$name: within the rule")
        and cmp_ok(length $bytes, '>=', 1020, "$name: at the rule's edge");

    $r = $t->post($set, { sessionKey => $key });
    is($r->{status}, 201, "$name: created");
    my $loc = $r->{headers}{location} // '';
    my $url = "$set/" . enc($key);
    like($loc, qr{^http://[^/]+\Q$url\E$}, "$name: Location is the percent-encoded key");

    $r = $t->get($url);
    is($r->{status}, 200, "$name: GET " . length($url) . '-byte URL');
    is(eval { json_decode($r->{body})->{sessionKey} }, $key, "$name: the key reads back");

    $r = $t->get("$set('" . enc($key) . "')");
    is($r->{status}, 200, "$name: GET in the quoted form");

    $r = $t->patch($url, $set eq $ret ? { deviceName => 'two' }
        : { acsHelperUserToken => 'two' });
    is($r->{status}, 200, "$name: PATCH");

    $r = $t->delete($url);
    is($r->{status}, 204, "$name: DELETE");
    is($t->get($url)->{status}, 404, "$name: gone");
}
is(objects(), 0, 'the zone is empty again');

# --- a key stored before the rule -------------------------------------------

# A state file written by an older build may hold a key the rule refuses
# now: it loads, and it can be read and deleted through its URL.  Such a
# record is made here by editing one of this build's: the key "aXb" becomes
# "a\x7Fb" (a raw DEL is valid JSON inside a string), CRCs recomputed.

is($t->post($ret, { sessionKey => 'aXb', deviceName => 'legacy' })->{status},
    201, 'object to edit in the state file');
$t->stop();

{
    my $file = "$state/rh.state";
    open my $fh, '<:raw', $file or die "$file: $!";
    local $/;
    my $data = <$fh>;
    close $fh;

    my ($off, $edited) = (16, 0);
    while ($off + 12 <= length $data) {
        my $len = unpack('V', substr($data, $off, 4));
        my $rec = substr($data, $off + 12, $len);
        if ($rec =~ s/aXb/a\x7Fb/g) {
            my $head = pack('VV', $len, crc32($rec));
            substr($data, $off, 12 + $len) = $head . pack('V', crc32($head)) . $rec;
            $edited++;
        }
        $off += 12 + $len;
    }
    is($edited, 1, 'one record edited');

    open $fh, '>:raw', $file or die "$file: $!";
    print $fh $data;
    close $fh;
}

$t->start();
$r = $t->get("$ret/a%7Fb");
is($r->{status}, 200, 'a key with U+007F from a state file loads and reads');
is(eval { json_decode($r->{body})->{deviceName} }, 'legacy', 'its value');
is($t->post($ret, { sessionKey => "a\x{7F}b" })->{status}, 400,
    'the same key is refused for a new object');
is($t->delete("$ret/a%7Fb")->{status}, 204, 'and it can be deleted');
is($t->get("$ret/a%7Fb")->{status}, 404, 'gone');
is(objects(), 0, 'the zone is empty');

$t->stop();

done_testing();
