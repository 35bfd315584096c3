#!/usr/bin/perl
# jailctl's PSGI host: a vassal runtime that serves a PSGI app with a prefork master and
# speaks the emperor protocol; with early-psgi + fork-server it is a fork-server base, and
# the vassals adopted from it go on from here with the app already loaded.
#   under the emperor: config from the config pipe (JAIL_EMPEROR_FD_CONFIG);
#   on its own:        jailctl-psgi.pl --ini FILE
use strict;
use warnings;
use FindBin ();
use lib "$FindBin::RealBin/lib";
use JailCtl::PSGI::Config qw(load_host_options);
use JailCtl::PSGI::Emperor qw(emperor_fd);
use JailCtl::PSGI::Log qw(logline);

$| = 1;
select((select(STDERR), $| = 1)[0]);

sub fail {
    my ($what, $err) = @_;
    logline("$what: $err");
    exit 1;
}

my $emperor_fd = emperor_fd(\%ENV);
my ($options, $config_fd) = eval { load_host_options(\@ARGV, \%ENV) };
fail('cannot read the config', $@) if !$options;

# early-psgi: the app first, before anything else (a base loads as much as it can up front).
my $app;
if ($options->{early_psgi}) {
    require JailCtl::PSGI::Worker;
    $app = eval { JailCtl::PSGI::Worker::load_app($options->{early_psgi}) };
    fail('cannot load the app', $@) if !$app;
}
my $title = join ' ', $0, @ARGV;

if ($options->{early_psgi} && $options->{fork_server}) {
    # Everything an adopted vassal runs, compiled here once: it must not read and compile
    # modules again in every vassal (that is most of what a cold start costs).
    require JailCtl::PSGI::Master;
    require JailCtl::PSGI::ForkServer;
    eval { JailCtl::PSGI::ForkServer::run_base($options->{fork_server}, $emperor_fd, $options->{heartbeat}); 1 } or fail('fork server', $@);
    # An adopted vassal: its own pipes, its own config (the packet after the plan frame).
    $title = $0;
    $emperor_fd = emperor_fd(\%ENV);
    ($options, $config_fd) = eval { load_host_options(\@ARGV, \%ENV) };
    fail('adopted: cannot read the config', $@) if !$options;
    logline('adopted: serving the app loaded by the base');
}

fail('nothing to serve', "no `psgi = APP.psgi` in the config\n") if !$app && !$options->{psgi};
require JailCtl::PSGI::Master;
my $master = eval {
    JailCtl::PSGI::Master->new(options => $options, config_fd => $config_fd, emperor_fd => $emperor_fd, app => $app, title => $title);
};
fail('cannot start', $@) if !$master;
$master->run;
