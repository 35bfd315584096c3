package JailCtl::PSGI::Master;
# The prefork master: keeps N workers accepting on the shared listening sockets, speaks the
# emperor protocol, reloads gracefully (a new generation first, then the old one finishes its
# requests: the sockets stay open throughout, so nothing is refused), and goes cheap when
# idle (no workers; the next connection waits in the backlog and brings them back).
use strict;
use warnings;
use Fcntl qw(F_GETFL F_SETFL O_NONBLOCK);
use POSIX qw(WNOHANG);
use Time::HiRes ();
use JailCtl::PSGI::Config qw(read_config_packet parse_ini host_options);
use JailCtl::PSGI::Emperor qw(tell_emperor read_emperor);
use JailCtl::PSGI::Listen qw(listening_sockets);
use JailCtl::PSGI::Log qw(logline);
use JailCtl::PSGI::Worker qw(run_worker WORKER_READY WORKER_SERVED WORKER_REQUEST);

# Seconds a retiring worker may take to finish before it is killed; and how long a reload
# waits for the emperor's config packet before it goes on with the config it has.
use constant { RETIRE_LIMIT => 30, CONFIG_WAIT => 10 };

# %a: options (Config::host_options), config_fd, emperor_fd (undef on our own), app (the
# app when it is loaded already: early-psgi, an adopted vassal), title (for workers' $0).
sub new {
    my ($class, %a) = @_;
    my $self = bless {
        options     => $a{options},
        config_fd   => $a{config_fd},
        emperor_fd  => $a{emperor_fd},
        app         => $a{app},
        title       => $a{title},
        sockets     => listening_sockets($a{options}{sockets}),
        workers     => {},
        stopping    => 0,
        announce    => 1,
        loyal       => 0,
        cheap       => 0,
        last_request => Time::HiRes::time(),
        status_buf  => '',
    }, $class;
    pipe(my $status_r, my $status_w) or die "pipe: $!\n";
    pipe(my $wake_r, my $wake_w) or die "pipe: $!\n";
    for my $fh ($status_r, $wake_r, $wake_w) {
        fcntl($fh, F_SETFL, fcntl($fh, F_GETFL, 0) | O_NONBLOCK) or die "fcntl: $!\n";
    }
    @$self{qw(status_r status_w wake_r wake_w)} = ($status_r, $status_w, $wake_r, $wake_w);
    return $self;
}

sub _tell { tell_emperor($_[0]{emperor_fd}, $_[1]) }

# Signals only note what to do; the self-pipe wakes the select() at once.
sub _on_signal {
    my ($self, $what) = @_;
    return sub {
        $self->{pending}{$what} = 1;
        syswrite $self->{wake_w}, 'x';
    };
}

# Runs until stopped; exits the process (0, or 1 when no worker could ever serve).
sub run {
    my ($self) = @_;
    $SIG{TERM} = $SIG{INT} = $self->_on_signal('graceful');
    $SIG{QUIT} = $self->_on_signal('now');
    $SIG{HUP}  = $self->_on_signal('reload');
    $SIG{CHLD} = $self->_on_signal('child');
    $SIG{PIPE} = 'IGNORE';
    my $o = $self->{options};
    logline(sprintf 'serving %s on %s with %d worker(s)', $self->{app} ? 'the preloaded app' : $o->{psgi},
        join(', ', map { $_->{name} } @{ $self->{sockets} }), $o->{processes});
    $self->_spawn_generation;
    while (1) {
        $self->_handle_pending;
        $self->_reap;
        $self->_check_idle;
        $self->_check_deadlines;
        my $rin = '';
        my @watch = (fileno $self->{status_r}, fileno $self->{wake_r});
        push @watch, $self->{emperor_fd} if defined $self->{emperor_fd};
        push @watch, map { fileno $_->{fh} } @{ $self->{sockets} } if $self->{cheap};
        vec($rin, $_, 1) = 1 for @watch;
        my $n = select(my $rout = $rin, undef, undef, 1);
        next if $n <= 0;
        sysread $self->{wake_r}, my $junk, 64 if vec($rout, fileno $self->{wake_r}, 1);
        $self->_read_status if vec($rout, fileno $self->{status_r}, 1);
        $self->_read_emperor if defined $self->{emperor_fd} && vec($rout, $self->{emperor_fd}, 1);
        $self->_wake if $self->{cheap} && grep { vec($rout, fileno $_->{fh}, 1) } @{ $self->{sockets} };
    }
}

sub _handle_pending {
    my ($self) = @_;
    my $p = delete $self->{pending} or return;
    $self->_stop(0) if $p->{now};
    $self->_stop(1) if $p->{graceful};
    $self->_reload if $p->{reload};
    return;
}

