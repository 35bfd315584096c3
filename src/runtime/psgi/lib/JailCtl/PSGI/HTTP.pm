package JailCtl::PSGI::HTTP;
# HTTP/1.x for one accepted connection, on Plack's pieces (its request-head parser, its
# header and body helpers): requests are served one after another (keep-alive) until the
# client closes, the keep-alive wait runs out, or the worker is retiring, in which case
# the request in hand is answered with `Connection: close` and nothing more is read.
use strict;
use warnings;
use HTTP::Status ();
use Plack::HTTPParser qw(parse_http_request);
use Plack::Util;
# psgi.input is an in-memory handle (Stream::Buffered): its layer is loaded here, once, not by
# every worker at its first request (in an adopted vassal that is a fresh read and dlopen).
use PerlIO::scalar ();
use Scalar::Util ();
use Socket qw(AF_INET AF_INET6 AF_UNIX inet_ntop unpack_sockaddr_in unpack_sockaddr_in6 sockaddr_family);
use Stream::Buffered;
use Time::HiRes ();
use JailCtl::PSGI::Log qw(logline);
use Exporter 'import';

our @EXPORT_OK = qw(serve_connection);

use constant {
    HEAD_LIMIT => 64 * 1024,
    CHUNK      => 64 * 1024,
    # Seconds a client has to send a request once it has begun, or its first request.
    READ_TIMEOUT => 30,
    # Seconds an idle keep-alive connection is kept. It is advertised (`Keep-Alive:
    # timeout=N`) so that clients such as undici stop reusing it a second before we close.
    KEEPALIVE_TIMEOUT => 3,
};

# Waits until $fh is readable or $seconds pass (signals do not cut the wait short).
sub _readable {
    my ($fh, $seconds) = @_;
    my $end = Time::HiRes::time() + $seconds;
    while (1) {
        my $left = $end - Time::HiRes::time();
        return 0 if $left <= 0;
        my $rin = '';
        vec($rin, fileno($fh), 1) = 1;
        my $n = select(my $rout = $rin, undef, undef, $left);
        return 1 if $n > 0;
        return 0 if $n < 0 && !$!{EINTR};
    }
}

# Appends what arrives to $$buf; false at EOF, on an error or when $deadline passes.
sub _read_more {
    my ($fh, $buf, $deadline) = @_;
    while (1) {
        return 0 if !_readable($fh, $deadline - Time::HiRes::time());
        my $n = sysread($fh, $$buf, CHUNK, length $$buf);
        return $n > 0 ? 1 : 0 if defined $n;
        return 0 if !$!{EINTR} && !$!{EAGAIN};
    }
}

# Writes all of $data, or dies (the client is gone: nothing more to do on this connection).
sub _write_all {
    my ($fh, $data) = @_;
    my $off = 0;
    while ($off < length $data) {
        my $n = syswrite($fh, $data, length($data) - $off, $off);
        if (!defined $n) {
            next if $!{EINTR} || $!{EAGAIN};
            die "client gone: $!\n";
        }
        $off += $n;
    }
    return;
}

sub _addr {
    my ($packed) = @_;
    return ('', 0) if !defined $packed || length $packed < 2;
    my $family = sockaddr_family($packed);
    if ($family == AF_INET) {
        my ($port, $ip) = unpack_sockaddr_in($packed);
        return (inet_ntop(AF_INET, $ip), $port);
    }
    if ($family == AF_INET6) {
        my ($port, $ip) = unpack_sockaddr_in6($packed);
        return (inet_ntop(AF_INET6, $ip), $port);
    }
    return ('127.0.0.1', 0);    # a UNIX socket: a local peer
}

