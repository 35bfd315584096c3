package JailCtl::PSGI::ForkServer;
# The fork-server base (docs/FORK-SERVER.md, "A base vassal"): with the app loaded, it binds
# its socket through the executor (jail_fork_server_listen), says ready and accepting, and
# serves adoptions until the emperor says otherwise. Everything here works on raw fd
# numbers: see Native.pm for why. In the adopted vassal jail_fork_server_serve returns 0
# and so does run_base: the caller goes on as that vassal, with the app it already has.
use strict;
use warnings;
use Errno qw(EINTR EAGAIN ECONNABORTED EPERM);
use IO::Handle ();
use POSIX qw(WNOHANG);
use JailCtl::PSGI::Emperor qw(tell_emperor read_emperor);
use JailCtl::PSGI::Log qw(logline);
use JailCtl::PSGI::Native qw(native set_nonblocking peer_credentials);
use Exporter 'import';

our @EXPORT_OK = qw(run_base);

sub _errno_text {
    my ($neg) = @_;
    local $! = -$neg;
    my %names = map { my $n = $_; (Errno->can($n)->() => $n) } grep { Errno->can($_) } @Errno::EXPORT_OK;
    return ($names{ -$neg } // 'errno ' . -$neg) . " ($!)";
}

# The base's process, reaped without waiting: the middle process M exits at once.
sub _reap_middles {
    while ((my $pid = waitpid(-1, WNOHANG)) > 0) {
        my $st = $?;
        next if $st == 0;
        logline("adoption: the middle process $pid ended with " . ($st & 127 ? 'signal ' . ($st & 127) : 'status ' . ($st >> 8)));
    }
    return;
}

# True when our pid differs from the one the host sees (NSpid has more than one entry).
sub _own_pid_namespace {
    open my $fh, '<', '/proc/self/status' or return 0;
    my ($line) = grep { /^NSpid:/ } <$fh>;
    close $fh;
    return $line && (() = $line =~ /\d+/g) > 1 ? 1 : 0;
}

# The first writable shared mapping of ours (/proc/self/maps perms with w and s): its path,
# '[anon]', or undef when there is none. The executor's middle process refuses every
# adoption while one exists (stage prepare, EBUSY): the vassals would share it.
sub _writable_shared_mapping {
    open my $fh, '<', '/proc/self/maps' or return undef;
    while (my $line = <$fh>) {
        my (undef, $perms, undef, undef, undef, $path) = split ' ', $line, 6;
        next if !$perms || substr($perms, 1, 1) ne 'w' || substr($perms, 3, 1) ne 's';
        close $fh;
        $path //= '';
        $path =~ s/\s+\z//;
        return length $path ? $path : '[anon]';
    }
    close $fh;
    return undef;
}

# Seconds between two looks for a writable shared mapping while adoptions come in.
use constant MAPS_CHECK_EVERY => 5;

# Logs one warning for a writable shared mapping (again only once it has gone and come
# back, or another is first): the base cannot tell otherwise why adoptions fail.
my $warned_mapping = '';
sub _warn_shared_mapping {
    my $m = _writable_shared_mapping() // '';
    logline("fork server: warning: a writable shared mapping ($m) is in this base's memory; every adoption will be refused (prepare: EBUSY) while it exists")
        if length $m && $m ne $warned_mapping;
    $warned_mapping = $m;
    return;
}

# Runs the base: returns only in an adopted vassal (with %ENV, @ARGV and $0 its own); the
# base itself exits 0 on byte 0, 1 or 2 or EOF on its emperor pipe.
sub run_base {
    my ($path, $emperor_fd, $heartbeat) = @_;
    my $n = native();
    my $lfd = $n->{listen}->($path);
    die "fork-server = $path: cannot listen: " . _errno_text($lfd) . "\n" if $lfd < 0;
    set_nonblocking($lfd) >= 0 or die "fork-server = $path: O_NONBLOCK: $!\n";
    my $stop = '';
    local $SIG{TERM} = sub { $stop = 'SIGTERM' };
    local $SIG{INT}  = sub { $stop = 'SIGINT' };
    local $SIG{HUP}  = sub { $stop = 'SIGHUP' };    # a reload: a new base loads the new code
    local $SIG{PIPE} = 'IGNORE';
    logline("fork server: the app is loaded; serving adoptions on $path");
    logline('fork server: warning: this base runs in a pid namespace of its own; the emperor cannot be told apart from others, every adoption will be refused')
        if _own_pid_namespace();
    _warn_shared_mapping();
    # Last before serving: the base's memory readied for the forks (the executor's settle.c).
    my $settled = $n->{settle}->();
    logline('fork server: warning: the default seccomp filter could not be built ahead: ' . _errno_text($settled)
        . '; every adopted vassal builds its own') if $settled < 0;
    tell_emperor($emperor_fd, JailCtl::PSGI::Emperor::SPAWNED);
    tell_emperor($emperor_fd, JailCtl::PSGI::Emperor::ACCEPTING);
    my ($last_beat, $last_maps_check) = (0, time);
    while (1) {
        _reap_middles();
        if ($heartbeat && time - $last_beat >= $heartbeat) {
            $last_beat = time;
            tell_emperor($emperor_fd, JailCtl::PSGI::Emperor::HEARTBEAT);
        }
        if ($stop) {
            logline("fork server: $stop; leaving");
            POSIX::_exit(0);
        }
        my $rin = '';
        vec($rin, $lfd, 1) = 1;
        vec($rin, $emperor_fd, 1) = 1 if defined $emperor_fd;
        my $ready = select(my $rout = $rin, undef, undef, 1);
        next if $ready <= 0;
        if (defined $emperor_fd && vec($rout, $emperor_fd, 1)) {
            my $bytes = read_emperor($emperor_fd);
            if (!defined $bytes) {
                logline('fork server: the emperor is gone (EOF on the emperor pipe); leaving');
                POSIX::_exit(0);
            }
            for my $b (unpack 'C*', $bytes) {
                next if $b > 2;
                logline('fork server: ' . ($b == 1 ? 'reload: leaving, so that a new base loads the new code' : 'stop'));
                POSIX::_exit(0);
            }
        }
        next if !vec($rout, $lfd, 1);
        my $conn = $n->{accept}->($lfd);
        if ($conn < 0) {
            logline('fork server: accept: ' . _errno_text($conn)) if $conn != -EAGAIN && $conn != -ECONNABORTED;
            next;
        }
        # The emperor is our parent; a child subreaper's uid is its /proc directory's owner.
        my $emperor = getppid();
        my $uid = (stat "/proc/$emperor")[4] // 0;
        # Not on every request: reading the maps costs the base copied pages after each fork.
        if (time - $last_maps_check >= MAPS_CHECK_EVERY) {
            $last_maps_check = time;
            _warn_shared_mapping();
        }
        # The vassal is a fork of us: whatever Perl still buffers would be written again by it.
        STDOUT->flush;
        STDERR->flush;
        my $ret = $n->{serve}->($conn, $emperor, $uid);
        return _become_adopted($n) if $ret == 0;
        my ($peer_pid, $peer_uid) = $ret == -EPERM ? peer_credentials($conn) : ();
        POSIX::close($conn);
        next if $ret > 0;    # M's pid: reaped above, on the next turn
        if ($ret == -EPERM) {
            logline('fork server: refused a connection from pid ' . ($peer_pid // '?') . ' uid ' . ($peer_uid // '?')
                . ", not the emperor (pid $emperor uid $uid): " . _errno_text($ret) . '; nothing forked');
        } else {
            logline('fork server: an adoption request failed: ' . _errno_text($ret));
        }
    }
}

# In V: the request's argv and the plan's environment replace ours.
sub _become_adopted {
    my ($n) = @_;
    my (@argv, %env);
    for (my $i = 0; defined(my $a = $n->{adopted_argv}->($i)); $i++) { push @argv, $a }
    for (my $i = 0; defined(my $e = $n->{adopted_env}->($i)); $i++) {
        my ($k, $v) = split /=/, $e, 2;
        $env{$k} = $v // '';
    }
    %ENV = %env;
    # argv is what a spawned vassal would run: perl, this script, its arguments.
    my @args = @argv > 1 && $argv[1] =~ /jailctl-psgi/ ? @argv[ 2 .. $#argv ] : @argv[ 1 .. $#argv ];
    @ARGV = @args;
    $0 = join ' ', grep { defined } $argv[1], @args;
    srand();
    $SIG{$_} = 'DEFAULT' for qw(TERM INT HUP QUIT CHLD PIPE ALRM);
    return 1;
}

1;