sub _read_emperor {
    my ($self) = @_;
    my $bytes = read_emperor($self->{emperor_fd});
    if (!defined $bytes) {
        logline('the emperor is gone (EOF on the emperor pipe); stopping');
        $self->_stop(0);
    }
    for my $b (unpack 'C*', $bytes) {
        if    ($b == JailCtl::PSGI::Emperor::STOP)          { $self->_stop(0) }
        elsif ($b == JailCtl::PSGI::Emperor::RELOAD)        { $self->_reload }
        elsif ($b == JailCtl::PSGI::Emperor::GRACEFUL_STOP) { $self->_stop(1) }
    }
    return;
}

sub _read_status {
    my ($self) = @_;
    while (sysread $self->{status_r}, my $chunk, 4096) { $self->{status_buf} .= $chunk }
    while (length $self->{status_buf} >= 5) {
        my ($type, $pid) = unpack 'C N', substr($self->{status_buf}, 0, 5, '');
        my $w = $self->{workers}{$pid} or next;
        if ($type == WORKER_READY) {
            $w->{ready} = 1;
            $self->{last_request} = Time::HiRes::time();    # the idle clock starts once it can serve
            $self->_retire_old_when_ready;
        } else {
            $self->{last_request} = Time::HiRes::time();
            if ($type == WORKER_SERVED && !$self->{loyal}++) {
                $self->_tell(JailCtl::PSGI::Emperor::LOYAL);
            }
        }
    }
    return;
}

sub _spawn_generation {
    my ($self) = @_;
    $self->_spawn_worker for 1 .. $self->{options}{processes};
    return;
}

sub _spawn_worker {
    my ($self) = @_;
    my $pid = fork;
    if (!defined $pid) {
        # A worker that could not even start never served.
        return $self->_worker_gone({ pid => 'none', ready => 0, retiring => 0 }, "fork: $!");
    }
    if ($pid == 0) {
        close $_ for @$self{qw(status_r wake_r wake_w)};
        $0 = "$self->{title} (worker)";
        run_worker({
            app        => $self->{app},
            app_path   => $self->{options}{psgi},
            sockets    => $self->{sockets},
            status_fd  => fileno $self->{status_w},
            emperor_fd => $self->{emperor_fd},
            heartbeat  => $self->{options}{heartbeat},
            master_pid => getppid(),
        });
    }
    $self->{workers}{$pid} = { pid => $pid, ready => 0, retiring => 0 };
    return;
}

sub _reap {
    my ($self) = @_;
    while ((my $pid = waitpid(-1, WNOHANG)) > 0) {
        my $status = $?;
        my $w = delete $self->{workers}{$pid} or next;
        my $how = $status & 127 ? 'signal ' . ($status & 127) : 'status ' . ($status >> 8);
        $self->_worker_gone($w, $how);
    }
    return;
}

sub _worker_gone {
    my ($self, $w, $how) = @_;
    if ($self->{stopping}) {
        $self->_exit(0) if !%{ $self->{workers} };
        return;
    }
    return if $w->{retiring};
    if (!$w->{ready}) {
        return if $self->_abandon_reload($how);
        # The app cannot even load: no use respawning here, the emperor's blacklist decides.
        logline("a worker died before it could serve ($how); exiting");
        kill 'KILL', keys %{ $self->{workers} };
        $self->_exit(1);
    }
    logline("worker $w->{pid} died ($how); replacing it");
    $self->_spawn_worker;
    return;
}

# Byte 1 or SIGHUP: read the config again (byte 2 asks the emperor for it), start a new
# generation, and retire the old one once every new worker is ready.
sub _reload {
    my ($self) = @_;
    return if $self->{stopping};
    $self->{previous} = $self->{options};
    if (defined $self->{config_fd}) {
        $self->_tell(JailCtl::PSGI::Emperor::CONFIG_REQUEST);
        my $rin = '';
        vec($rin, $self->{config_fd}, 1) = 1;
        if (select(my $rout = $rin, undef, undef, CONFIG_WAIT) > 0) {
            my $next = eval { host_options(parse_ini(read_config_packet($self->{config_fd}), '(config pipe)'), '.', '(config pipe)') };
            if ($next) {
                $next->{sockets} = $self->{options}{sockets};
                $self->{options} = $next;
            } else {
                logline("reload: the new config is unusable ($@); keeping the old one");
            }
        } else {
            logline('reload: no config from the emperor within ' . CONFIG_WAIT . ' s; keeping the old one');
        }
    }
    logline('reloading: new workers first, then the old ones finish their requests');
    $_->{retiring} ||= 1 for values %{ $self->{workers} };
    $self->{cheap} = 0;
    $self->{announce} = 1;
    $self->_spawn_generation;
    return;
}