# Reads the request body (Content-Length or chunked) into a Stream::Buffered; false when
# the client does not send it whole in time.
sub _read_body {
    my ($c, $buf, $env) = @_;
    my $deadline = Time::HiRes::time() + READ_TIMEOUT;
    if (lc($env->{HTTP_EXPECT} // '') eq '100-continue' && $env->{SERVER_PROTOCOL} eq 'HTTP/1.1') {
        _write_all($c, "HTTP/1.1 100 Continue\r\n\r\n");
        delete $env->{HTTP_EXPECT};
    }
    if (lc($env->{HTTP_TRANSFER_ENCODING} // '') eq 'chunked') {
        my $body = Stream::Buffered->new(0);
        my $total = 0;
        while (1) {
            while ($$buf !~ /\r?\n/) { return undef if !_read_more($c, $buf, $deadline) }
            $$buf =~ s/\A([0-9a-fA-F]+)[^\r\n]*\r?\n// or return undef;
            my $size = hex $1;
            if ($size == 0) {
                # trailers, up to the empty line
                while ($$buf !~ /\A\r?\n/) {
                    if ($$buf =~ s/\A[^\r\n]*\r?\n//) { next }
                    return undef if !_read_more($c, $buf, $deadline);
                }
                $$buf =~ s/\A\r?\n//;
                last;
            }
            while (length $$buf < $size + 2) { return undef if !_read_more($c, $buf, $deadline) }
            $body->print(substr($$buf, 0, $size));
            substr($$buf, 0, $size) = '';
            $$buf =~ s/\A\r?\n// or return undef;
            $total += $size;
        }
        delete $env->{HTTP_TRANSFER_ENCODING};
        $env->{CONTENT_LENGTH} = $total;
        return $body->rewind;
    }
    my $len = $env->{CONTENT_LENGTH} // 0;
    return undef if $len !~ /^\d+$/;
    my $body = Stream::Buffered->new($len);
    while ($len > 0) {
        return undef if !length $$buf && !_read_more($c, $buf, $deadline);
        my $take = length $$buf < $len ? length $$buf : $len;
        $body->print(substr($$buf, 0, $take));
        substr($$buf, 0, $take) = '';
        $len -= $take;
    }
    return $body->rewind;
}

# The status line and headers; says whether the body goes chunked and whether the
# connection stays open after it.
sub _head {
    my ($env, $status, $headers, $length, $keep) = @_;
    my $proto = $env->{SERVER_PROTOCOL} eq 'HTTP/1.1' ? 'HTTP/1.1' : 'HTTP/1.0';
    my @lines = ("$proto $status " . (HTTP::Status::status_message($status) // 'Unknown'));
    my ($has_length, $has_te);
    Plack::Util::header_iter($headers, sub {
        my ($k, $v) = @_;
        my $lk = lc $k;
        if ($lk eq 'connection') { $keep = 0 if lc($v) =~ /\bclose\b/; return }
        return if $lk eq 'keep-alive';
        $has_length = 1 if $lk eq 'content-length';
        $has_te = 1 if $lk eq 'transfer-encoding';
        $v =~ s/\015?\012\s*/ /g;    # no header splitting through a value
        push @lines, "$k: $v";
    });
    my $no_body = Plack::Util::status_with_no_entity_body($status) || $env->{REQUEST_METHOD} eq 'HEAD';
    my $chunked = 0;
    if ($has_te) {
        $keep = 0;    # the app frames its own body: the end of the connection ends it
    } elsif (!$no_body && !$has_length) {
        if (defined $length) { push @lines, "Content-Length: $length" }
        elsif ($proto eq 'HTTP/1.1') { push @lines, 'Transfer-Encoding: chunked'; $chunked = 1 }
        else { $keep = 0 }
    }
    push @lines, $keep ? ('Connection: keep-alive', 'Keep-Alive: timeout=' . KEEPALIVE_TIMEOUT) : 'Connection: close';
    return (join("\r\n", @lines) . "\r\n\r\n", $chunked, $keep, $no_body);
}

# Sends a PSGI response ([status, headers, body] or [status, headers] then a writer);
# returns (keep-alive, the writer or undef).
sub _respond {
    my ($c, $env, $res, $keep) = @_;
    my ($status, $headers, $body) = @$res;
    my $length = defined $body ? Plack::Util::content_length($body) : undef;
    my ($head, $chunked, $keep_after, $no_body) = _head($env, $status, $headers, $length, $keep);
    if (!defined $body) {
        _write_all($c, $head);
        my $closed = 0;
        my $writer = Plack::Util::inline_object(
            write => sub {
                my ($data) = @_;
                return if $no_body || !defined $data || !length $data;
                _write_all($c, $chunked ? sprintf("%x\r\n%s\r\n", length $data, $data) : $data);
            },
            close => sub {
                return if $closed++;
                _write_all($c, "0\r\n\r\n") if $chunked && !$no_body;
            },
        );
        return ($keep_after, $writer, \$closed);
    }
    if ($no_body) {
        $body->close if Scalar::Util::blessed($body) && $body->can('close');
        _write_all($c, $head);
        return ($keep_after);
    }
    if (ref $body eq 'ARRAY' && !$chunked) {
        _write_all($c, join '', $head, grep { defined } @$body);
        return ($keep_after);
    }
    _write_all($c, $head);
    Plack::Util::foreach($body, sub {
        my ($data) = @_;
        return if !defined $data || !length $data;
        _write_all($c, $chunked ? sprintf("%x\r\n%s\r\n", length $data, $data) : $data);
    });
    _write_all($c, "0\r\n\r\n") if $chunked;
    return ($keep_after);
}

sub _error {
    my ($c, $status) = @_;
    my $msg = HTTP::Status::status_message($status);
    eval { _write_all($c, "HTTP/1.0 $status $msg\r\nContent-Type: text/plain\r\nContent-Length: " . (length($msg) + 1) . "\r\nConnection: close\r\n\r\n$msg\n") };
    return;
}

# Serves the requests of one connection with $app. $ctx, named by lifecycle point as in
# Starman: {retiring => sub (true: answer with `Connection: close`), post_header_hook => sub
# (a request head was read), post_response_hook => sub (its response is out)}. Returns
# 'harakiri' when the app asked this worker to leave (psgix.harakiri.commit), else ''.
sub serve_connection {
    my ($c, $app, $ctx) = @_;
    my ($server_addr, $server_port) = _addr(getsockname($c));
    my ($remote_addr, $remote_port) = _addr(getpeername($c));
    my $buf = '';
    my $served = 0;
    while (1) {
        my %env;
        my $deadline = Time::HiRes::time() + ($served ? KEEPALIVE_TIMEOUT : READ_TIMEOUT);
        my $started = 0;
        my $hlen;
        while (1) {
            if (length $buf) {
                if (!$started) {
                    $started = 1;
                    $deadline = Time::HiRes::time() + READ_TIMEOUT;
                }
                $hlen = parse_http_request($buf, \%env);
                last if $hlen >= 0;
                return _error($c, 400) // '' if $hlen == -2;
                return _error($c, 431) // '' if length $buf > HEAD_LIMIT;
            }
            return '' if !_read_more($c, \$buf, $deadline);
        }
        substr($buf, 0, $hlen) = '';
        $ctx->{post_header_hook}->();
        my $conn = lc($env{HTTP_CONNECTION} // '');
        my $keep = $env{SERVER_PROTOCOL} eq 'HTTP/1.1' ? $conn !~ /\bclose\b/ : $conn =~ /\bkeep-alive\b/;
        my $input = _read_body($c, \$buf, \%env);
        return _error($c, 400) // '' if !$input;
        %env = (
            %env,
            SERVER_NAME            => $server_addr,
            SERVER_PORT            => $server_port,
            REMOTE_ADDR            => $remote_addr,
            REMOTE_PORT            => $remote_port,
            'psgi.version'         => [ 1, 1 ],
            'psgi.url_scheme'      => 'http',
            'psgi.input'           => $input,
            'psgi.errors'          => *STDERR,
            'psgi.multithread'     => Plack::Util::FALSE,
            'psgi.multiprocess'    => Plack::Util::TRUE,
            'psgi.run_once'        => Plack::Util::FALSE,
            'psgi.nonblocking'     => Plack::Util::FALSE,
            'psgi.streaming'       => Plack::Util::TRUE,
            'psgix.input.buffered' => Plack::Util::TRUE,
            'psgix.harakiri'       => Plack::Util::TRUE,
        );
        my $answered = 0;
        my $ok = eval {
            my $res = $app->(\%env);
            if (ref $res eq 'CODE') {
                my $writer_closed;
                $res->(sub {
                    my ($r) = @_;
                    $answered = 1;
                    my ($k, $writer, $closed) = _respond($c, \%env, $r, $keep && !$ctx->{retiring}->());
                    ($keep, $writer_closed) = ($k, $closed);
                    return $writer;
                });
                # A writer left open ends with the connection (a synchronous server).
                $keep = 0 if $writer_closed && !$$writer_closed;
            } elsif (ref $res eq 'ARRAY') {
                $answered = 1;
                ($keep) = _respond($c, \%env, $res, $keep && !$ctx->{retiring}->());
            } else {
                die "the app returned " . (defined $res ? "`$res`" : 'undef') . ", not a PSGI response\n";
            }
            1;
        };
        if (!$ok) {
            my $err = $@;
            return '' if $err =~ /^client gone/;
            logline("$env{REQUEST_METHOD} $env{REQUEST_URI}: $err");
            _error($c, 500) if !$answered;
            return '';
        }
        $served++;
        $ctx->{post_response_hook}->();
        return 'harakiri' if $env{'psgix.harakiri.commit'};
        return '' if !$keep;
    }
}

1;
