# Finds what the project needs, all from Debian packages (docs/architecture.md lists them).

# FlatBuffers: the runtime uses the headers only; flatc generates them at build time.
find_path(FLATBUFFERS_INCLUDE_DIR flatbuffers/flatbuffers.h REQUIRED)
find_program(FLATC_EXECUTABLE flatc REQUIRED)

# XNNPACK ships no CMake config and no .pc file (Debian's 2022-02 snapshot).
set(PLE_HAVE_XNNPACK OFF)
if(NOT PLE_XNNPACK STREQUAL "OFF")
  find_path(XNNPACK_INCLUDE_DIR xnnpack.h)
  find_library(XNNPACK_LIBRARY XNNPACK)
  find_library(PTHREADPOOL_LIBRARY pthreadpool)
  find_library(CPUINFO_LIBRARY cpuinfo)
  if(XNNPACK_INCLUDE_DIR AND XNNPACK_LIBRARY AND PTHREADPOOL_LIBRARY AND CPUINFO_LIBRARY)
    set(PLE_HAVE_XNNPACK ON)
    add_library(ple_xnnpack INTERFACE)
    target_include_directories(ple_xnnpack SYSTEM INTERFACE ${XNNPACK_INCLUDE_DIR})
    target_link_libraries(ple_xnnpack INTERFACE ${XNNPACK_LIBRARY} ${PTHREADPOOL_LIBRARY} ${CPUINFO_LIBRARY})
  elseif(PLE_XNNPACK STREQUAL "REQUIRED")
    message(FATAL_ERROR "PLE_XNNPACK=REQUIRED but XNNPACK was not found "
                        "(apt-get install libxnnpack-dev libpthreadpool-dev libcpuinfo-dev)")
  endif()
endif()
message(STATUS "PLE: XNNPACK kernel path: ${PLE_HAVE_XNNPACK}")

if(PLE_BUILD_TOOLS OR PLE_BUILD_TESTS)
  find_package(nlohmann_json 3 CONFIG REQUIRED)
  find_package(CLI11 CONFIG REQUIRED)
endif()
if(PLE_BUILD_TESTS)
  find_package(Catch2 2 CONFIG REQUIRED)
endif()
