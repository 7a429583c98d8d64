# iOS with Xcode's clang (macOS only; documented, not run in CI here: no macOS machine).
#   cmake -S . -B build-ios -G Xcode -DCMAKE_TOOLCHAIN_FILE=toolchains/ios.cmake \
#         -DPLE_IOS_PLATFORM=OS (device, arm64) or SIMULATOR (arm64 + x86_64) \
#         -DPLE_XNNPACK=OFF -DPLE_BUILD_TOOLS=OFF -DPLE_BUILD_TESTS=OFF
# platforms/ios/README.md builds the XCFramework from both.
set(PLE_IOS_PLATFORM OS CACHE STRING "OS (device) or SIMULATOR")
set(CMAKE_SYSTEM_NAME iOS)
set(CMAKE_OSX_DEPLOYMENT_TARGET 12.0 CACHE STRING "Minimum iOS version")
if(PLE_IOS_PLATFORM STREQUAL "SIMULATOR")
  set(CMAKE_OSX_SYSROOT iphonesimulator)
  set(CMAKE_OSX_ARCHITECTURES "arm64;x86_64" CACHE STRING "")
else()
  set(CMAKE_OSX_SYSROOT iphoneos)
  set(CMAKE_OSX_ARCHITECTURES arm64 CACHE STRING "")
endif()
set(CMAKE_XCODE_ATTRIBUTE_ONLY_ACTIVE_ARCH NO)
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)
