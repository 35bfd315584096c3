package JailCtl::PSGI::Native;
# The executor's fork-server entry points (libjailexec.so, named by JAIL_EXEC_LIB), called
# through FFI::Platypus, and the few raw system calls the base makes on bare fd numbers.
# Nothing here wraps an fd in a Perl handle: in an adopted vassal the C side has closed every
# fd its plan does not name, and a stale handle would later close someone else's fd.
use strict;
use warnings;
use FFI::Platypus 2.00;
use FFI::Platypus::Buffer qw(scalar_to_buffer);
use POSIX ();
use Exporter 'import';

our @EXPORT_OK = qw(native set_nonblocking peer_credentials);

BEGIN { require 'syscall.ph' }    ## no critic: h2ph's numbers for this kernel ABI

use constant { F_GETFL => 3, F_SETFL => 4, O_NONBLOCK => 0x800, SOL_SOCKET => 1, SO_PEERCRED => 17 };

my $native;

# The library's functions, bound once: {listen, accept, serve, settle, adopted_argv, adopted_env}.
sub native {
    return $native if $native;
    my $lib = $ENV{JAIL_EXEC_LIB} // die "JAIL_EXEC_LIB is not set: the fork server needs libjailexec.so\n";
    die "JAIL_EXEC_LIB = $lib: not a file\n" if !-f $lib;
    my $ffi = FFI::Platypus->new(api => 2, lib => [$lib]);
    # Attached (XSUBs): a call costs an adopted vassal a fraction of a function object's.
    my %sig = (
        # int jail_fork_server_listen(const char *path): the listening fd, or -errno
        listen => [ jail_fork_server_listen => ['string'] => 'int' ],
        # int jail_fork_server_accept(int listen_fd): a close-on-exec connection, or -errno
        accept => [ jail_fork_server_accept => ['int'] => 'int' ],
        # int jail_fork_server_serve(int conn, pid_t emperor, uid_t uid): M's pid, 0 in V, -errno
        serve => [ jail_fork_server_serve => [ 'int', 'int', 'unsigned int' ] => 'int' ],
        # int jail_fork_server_settle(void): 0, or -errno (the filter is built by each vassal)
        settle => [ jail_fork_server_settle => [] => 'int' ],
        # const char *jail_adopted_argv(int i), jail_adopted_env(int i): NULL after the last
        adopted_argv => [ jail_adopted_argv => ['int'] => 'string' ],
        adopted_env  => [ jail_adopted_env  => ['int'] => 'string' ],
    );
    $native = {};
    for my $name (keys %sig) {
        my ($c, $args, $ret) = @{ $sig{$name} };
        $ffi->attach([ $c => "_$name" ] => $args => $ret);
        $native->{$name} = __PACKAGE__->can("_$name");
    }
    return $native;
}

my $getsockopt;

# SO_PEERCRED of a connected UNIX socket's raw fd: (pid, uid, gid), or () on an error.
sub peer_credentials {
    my ($fd) = @_;
    $getsockopt //= FFI::Platypus->new(api => 2, lib => [undef])->function(getsockopt => [ 'int', 'int', 'int', 'opaque', 'int*' ] => 'int');
    my $cred = "\0" x 12;
    my ($ptr) = scalar_to_buffer($cred);
    my $len = length $cred;
    return () if $getsockopt->($fd, SOL_SOCKET, SO_PEERCRED, $ptr, \$len) < 0;
    return unpack 'l L L', $cred;
}

# O_NONBLOCK on a raw fd (our own listening socket: a connection reset before we accept it
# must not leave accept() waiting).
sub set_nonblocking {
    my ($fd) = @_;
    my $flags = syscall(&SYS_fcntl, $fd, F_GETFL, 0);
    return -1 if $flags < 0;
    return syscall(&SYS_fcntl, $fd, F_SETFL, $flags | O_NONBLOCK);
}

1;
