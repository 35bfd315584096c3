package JailCtl::PSGI::Log;
# Log lines of the PSGI host, to stderr (the emperor's log pipe), each prefixed
# `[psgi PID]` so that a master's and its workers' lines can be told apart.
use strict;
use warnings;
use Exporter 'import';

our @EXPORT_OK = qw(logline);

# One line (or several, each prefixed): what happened, in the host's words.
sub logline {
    my $text = join '', @_;
    $text =~ s/\n+\z//;
    my $out = join '', map { "[psgi $$] $_\n" } split /\n/, $text, -1;
    syswrite STDERR, $out;
    return;
}

1;
