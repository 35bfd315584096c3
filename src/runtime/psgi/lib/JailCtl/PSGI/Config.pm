package JailCtl::PSGI::Config;
# The host's options, from the emperor's config pipe (one uwsgi packet, modifier1 115,
# holding ini text: `[uwsgi]` and `key = value` lines, already expanded) or from a file
# named by `--ini FILE` when the host runs on its own. Only the host's own keys matter.
use strict;
use warnings;
use Cwd ();
use File::Basename ();
use File::Spec;
use POSIX ();
use Exporter 'import';

our @EXPORT_OK = qw(read_config_packet parse_ini host_options load_host_options);

# The keys this host reads; every other key of the packet belongs to the jail.
my %BOOL = map { $_ => 1 } ('', '1', 'true', 'yes', 'on');

# Reads exactly $n bytes from a raw fd (blocking), or dies saying what was cut short.
sub _read_exactly {
    my ($fd, $n, $what) = @_;
    my $buf = '';
    while (length $buf < $n) {
        my $chunk = '';
        my $got = POSIX::read($fd, $chunk, $n - length $buf);
        if (!defined $got) {
            next if $!{EINTR};
            die "cannot read the config pipe (fd $fd): $!\n";
        }
        die "the emperor closed the config pipe before sending $what\n" if $got == 0;
        $buf .= $chunk;
    }
    return $buf;
}

# One uwsgi packet from a raw fd: a 4-byte header (modifier1, u16le size, modifier2),
# then the body, returned as text.
sub read_config_packet {
    my ($fd) = @_;
    my ($mod1, $size) = unpack 'C v', _read_exactly($fd, 4, 'the config');
    my $body = _read_exactly($fd, $size, 'the whole config');
    return $body;
}

# ini text → list of {key, value, line}, from the `[uwsgi]` or `[jail]` section (or from
# before any section). `;` and `#` start comments.
sub parse_ini {
    my ($text, $origin) = @_;
    my @entries;
    my $section = '';
    my $n = 0;
    for my $line (split /\r?\n/, $text) {
        $n++;
        next if $line =~ /^\s*(?:[;#].*)?$/;
        if ($line =~ /^\s*\[\s*([^\]]*?)\s*\]\s*$/) {
            $section = $1;
            next;
        }
        next if $section ne '' && $section ne 'uwsgi' && $section ne 'jail';
        my ($key, $value) = $line =~ /^\s*([^=]+?)\s*=\s*(.*?)\s*$/
            or die "$origin:$n: expected `key = value`, got `$line`\n";
        push @entries, { key => $key, value => $value, line => $n };
    }
    return \@entries;
}

sub _last {
    my ($entries, @keys) = @_;
    my %want = map { $_ => 1 } @keys;
    my ($e) = grep { $want{ $_->{key} } } reverse @$entries;
    return $e;
}

sub _number {
    my ($e, $fallback, $min, $origin) = @_;
    return $fallback if !$e;
    my $v = $e->{value};
    die "$origin:$e->{line}: $e->{key}: expected a whole number >= $min, got `$v`\n"
        if $v !~ /^\d+$/ || $v < $min;
    return 0 + $v;
}

sub _path {
    my ($e, $base) = @_;
    return undef if !$e || $e->{value} eq '';
    return File::Spec->file_name_is_absolute($e->{value}) ? $e->{value} : File::Spec->rel2abs($e->{value}, $base);
}

# The host's options from config entries; $base resolves relative paths.
#   psgi, early_psgi: absolute app paths (or undef); fork_server: the base's socket path;
#   sockets: http-socket addresses (empty: fd 0 must be the listening socket);
#   processes, heartbeat, idle (seconds), die_on_idle.
sub host_options {
    my ($entries, $base, $origin) = @_;
    my $protocol = _last($entries, 'protocol');
    die "$origin:$protocol->{line}: protocol: only `http` is supported, got `$protocol->{value}`\n"
        if $protocol && $protocol->{value} ne 'http';
    my %o = (
        psgi        => _path(_last($entries, 'psgi'), $base),
        early_psgi  => _path(_last($entries, 'early-psgi'), $base),
        fork_server => _path(_last($entries, 'fork-server'), $base),
        sockets     => [ map { $_->{value} } grep { $_->{key} eq 'http-socket' && $_->{value} ne '' } @$entries ],
        processes   => _number(_last($entries, 'processes', 'workers'), 1, 1, $origin),
        heartbeat   => _number(_last($entries, 'heartbeat'), 0, 0, $origin),
        idle        => _number(_last($entries, 'idle'), 0, 0, $origin),
        die_on_idle => do { my $e = _last($entries, 'die-on-idle'); $e && $BOOL{ lc $e->{value} } ? 1 : 0 },
    );
    return \%o;
}

# Where the config comes from: the emperor's config pipe when the environment names it,
# else `--ini FILE` on the command line (relative paths: the file's `chdir`, else its
# directory). Returns (options, config fd or undef).
sub load_host_options {
    my ($argv, $env) = @_;
    my $pipe = $env->{JAIL_EMPEROR_FD_CONFIG} // $env->{UWSGI_EMPEROR_FD_CONFIG};
    if (defined $pipe && $pipe =~ /^\d+$/) {
        my $text = read_config_packet($pipe);
        return (host_options(parse_ini($text, '(config pipe)'), Cwd::getcwd(), '(config pipe)'), 0 + $pipe);
    }
    my ($i) = grep { $argv->[$_] eq '--ini' } 0 .. $#$argv;
    die "usage: jailctl-psgi.pl --ini FILE (or run under the emperor)\n" if !defined $i || !defined $argv->[ $i + 1 ];
    my $file = File::Spec->rel2abs($argv->[ $i + 1 ]);
    open my $fh, '<', $file or die "$file: $!\n";
    my $text = do { local $/; <$fh> };
    close $fh;
    my $entries = parse_ini($text, $file);
    my $dir = File::Basename::dirname($file);
    my $chdir = _last($entries, 'chdir');
    my $base = $chdir ? File::Spec->rel2abs($chdir->{value}, $dir) : $dir;
    return (host_options($entries, $base, $file), undef);
}

1;