# A reload whose new generation cannot serve (the app dies at load) must not take the
# working one down: the new workers go, the old ones stay, with their config.
sub _abandon_reload {
    my ($self, $how) = @_;
    # The old generation: every worker the reload marked, ready or still loading (one that
    # replaced a dead worker just before the reload); kept whole, or the one still loading
    # would be retired once it is ready.
    my @old = grep { $_->{retiring} && !$_->{signalled} } values %{ $self->{workers} };
    return 0 if !(grep { $_->{ready} } @old) || !$self->{previous};
    logline("reload failed: a new worker died before it could serve ($how); the " . scalar(@old)
        . ' old worker(s) keep serving the previous config');
    for my $w (values %{ $self->{workers} }) {
        next if $w->{retiring};
        $w->{retiring} = 1;
        kill 'KILL', $w->{pid};
    }
    $_->{retiring} = 0 for @old;
    $self->{options} = delete $self->{previous};
    $self->{announce} = 0;
    # Ready again, on the old config (the emperor waits for this after a reload byte).
    $self->_tell(JailCtl::PSGI::Emperor::SPAWNED);
    $self->_tell(JailCtl::PSGI::Emperor::ACCEPTING);
    return 1;
}

sub _retire_old_when_ready {
    my ($self) = @_;
    my @fresh = grep { !$_->{retiring} } values %{ $self->{workers} };
    return if !@fresh || grep { !$_->{ready} } @fresh;
    $self->_retire($_) for grep { $_->{retiring} } values %{ $self->{workers} };
    delete $self->{previous};
    return if !$self->{announce};
    $self->{announce} = 0;
    $self->_tell(JailCtl::PSGI::Emperor::SPAWNED);
    $self->_tell(JailCtl::PSGI::Emperor::ACCEPTING);
    return;
}

# SIGTERM: the worker finishes the request in hand and leaves; killed if it takes too long.
sub _retire {
    my ($self, $w) = @_;
    $w->{retiring} = 1;
    return if $w->{signalled};
    $w->{signalled} = Time::HiRes::time();
    kill 'TERM', $w->{pid};
    return;
}

sub _check_deadlines {
    my ($self) = @_;
    my $now = Time::HiRes::time();
    for my $w (values %{ $self->{workers} }) {
        next if !$w->{signalled} || $now - $w->{signalled} < RETIRE_LIMIT || $w->{killed}++;
        logline("worker $w->{pid} still busy " . RETIRE_LIMIT . ' s after it was asked to leave; killing it');
        kill 'KILL', $w->{pid};
    }
    if ($self->{options}{heartbeat} && $self->{cheap} && $now - ($self->{last_beat} // 0) >= $self->{options}{heartbeat}) {
        $self->{last_beat} = $now;    # no workers to beat: the master does
        $self->_tell(JailCtl::PSGI::Emperor::HEARTBEAT);
    }
    return;
}

sub _stop {
    my ($self, $graceful) = @_;
    return if $self->{stopping} && $graceful;
    $self->{stopping} = 1;
    $self->_exit(0) if !%{ $self->{workers} };
    if ($graceful) {
        $self->_retire($_) for values %{ $self->{workers} };
        return;
    }
    kill 'KILL', keys %{ $self->{workers} };
    while (%{ $self->{workers} }) {
        my $pid = waitpid(-1, 0);
        last if $pid <= 0;
        delete $self->{workers}{$pid};
    }
    $self->_exit(0);
}

# Idle: the workers go; the master waits on the sockets and brings them back on the next
# connection, which waits in the backlog meanwhile. die-on-idle: leave instead (byte 22).
sub _check_idle {
    my ($self) = @_;
    my $idle = $self->{options}{idle};
    return if !$idle || $self->{stopping} || $self->{cheap} || Time::HiRes::time() - $self->{last_request} < $idle;
    return if !grep { $_->{ready} && !$_->{retiring} } values %{ $self->{workers} };    # still loading
    if ($self->{options}{die_on_idle}) {
        logline("idle for $idle s: leaving (die-on-idle)");
        $self->_tell(JailCtl::PSGI::Emperor::GOING_DOWN);
        $self->_stop(1);
        return;
    }
    logline("idle for $idle s: workers stopped until the next connection");
    $self->_retire($_) for values %{ $self->{workers} };
    $self->{cheap} = 1;
    return;
}

sub _wake {
    my ($self) = @_;
    $self->{cheap} = 0;
    $self->{last_request} = Time::HiRes::time();
    logline('a connection: workers back');
    $self->_spawn_generation;
    return;
}

sub _exit {
    my ($self, $code) = @_;
    POSIX::_exit($code);
}

1;
