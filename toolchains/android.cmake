# Android through the NDK's own toolchain file (needs ANDROID_NDK; no NDK on the build machines
# here, so this file is documented, not run in CI).
#   cmake -S . -B build-android -DCMAKE_TOOLCHAIN_FILE=toolchains/android.cmake \
#         -DANDROID_ABI=arm64-v8a (or armeabi-v7a) -DPLE_BUILD_TOOLS=OFF -DPLE_BUILD_TESTS=OFF
if(NOT ANDROID_NDK AND DEFINED ENV{ANDROID_NDK})
  set(ANDROID_NDK $ENV{ANDROID_NDK})
endif()
if(NOT ANDROID_NDK OR NOT EXISTS "${ANDROID_NDK}/build/cmake/android.toolchain.cmake")
  message(FATAL_ERROR "Set ANDROID_NDK (environment or -DANDROID_NDK=) to an Android NDK (r23 or newer)")
endif()
set(ANDROID_ABI arm64-v8a CACHE STRING "arm64-v8a or armeabi-v7a")
set(ANDROID_PLATFORM android-24 CACHE STRING "Minimum Android API level")
set(ANDROID_STL c++_static CACHE STRING "The C++ runtime linked into libple")
if(ANDROID_ABI STREQUAL "armeabi-v7a")
  set(ANDROID_ARM_NEON ON CACHE BOOL "NEON on armv7")
endif()
include("${ANDROID_NDK}/build/cmake/android.toolchain.cmake")
