package RHRedis;

# A redis-server of a test's own (Debian's redis-server): on a free port,
# nothing saved (--save '' --appendonly no), in the foreground of a child
# process stopped by its pid at the end, also when the test dies.  cmd()
# runs a command through redis-cli.

use strict;
use warnings;

use File::Temp qw(tempdir);
use POSIX qw(WNOHANG);
use Time::HiRes qw(sleep time);

use RHTest;

our $SERVER = $ENV{REDIS_SERVER} // '/usr/bin/redis-server';
our $CLI = $ENV{REDIS_CLI} // '/usr/bin/redis-cli';

my @RUNNING;

sub available { -x $SERVER && -x $CLI }

# %opts: password, port
sub new {
    my ($class, %opts) = @_;

    my $self = bless {
        dir => tempdir('rh-redis-XXXXXX', TMPDIR => 1,
                       CLEANUP => !$ENV{RH_KEEP}),
        port => $opts{port} // RHTest::free_port(),
        password => $opts{password},
    }, $class;

    return $self->start();
}

sub port { $_[0]{port} }
sub pid { $_[0]{pid} }
sub address { "127.0.0.1:$_[0]{port}" }

sub start {
    my ($self) = @_;

    my @args = ('--port', $self->{port}, '--bind', '127.0.0.1',
                '--save', '', '--appendonly', 'no', '--dir', $self->{dir},
                '--logfile', "$self->{dir}/redis.log");
    push @args, '--requirepass', $self->{password} if $self->{password};

    my $pid = fork() // die "fork: $!";

    if ($pid == 0) {
        open STDOUT, '>>', "$self->{dir}/stdout.log";
        open STDERR, '>>', "$self->{dir}/stdout.log";
        exec($SERVER, @args) or POSIX::_exit(127);
    }

    $self->{pid} = $pid;
    $self->{owner} = $$;
    push @RUNNING, $self;

    my $deadline = time() + 10;

    while (time() < $deadline) {
        die "redis-server exited at start" if waitpid($pid, WNOHANG) == $pid;
        return $self if ($self->cmd('PING') // '') eq 'PONG';
        sleep 0.02;
    }

    die "redis-server did not answer on port $self->{port}";
}

# a command's output, chomped (undef: redis-cli failed)
sub cmd {
    my ($self, @args) = @_;

    my @cli = ($CLI, '-h', '127.0.0.1', '-p', $self->{port});
    push @cli, '--no-auth-warning', '-a', $self->{password}
        if $self->{password};

    my $pid = open(my $fh, '-|') // die "fork: $!";

    if ($pid == 0) {
        open STDERR, '>', '/dev/null';
        exec(@cli, @args) or POSIX::_exit(127);
    }

    my $out = do { local $/; <$fh> };
    close $fh;

    return undef if $? != 0;
    $out //= '';
    $out =~ s/\n\z//;
    return $out;
}

sub pause { kill 'STOP', $_[0]{pid} }
sub resume { kill 'CONT', $_[0]{pid} }

sub stop {
    my ($self) = @_;
    my $pid = delete $self->{pid} or return;

    @RUNNING = grep { defined $_ && $_ != $self } @RUNNING;

    kill 'CONT', $pid;
    kill 'KILL', $pid;
    waitpid($pid, 0);
}

sub DESTROY {
    my ($self) = @_;
    local $?;
    $self->stop() if $self->{pid} && $$ == ($self->{owner} // $$);
}

END {
    local $?;
    my @mine = grep { ($_->{owner} // 0) == $$ } @RUNNING;
    $_->stop() for @mine;
}

1;
