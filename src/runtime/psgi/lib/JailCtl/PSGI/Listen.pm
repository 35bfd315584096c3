package JailCtl::PSGI::Listen;
# The listening sockets a vassal serves on: fd 0 when it is a listening socket (the emperor
# holds it: on demand, and for adopted vassals, so it stays open across restarts), else the
# http-socket addresses, bound here (host:port, :port, [v6]:port or a UNIX path).
use strict;
use warnings;
use IO::Socket::IP;
use IO::Socket::UNIX;
use Socket qw(SOL_SOCKET SO_ACCEPTCONN SOCK_STREAM);
use JailCtl::PSGI::Log qw(logline);
use Exporter 'import';

our @EXPORT_OK = qw(listening_sockets is_listening activated_sockets);

use constant BACKLOG => 1024;

# True when the handle is a socket in the listening state.
sub is_listening {
    my ($fh) = @_;
    my $v = getsockopt($fh, SOL_SOCKET, SO_ACCEPTCONN);
    return defined $v && unpack('i', $v) != 0;
}

sub _bind {
    my ($address) = @_;
    if ($address =~ m{/}) {
        unlink $address if -S $address;    # a stale socket of an earlier run
        my $s = IO::Socket::UNIX->new(Type => SOCK_STREAM, Local => $address, Listen => BACKLOG)
            or die "http-socket = $address: cannot bind: $!\n";
        return $s;
    }
    my ($host, $port) = $address =~ /^(?:\[([^\]]*)\]|([^:]*)):(\d+)$/ ? ($1 // $2, $3) : ();
    die "http-socket = $address: expected HOST:PORT, :PORT or a UNIX socket path\n" if !defined $port;
    $host = '0.0.0.0' if $host eq '' || $host eq '*';
    my $s = IO::Socket::IP->new(LocalHost => $host, LocalPort => $port, Listen => BACKLOG, ReuseAddr => 1, Proto => 'tcp')
        or die "http-socket = $address: cannot bind: $@\n";
    return $s;
}

# sd_listen_fds(3): [{fh, name}] for the sockets at fd 3, 4, … when LISTEN_PID is our own
# pid (the emperor with socket-activation = systemd), else undef. The variables are unset
# either way, as sd_listen_fds(1) does: the workers and what the app runs must not take them.
sub activated_sockets {
    my $pid   = delete $ENV{LISTEN_PID};
    my $count = delete $ENV{LISTEN_FDS};
    my $names = delete $ENV{LISTEN_FDNAMES};
    return undef if !defined $pid || !defined $count || $pid !~ /^\d+$/ || $pid != $$;
    die "LISTEN_FDS=$count: expected a number of sockets from 1 to 64\n" if $count !~ /^\d+$/ || $count < 1 || $count > 64;
    my @names = split /:/, $names // '', -1;
    my @out;
    for my $i (0 .. $count - 1) {
        my $fd = 3 + $i;
        open(my $fh, '+<&=', $fd) or die "LISTEN_FDS=$count: fd $fd: $!\n";
        die "LISTEN_FDS=$count: fd $fd is not a listening socket\n" if !is_listening($fh);
        push @out, { fh => $fh, name => ($names[$i] // '') ne '' ? $names[$i] : "fd $fd" };
    }
    return \@out;
}

# [{fh, name}] for each socket to accept on: the activated ones (LISTEN_FDS), else fd 0 when
# it listens (the emperor bound it, for an adopted vassal from its http-socket lines too),
# else the http-socket addresses.
sub listening_sockets {
    my ($addresses) = @_;
    my $activated = activated_sockets();
    if ($activated) {
        logline("http-socket = $_: served through the sockets the emperor holds (LISTEN_FDS)") for @$addresses;
        return $activated;
    }
    if (is_listening(\*STDIN)) {
        logline("http-socket = $_: served through fd 0, the socket the emperor holds") for @$addresses;
        return [ { fh => \*STDIN, name => 'fd 0' } ];
    }
    return [ map { { fh => _bind($_), name => $_ } } @$addresses ] if @$addresses;
    die "nothing to listen on: set http-socket = HOST:PORT (or a socket path), or run on demand (fd 0)\n";
}

1;
