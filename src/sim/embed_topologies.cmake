# Embeds the built-in topologies (topologies/*.yaml) into a C++ file. Usage:
#   cmake -DNAMES=a,b -DDIR=<topologies dir> -DOUT=<file.cc> -P embed_topologies.cmake
string(REPLACE "," ";" names "${NAMES}")
set(delim "ariadne_yaml")
set(name_list "")
set(yaml_list "")
set(count 0)
foreach(name IN LISTS names)
  file(READ "${DIR}/${name}.yaml" text)
  string(FIND "${text}" ")${delim}\"" found)
  if(NOT found EQUAL -1)
    message(FATAL_ERROR "${DIR}/${name}.yaml contains the raw string delimiter )${delim}\"")
  endif()
  string(APPEND name_list "    \"${name}\",\n")
  string(APPEND yaml_list "    R\"${delim}(${text})${delim}\",\n")
  math(EXPR count "${count} + 1")
endforeach()
set(content "// Generated from src/sim/topologies/*.yaml by embed_topologies.cmake. Do not edit.
#include <string_view>

namespace ariadne::sim::internal {

extern const int kBuiltinTopologyCount = ${count};

extern const std::string_view kBuiltinTopologyNames[] = {
${name_list}};

extern const std::string_view kBuiltinTopologyYamls[] = {
${yaml_list}};

}  // namespace ariadne::sim::internal
")
# Write only on change, so that an unchanged file does not rebuild.
if(EXISTS "${OUT}")
  file(READ "${OUT}" old)
  if(old STREQUAL content)
    return()
  endif()
endif()
file(WRITE "${OUT}" "${content}")
