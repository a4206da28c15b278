#!/usr/bin/perl
# bench/tokens.pl DIR N: an RSA key (DIR/key.pem), its JWKS (DIR/jwks.json)
# and N RS256 tokens, one per line (DIR/tokens.txt), each valid for an
# hour, with the audience and issuer of bench/bench.sh's jwt target and
# DeviceManagementConfiguration.ReadWrite.All; signed with the openssl CLI.
use strict;
use warnings;
use JSON::PP;
use MIME::Base64 qw(encode_base64);

my ($dir, $n) = @ARGV;
my $json = JSON::PP->new->canonical;

sub b64url { my $s = encode_base64($_[0], ''); $s =~ tr{+/}{-_}; $s =~ s/=+$//; $s }

system("openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 "
    . "-out $dir/key.pem -quiet") == 0 or die "openssl genpkey: $?";
my ($hex) = `openssl rsa -in $dir/key.pem -noout -modulus` =~ /Modulus=([0-9A-F]+)/
    or die "no modulus";
open my $j, '>', "$dir/jwks.json" or die $!;
print $j $json->encode({ keys => [{ kty => 'RSA', kid => 'bench', alg => 'RS256',
    use => 'sig', n => b64url(pack('H*', $hex)), e => 'AQAB' }] });
close $j;

my $header = b64url($json->encode({ alg => 'RS256', kid => 'bench', typ => 'JWT' }));
open my $out, '>', "$dir/tokens.txt" or die $!;
for my $i (1 .. $n) {
    my $claims = b64url($json->encode({ aud => 'api://remote-help-bench',
        iss => 'https://issuer.bench', exp => time() + 3600, nbf => time() - 60,
        scp => 'DeviceManagementConfiguration.ReadWrite.All', jti => "t$i" }));
    open my $in, '>', "$dir/in" or die $!;
    print $in "$header.$claims";
    close $in;
    system("openssl dgst -sha256 -sign $dir/key.pem -out $dir/sig $dir/in") == 0
        or die "openssl dgst: $?";
    open my $s, '<:raw', "$dir/sig" or die $!;
    my $sig = do { local $/; <$s> };
    print $out "$header.$claims." . b64url($sig) . "\n";
}
close $out;
