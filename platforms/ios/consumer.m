// Imports the C API as a Clang module, as an iOS app does (checked on Linux with clang -fmodules).
@import ple;

int ple_module_consumer(void) {
  ple_session_options options;
  ple_session_options_init(&options);
  return (int)ple_abi_version() + (int)options.max_batch;
}
