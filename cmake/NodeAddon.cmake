# smc_add_node_addon(<target> OUTPUT_NAME <name> SOURCES <file>...)
#
# A Node-API addon module (<name>.node in the build directory) with what every addon of
# this project shares: headers from the node-api-headers and node-addon-api npm packages
# (NODE_API_HEADERS_DIR / NODE_ADDON_API_DIR), hidden visibility, Node-API 8 with C++
# exceptions, SMC_WARNINGS, and nothing from Node linked: napi_* symbols resolve from the
# host executable (node or Electron) at load time. Callers add their own definitions,
# options and libraries.
include_guard(GLOBAL)

function(smc_add_node_addon target)
  cmake_parse_arguments(PARSE_ARGV 1 ARG "" "OUTPUT_NAME" "SOURCES")
  add_library(${target} MODULE ${ARG_SOURCES})
  set_target_properties(${target} PROPERTIES
    PREFIX "" SUFFIX ".node" OUTPUT_NAME "${ARG_OUTPUT_NAME}"
    LIBRARY_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}
    CXX_VISIBILITY_PRESET hidden VISIBILITY_INLINES_HIDDEN ON)
  target_include_directories(${target} SYSTEM PRIVATE ${NODE_API_HEADERS_DIR} ${NODE_ADDON_API_DIR})
  target_compile_definitions(${target} PRIVATE NAPI_VERSION=8 NAPI_CPP_EXCEPTIONS NODE_ADDON_API_DISABLE_DEPRECATED)
  target_compile_options(${target} PRIVATE ${SMC_WARNINGS})
  if(APPLE)
    target_link_options(${target} PRIVATE -undefined dynamic_lookup)
  endif()
endfunction()
