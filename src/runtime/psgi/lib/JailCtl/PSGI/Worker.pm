package JailCtl::PSGI::Worker;
# A worker of the prefork master: loads the app (unless the master has it already: early-psgi,
# or an adopted vassal), accepts on the shared listening sockets and serves one connection at
# a time. SIGTERM retires it: the request in hand is finished, nothing more is accepted, it
# exits 0. It tells the master what it does on the status pipe, and beats (byte 26) on the
# emperor pipe itself, so a worker stuck in the app stops the beats of that worker.
use strict;
use warnings;
use POSIX ();
use Time::HiRes ();
use Plack::Util;
use Scalar::Util ();
use overload ();
use JailCtl::PSGI::HTTP qw(serve_connection);
use JailCtl::PSGI::Emperor qw(tell_emperor);
use JailCtl::PSGI::Log qw(logline);
use Exporter 'import';

our @EXPORT_OK = qw(run_worker load_app worker_message WORKER_READY WORKER_SERVED WORKER_REQUEST);

# Worker → master, on the status pipe: one 5-byte record (type, pid), atomic in a pipe.
use constant {
    WORKER_READY   => 1,    # the app is loaded, accepting
    WORKER_SERVED  => 2,    # its first response is out
    WORKER_REQUEST => 3,    # a request (at most twice a second): the master's idle clock
};

# Longest a blocked accept() may wait: another worker may have taken the connection that
# woke us, and a retiring worker must not sit in accept() until the next one comes.
use constant ACCEPT_LIMIT => 2;

# The app from a .psgi file (Plack::Util::load_psgi), or dies saying why.
sub load_app {
    my ($path) = @_;
    my $app = Plack::Util::load_psgi($path);
    die "$path: the file must return a PSGI app (a code ref), got " . (defined $app ? "`$app`" : 'undef') . "\n"
        if ref $app ne 'CODE' && !(Scalar::Util::blessed($app) && overload::Method($app, '&{}'));
    return $app;
}

sub _report {
    my ($status_fd, $type) = @_;
    POSIX::write($status_fd, pack('C N', $type, $$), 5);
    return;
}

# Right after fork: the worker's own signals, seed and app (Starman's child_init_hook).
# Returns the app, or exits 1 when it cannot load (the master tells the emperor).
sub child_init_hook {
    my ($w, $retiring) = @_;
    $SIG{TERM} = $SIG{INT} = sub { $$retiring = 1 };
    $SIG{QUIT} = sub { POSIX::_exit(0) };
    $SIG{HUP}  = 'IGNORE';
    $SIG{CHLD} = 'DEFAULT';
    $SIG{PIPE} = 'IGNORE';
    $SIG{ALRM} = sub { };
    srand();
    my $app = $w->{app} // eval { load_app($w->{app_path}) };
    if (!$app) {
        logline("cannot load the app: $@");
        POSIX::_exit(1);
    }
    return $app;
}

# In the worker, after fork. $w: {app (loaded) or app_path, sockets [{fh}], status_fd,
# emperor_fd, heartbeat, master_pid}. Never returns.
sub run_worker {
    my ($w) = @_;
    my $retiring = 0;
    my $app = child_init_hook($w, \$retiring);
    _report($w->{status_fd}, WORKER_READY);

    my ($served, $last_report, $last_beat) = (0, 0, 0);
    my $beat = sub {
        return if !$w->{heartbeat} || !defined $w->{emperor_fd};
        my $now = Time::HiRes::time();
        return if $now - $last_beat < $w->{heartbeat};
        $last_beat = $now;
        tell_emperor($w->{emperor_fd}, JailCtl::PSGI::Emperor::HEARTBEAT);
    };
    my $ctx = {
        retiring   => sub { $retiring },
        post_header_hook => sub {
            my $now = Time::HiRes::time();
            return if $now - $last_report < 0.5;
            $last_report = $now;
            _report($w->{status_fd}, WORKER_REQUEST);
        },
        post_response_hook => sub {
            _report($w->{status_fd}, WORKER_SERVED) if !$served++;
            $beat->();
        },
    };
    my $rin = '';
    vec($rin, fileno($_->{fh}), 1) = 1 for @{ $w->{sockets} };
    my $tick = $w->{heartbeat} && $w->{heartbeat} < 1 ? $w->{heartbeat} : 1;
    while (!$retiring) {
        $beat->();
        POSIX::_exit(0) if getppid() != $w->{master_pid};    # the master is gone
        my $n = select(my $rout = $rin, undef, undef, $tick);
        next if $n <= 0 || $retiring;
        for my $s (@{ $w->{sockets} }) {
            next if !vec($rout, fileno($s->{fh}), 1);
            alarm ACCEPT_LIMIT;
            my $ok = accept(my $conn, $s->{fh});
            alarm 0;
            next if !$ok;
            my $why = serve_connection($conn, $app, $ctx);
            close $conn;
            if ($why eq 'harakiri') {
                logline('the app asked this worker to leave (psgix.harakiri.commit)');
                POSIX::_exit(0);
            }
            last if $retiring;
        }
    }
    POSIX::_exit(0);
}

1;
