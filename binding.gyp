{
  # The executor is built once as a static library (classic-level's shape) and linked
  # into three products: the jail-helper executable (embedded in the addon), the addon
  # itself, and a shared library with a plain C entry point for the PSGI host.
  # libseccomp is linked statically into every product (the link_settings below): the
  # helper must be static, and Debian's libseccomp.a is PIC, so the addon and
  # libjailexec.so take it too and need no libseccomp.so at run time; --exclude-libs keeps
  # its symbols out of their exports.
  # The *_test targets are the same with -DJAIL_FAULTS (the plan's `fault` key). The test
  # addon is jail_binding_test.node-test: not a `.node`, so neither node-gyp-build nor
  # prebuildify ever picks it; only src/native/binding.ts loads it, for tests.
  'variables': {
    'executor_sources': [
      'native/executor/stage.c', 'native/executor/plan.c', 'native/executor/launch.c',
      'native/executor/run.c', 'native/executor/apply.c', 'native/executor/adopt.c', 'native/executor/creds.c', 'native/executor/init.c', 'native/executor/fdpass.c',
      'native/executor/clone3.c', 'native/executor/seccomp.c', 'native/executor/settle.c', 'native/executor/mounts.c',
      'native/executor/listen.c',
    ],
    'binding_sources': [
      'native/binding/addon.cc', 'native/binding/fd-watcher.cc', 'native/binding/listen.cc',
      'native/binding/helper-memfd.cc', 'native/binding/reexec.cc', 'native/binding/inotify.cc',
      'native/binding/cgroup-read.cc',
    ],
  },
  'target_defaults': {
    'defines': [ '_GNU_SOURCE' ],
    'cflags': [ '-Wall', '-Wextra', '-fstack-protector-strong', '-fPIC' ],
    'cflags_c': [ '-std=gnu11' ],
  },
  'targets': [
    {
      'target_name': 'jail_executor',
      'type': 'static_library',
      'sources': [ '<@(executor_sources)' ],
      'direct_dependent_settings': { 'include_dirs': [ 'native/executor' ] },
      'link_settings': { 'libraries': [ '-l:libseccomp.a' ], 'ldflags': [ '-Wl,--exclude-libs,libseccomp.a' ] },
    },
    {
      # Static, so it needs nothing from the filesystem it is exec'd in.
      'target_name': 'jail-helper',
      'type': 'executable',
      'sources': [ 'native/executor/helper.c' ],
      'dependencies': [ 'jail_executor' ],
      'ldflags': [ '-static', '-s' ],
    },
    {
      # libjailexec.so: jail_apply() and friends for hosts that load C (the PSGI host).
      'target_name': 'jailexec',
      'type': 'shared_library',
      'sources': [ '<@(executor_sources)' ],
      'include_dirs': [ 'native/executor' ],
      'link_settings': { 'libraries': [ '-l:libseccomp.a' ], 'ldflags': [ '-Wl,--exclude-libs,libseccomp.a' ] },
    },
    {
      # jail-sigkeep.so: preloaded into an emperor upgrade's exec only (native/binding/sigkeep.c);
      # embedded in the addon, which hands it to the exec as a sealed memfd.
      'target_name': 'jail-sigkeep',
      'type': 'shared_library',
      'sources': [ 'native/binding/sigkeep.c' ],
      'cflags': [ '-fvisibility=hidden' ],
      'ldflags': [ '-s' ],
    },
    {
      'target_name': 'jail_binding',
      'dependencies': [
        "<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except",
        'jail_executor',
        'jail-helper',
        'jail-sigkeep',
      ],
      'sources': [ '<@(binding_sources)' ],
      'actions': [
        {
          'action_name': 'embed_helper',
          'inputs': [ '<(PRODUCT_DIR)/jail-helper', 'native/tools/embed.js' ],
          'outputs': [ '<(INTERMEDIATE_DIR)/helper-blob.c' ],
          'action': [ 'node', 'native/tools/embed.js', '<(PRODUCT_DIR)/jail-helper', '<@(_outputs)' ],
          'process_outputs_as_sources': 1,
        },
        {
          'action_name': 'embed_sigkeep',
          'inputs': [ '<(PRODUCT_DIR)/jail-sigkeep.so', 'native/tools/embed.js' ],
          'outputs': [ '<(INTERMEDIATE_DIR)/sigkeep-blob.c' ],
          'action': [ 'node', 'native/tools/embed.js', '<(PRODUCT_DIR)/jail-sigkeep.so', '<@(_outputs)', 'jail_sigkeep_blob' ],
          'process_outputs_as_sources': 1,
        },
      ],
      'defines': [ 'NAPI_VERSION=8' ],
    },
    {
      'target_name': 'jail_executor_test',
      'type': 'static_library',
      'sources': [ '<@(executor_sources)' ],
      'defines': [ 'JAIL_FAULTS' ],
      'direct_dependent_settings': { 'include_dirs': [ 'native/executor' ] },
      'link_settings': { 'libraries': [ '-l:libseccomp.a' ], 'ldflags': [ '-Wl,--exclude-libs,libseccomp.a' ] },
    },
    {
      'target_name': 'jail-helper-test',
      'type': 'executable',
      'sources': [ 'native/executor/helper.c' ],
      'dependencies': [ 'jail_executor_test' ],
      'ldflags': [ '-static', '-s' ],
    },
    {
      'target_name': 'jail_binding_test',
      # After addon.gypi's own `.node` (target_conditions run last, in order).
      'target_conditions': [ [ '_type=="loadable_module"', { 'product_extension': 'node-test' } ] ],
      'dependencies': [
        "<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except",
        'jail_executor_test',
        'jail-helper-test',
        'jail-sigkeep',
      ],
      'sources': [ '<@(binding_sources)' ],
      'actions': [
        {
          'action_name': 'embed_helper_test',
          'inputs': [ '<(PRODUCT_DIR)/jail-helper-test', 'native/tools/embed.js' ],
          'outputs': [ '<(INTERMEDIATE_DIR)/helper-blob-test.c' ],
          'action': [ 'node', 'native/tools/embed.js', '<(PRODUCT_DIR)/jail-helper-test', '<@(_outputs)' ],
          'process_outputs_as_sources': 1,
        },
        {
          'action_name': 'embed_sigkeep_test',
          'inputs': [ '<(PRODUCT_DIR)/jail-sigkeep.so', 'native/tools/embed.js' ],
          'outputs': [ '<(INTERMEDIATE_DIR)/sigkeep-blob-test.c' ],
          'action': [ 'node', 'native/tools/embed.js', '<(PRODUCT_DIR)/jail-sigkeep.so', '<@(_outputs)', 'jail_sigkeep_blob' ],
          'process_outputs_as_sources': 1,
        },
      ],
      'defines': [ 'NAPI_VERSION=8', 'JAIL_FAULTS' ],
    },
  ],
}
