// Linked into the test executables of the WebAssembly build (--pre-js): under node, the program
// reads the host's environment through getenv as a native one does (emscripten's own default
// is a fixed environment), so PLE_TEST_KERNEL_PATHS and the other test variables apply.
Module['preRun'] = Module['preRun'] || [];
Module['preRun'].push(function () {
  if (typeof process !== 'undefined' && process.env) Object.assign(ENV, process.env);
});
