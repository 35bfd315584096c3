package JailCtl::PSGI::Emperor;
# The emperor pipe (DESIGN.md, "Wire formats"): single bytes on a raw fd, never wrapped in
# a Perl handle (in an adopted vassal the C executor has replaced every fd, and a stale
# handle would one day close someone else's fd).
use strict;
use warnings;
use POSIX ();
use Exporter 'import';

# Vassal → emperor.
use constant {
    SPAWNED        => 1,
    CONFIG_REQUEST => 2,
    ACCEPTING      => 5,
    LOYAL          => 17,
    GOING_DOWN     => 22,
    HEARTBEAT      => 26,
};
# Emperor → vassal.
use constant {
    STOP          => 0,
    RELOAD        => 1,
    GRACEFUL_STOP => 2,
};

our @EXPORT_OK = qw(emperor_fd tell_emperor read_emperor);

# The fd named by JAIL_EMPEROR_FD (or uWSGI's UWSGI_EMPEROR_FD), or undef on our own.
sub emperor_fd {
    my ($env) = @_;
    my $fd = $env->{JAIL_EMPEROR_FD} // $env->{UWSGI_EMPEROR_FD};
    return defined $fd && $fd =~ /^\d+$/ ? 0 + $fd : undef;
}

# Sends one byte; a gone emperor is not an error here (its EOF stops the master).
sub tell_emperor {
    my ($fd, $byte) = @_;
    return if !defined $fd;
    local $SIG{PIPE} = 'IGNORE';
    for (1 .. 3) {
        my $n = POSIX::write($fd, chr($byte), 1);
        return if defined $n || !$!{EINTR};
    }
    return;
}

# After select() said readable: the bytes that arrived, or undef at EOF (or on an error
# other than EINTR/EAGAIN: the emperor is gone all the same).
sub read_emperor {
    my ($fd) = @_;
    my $buf = '';
    my $n = POSIX::read($fd, $buf, 64);
    return '' if !defined $n && ($!{EINTR} || $!{EAGAIN});
    return undef if !defined $n || $n == 0;    # at EOF POSIX::read says "0 but true"
    return $buf;
}

1;
