# WebAssembly with Debian's emscripten (apt-get install emscripten), SIMD128 enabled; with
# -DPLE_SIMD_KERNELS=OFF, a module without SIMD instructions for engines that lack them (the web
# package's fallback, platforms/web).
#   cmake -S . -B build-wasm -DCMAKE_TOOLCHAIN_FILE=toolchains/wasm32-emscripten.cmake \
#         -DPLE_BUILD_TOOLS=OFF -DPLE_XNNPACK=OFF -DPLE_CONVERTED_MODELS=$PWD/build/tests/converted
# Test executables read the host's files through NODERAWFS and run under node; an app links the
# static library into its own module and opens models from memory (ple_model_open_buffer).
if(DEFINED ENV{EMSCRIPTEN})
  set(PLE_EMSCRIPTEN_ROOT $ENV{EMSCRIPTEN})
else()
  set(PLE_EMSCRIPTEN_ROOT /usr/share/emscripten)
endif()
include("${PLE_EMSCRIPTEN_ROOT}/cmake/Modules/Platform/Emscripten.cmake")
if(NOT DEFINED PLE_SIMD_KERNELS OR PLE_SIMD_KERNELS)
  set(PLE_WASM_SIMD_FLAG -msimd128)
endif()
set(CMAKE_C_FLAGS_INIT "${PLE_WASM_SIMD_FLAG}")
set(CMAKE_CXX_FLAGS_INIT "${PLE_WASM_SIMD_FLAG} -fexceptions")
set(CMAKE_EXE_LINKER_FLAGS_INIT "-fexceptions -sALLOW_MEMORY_GROWTH=1 -sNODERAWFS=1 -sEXIT_RUNTIME=1")
# Debian's emscripten runs its JavaScript optimizer with node, which finds acorn here.
set(CMAKE_C_LINKER_LAUNCHER env NODE_PATH=/usr/share/nodejs)
set(CMAKE_CXX_LINKER_LAUNCHER env NODE_PATH=/usr/share/nodejs)
# emscripten 3.1.6's output trips on node 18's experimental fetch.
set(CMAKE_CROSSCOMPILING_EMULATOR /usr/bin/node --no-experimental-fetch)
