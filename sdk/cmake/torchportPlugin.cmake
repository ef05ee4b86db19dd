# torchport_add_plugin(<name>
#                      SOURCES <file>...
#                      [INSTALL] [DESTINATION <dir>])
#
# Builds a torchport plugin: a MODULE library named libtorchport_<name>.so (the name the
# plugin host's directory scans look for), C++20, hidden visibility (only the entry point
# defined by TORCHPORT_PLUGIN(...) is exported), linked to torchport::core. Add further
# dependencies (LibTorch, onnx, ...) with target_link_libraries(torchport_plugin_<name> ...).
# The target is named torchport_plugin_<name>; TORCHPORT_PLUGIN_TARGET is set to it.
#
# INSTALL installs the plugin into <install prefix>/${TORCHPORT_PLUGIN_INSTALL_SUBDIR}
# (lib/torchport/plugins), or into DESTINATION. Installed into the same prefix as torchport
# itself, `torchport` finds it without --plugin; elsewhere, add its directory to
# TORCHPORT_PLUGIN_PATH.
#
# Example:
#   find_package(torchport 0.1 REQUIRED)
#   torchport_add_plugin(mylayers SOURCES mylayers.cpp INSTALL)
include_guard(GLOBAL)

function(torchport_add_plugin name)
  cmake_parse_arguments(ARG "INSTALL" "DESTINATION" "SOURCES" ${ARGN})
  if(ARG_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "torchport_add_plugin(${name}): unknown arguments: ${ARG_UNPARSED_ARGUMENTS}")
  endif()
  if(NOT ARG_SOURCES)
    message(FATAL_ERROR "torchport_add_plugin(${name}): no SOURCES given")
  endif()
  if(NOT name MATCHES "^[A-Za-z0-9_.-]+$")
    message(FATAL_ERROR "torchport_add_plugin(${name}): the name may contain only letters, digits, '_', '.' and '-'")
  endif()
  if(ARG_DESTINATION AND NOT ARG_INSTALL)
    message(FATAL_ERROR "torchport_add_plugin(${name}): DESTINATION needs INSTALL")
  endif()

  set(target torchport_plugin_${name})
  add_library(${target} MODULE ${ARG_SOURCES})
  set_target_properties(${target} PROPERTIES
    PREFIX "lib"
    OUTPUT_NAME "torchport_${name}"
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON
    CXX_EXTENSIONS OFF
    # Installed plugins keep finding libtorchport_core.so (for ldd and standalone tools;
    # inside torchport it is already loaded).
    INSTALL_RPATH_USE_LINK_PATH ON)
  target_compile_features(${target} PRIVATE cxx_std_20)
  target_link_libraries(${target} PRIVATE torchport::core)

  if(ARG_INSTALL)
    if(ARG_DESTINATION)
      set(destination "${ARG_DESTINATION}")
    elseif(DEFINED TORCHPORT_PLUGIN_INSTALL_SUBDIR)
      set(destination "${TORCHPORT_PLUGIN_INSTALL_SUBDIR}")
    else()
      set(destination "lib/torchport/plugins")
    endif()
    install(TARGETS ${target} LIBRARY DESTINATION "${destination}")
  endif()
  set(TORCHPORT_PLUGIN_TARGET ${target} PARENT_SCOPE)
endfunction()
