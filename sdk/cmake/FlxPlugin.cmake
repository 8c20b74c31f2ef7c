# flx_add_plugin(<target> SOURCES <files...> [LIBRARIES <libs...>])
#
# When FLX_PLUGIN_INSTALL_DIR is set, `cmake --install` puts the plugin there (component
# "plugins"); fluxserve's own build sets it to <libdir>/fluxserve/plugins.
#
# Builds a fluxserve plugin the way the ABI rules want it: a MODULE library named
# <target>.so, hidden visibility, a version script that exports only flx_plugin_init,
# every symbol resolved at link time (-Wl,--no-undefined, except in sanitizer builds) and at
# load time (-z now).
# Installed with the SDK so third-party plugins are built the same way as ours.
function(flx_add_plugin target)
  cmake_parse_arguments(ARG "" "" "SOURCES;LIBRARIES" ${ARGN})
  # Resolved here, not at include time: callers live in other directory scopes.
  set(FLX_PLUGIN_VERSION_SCRIPT "${CMAKE_CURRENT_FUNCTION_LIST_DIR}/flx_plugin.map")
  add_library(${target} MODULE ${ARG_SOURCES})
  target_link_libraries(${target} PRIVATE flx::sdk ${ARG_LIBRARIES})
  set_target_properties(${target} PROPERTIES
    PREFIX ""
    CXX_VISIBILITY_PRESET hidden
    C_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON
    LINK_DEPENDS "${FLX_PLUGIN_VERSION_SCRIPT}")
  target_link_options(${target} PRIVATE
    "LINKER:--version-script=${FLX_PLUGIN_VERSION_SCRIPT}" "LINKER:-z,now")
  # clang links the sanitizer runtimes into executables only, so an instrumented plugin has
  # undefined __asan_*/__ubsan_* symbols until the host loads it.
  if(NOT FLX_SANITIZE)
    target_link_options(${target} PRIVATE "LINKER:--no-undefined")
  endif()
  if(FLX_PLUGIN_INSTALL_DIR)
    install(TARGETS ${target} LIBRARY DESTINATION ${FLX_PLUGIN_INSTALL_DIR} COMPONENT plugins)
  endif()
endfunction()
