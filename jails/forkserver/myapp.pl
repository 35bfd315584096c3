# myapp.pl: the fork-server docs' slow-loading app. It takes 10 seconds to load (MYAPP_SLEEP
# changes that: the test sets 1), once, in the base; the vassals adopted from it start at once.
print "I am the App\n";
sleep($ENV{MYAPP_SLEEP} // 10);
my $app = sub {
    return [200, ['Content-Type' => 'text/html'], ["Hello World"]];
};
