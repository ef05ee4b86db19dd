// A shared library that is not a torchport plugin: it exports a function, but not
// torchport_get_plugin_info.
extern "C" __attribute__((visibility("default"))) int some_other_library_function() { return 42; }
