# smc_add_node_addon(<target> OUTPUT_NAME <name> SOURCES <file>...)
#
# A Node-API addon module (<name>.node in the build directory) with what every addon of
# this project shares: headers from the node-api-headers and node-addon-api npm packages
# (NODE_API_HEADERS_DIR / NODE_ADDON_API_DIR), hidden visibility, Node-API 8 with C++
# exceptions, SMC_WARNINGS, and nothing from Node linked: napi_* symbols resolve from the
# host executable (node or Electron) at load time. Callers add their own definitions,
# options and libraries.
#
# Windows has no lazy symbol lookup: the addon links an import library for "node.exe"
# generated from node-api-headers' def/node_api.def (NODE_API_DEF overrides its path),
# delay-loaded, with a hook (native/src/platform/win_delay_load_hook.cpp) that resolves
# it against whatever executable is running (node.exe, electron.exe).
include_guard(GLOBAL)

# The import library for node.exe's napi_* exports, delay-loaded; sets <out_var> to the
# target to link.
function(smc_node_import_library out_var)
  if(TARGET smc_node_api_implib)
    set(${out_var} smc_node_api_implib PARENT_SCOPE)
    return()
  endif()
  set(NODE_API_DEF "${NODE_API_HEADERS_DIR}/../def/node_api.def" CACHE FILEPATH
      "node-api-headers' def/node_api.def (Windows import library source)")
  if(NOT EXISTS "${NODE_API_DEF}")
    message(FATAL_ERROR "smc: ${NODE_API_DEF} not found: the Windows addon needs node-api-headers' def/node_api.def (set NODE_API_DEF)")
  endif()
  if(MSVC)
    set(lib ${CMAKE_BINARY_DIR}/node_api.lib)
    add_custom_command(OUTPUT ${lib}
      COMMAND ${CMAKE_AR} /nologo /def:${NODE_API_DEF} /name:node.exe /out:${lib} /machine:x64
      DEPENDS ${NODE_API_DEF} COMMENT "lib: node_api.def -> node_api.lib" VERBATIM)
  else()
    if(NOT CMAKE_DLLTOOL)
      find_program(CMAKE_DLLTOOL NAMES dlltool REQUIRED)
    endif()
    # -y: a delay-import library (the hook above picks the module at first call).
    set(lib ${CMAKE_BINARY_DIR}/libnode_api_delay.a)
    add_custom_command(OUTPUT ${lib}
      COMMAND ${CMAKE_DLLTOOL} -d ${NODE_API_DEF} -D node.exe -y ${lib}
      DEPENDS ${NODE_API_DEF} COMMENT "dlltool: node_api.def -> libnode_api_delay.a" VERBATIM)
  endif()
  add_custom_target(smc_node_api_implib_gen DEPENDS ${lib})
  add_library(smc_node_api_implib INTERFACE)
  add_dependencies(smc_node_api_implib smc_node_api_implib_gen)
  target_link_libraries(smc_node_api_implib INTERFACE ${lib})
  if(MSVC)
    target_link_libraries(smc_node_api_implib INTERFACE delayimp)
    target_link_options(smc_node_api_implib INTERFACE /DELAYLOAD:node.exe)
  endif()
  set(${out_var} smc_node_api_implib PARENT_SCOPE)
endfunction()

function(smc_add_node_addon target)
  cmake_parse_arguments(PARSE_ARGV 1 ARG "" "OUTPUT_NAME" "SOURCES")
  add_library(${target} MODULE ${ARG_SOURCES})
  set_target_properties(${target} PROPERTIES
    PREFIX "" SUFFIX ".node" OUTPUT_NAME "${ARG_OUTPUT_NAME}"
    LIBRARY_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}
    CXX_VISIBILITY_PRESET hidden VISIBILITY_INLINES_HIDDEN ON)
  target_include_directories(${target} SYSTEM PRIVATE ${NODE_API_HEADERS_DIR} ${NODE_ADDON_API_DIR})
  # NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS: an exception raised while a worker is being
  # terminated cannot reach JS; without it node-addon-api ends the whole process
  # (std::terminate / a fatal error) instead of letting the worker go.
  target_compile_definitions(${target} PRIVATE NAPI_VERSION=8 NAPI_CPP_EXCEPTIONS
    NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS NODE_ADDON_API_DISABLE_DEPRECATED)
  target_compile_options(${target} PRIVATE ${SMC_WARNINGS})
  if(APPLE)
    target_link_options(${target} PRIVATE -undefined dynamic_lookup)
  endif()
  if(WIN32)
    target_sources(${target} PRIVATE ${PROJECT_SOURCE_DIR}/native/src/platform/win_delay_load_hook.cpp)
    smc_node_import_library(implib)
    target_link_libraries(${target} PRIVATE ${implib})
  endif()
endfunction()
