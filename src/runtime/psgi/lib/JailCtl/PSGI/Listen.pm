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

our @EXPORT_OK = qw(listening_sockets is_listening);

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

# [{fh, name}] for each socket to accept on: fd 0 when it listens (the emperor bound it, for
# an adopted vassal from its http-socket lines too), else the http-socket addresses.
sub listening_sockets {
    my ($addresses) = @_;
    if (is_listening(\*STDIN)) {
        logline("http-socket = $_: served through fd 0, the socket the emperor holds") for @$addresses;
        return [ { fh => \*STDIN, name => 'fd 0' } ];
    }
    return [ map { { fh => _bind($_), name => $_ } } @$addresses ] if @$addresses;
    die "nothing to listen on: set http-socket = HOST:PORT (or a socket path), or run on demand (fd 0)\n";
}

1;
