# SPDX-License-Identifier: MIT
# Install rules and package metadata for smtpc: the shared library (and the static one with
# SMTPC_BUILD_STATIC), the public header, the CMake package (smtpc::smtpc, smtpc::smtpc_static, with
# a SameMajorVersion version file), the pkg-config file, the man page and the documentation.
# Included by the top-level CMakeLists.txt after the library target `smtpc` has been defined.

include(GNUInstallDirs)
include(CMakePackageConfigHelpers)
include("${CMAKE_CURRENT_LIST_DIR}/JoinPaths.cmake")

if(NOT TARGET smtpc)
  message(FATAL_ERROR "cmake/Install.cmake: the library target 'smtpc' must be defined first")
endif()

set(SMTPC_INSTALL_CMAKEDIR "${CMAKE_INSTALL_LIBDIR}/cmake/smtpc"
    CACHE STRING "Where to install the CMake package files of smtpc (relative to the prefix)")
set(SMTPC_INSTALL_PKGCONFIGDIR "${CMAKE_INSTALL_LIBDIR}/pkgconfig"
    CACHE STRING "Where to install smtpc.pc (relative to the prefix)")

# --- The library and its header ----------------------------------------------------------------
install(TARGETS smtpc
  EXPORT smtpcTargets
  RUNTIME DESTINATION "${CMAKE_INSTALL_BINDIR}" COMPONENT Runtime
  LIBRARY DESTINATION "${CMAKE_INSTALL_LIBDIR}" COMPONENT Runtime NAMELINK_COMPONENT Development
  ARCHIVE DESTINATION "${CMAKE_INSTALL_LIBDIR}" COMPONENT Development
  INCLUDES DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}")

# The static library has its own export set: the CMake package looks for OpenSSL and Threads only
# when it is installed (a shared-only install needs nothing from its consumers).
if(TARGET smtpc_static)
  install(TARGETS smtpc_static
    EXPORT smtpcStaticTargets
    ARCHIVE DESTINATION "${CMAKE_INSTALL_LIBDIR}" COMPONENT Development
    INCLUDES DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}")
  install(EXPORT smtpcStaticTargets
    NAMESPACE smtpc::
    FILE smtpcStaticTargets.cmake
    DESTINATION "${SMTPC_INSTALL_CMAKEDIR}"
    COMPONENT Development)
  export(EXPORT smtpcStaticTargets
    NAMESPACE smtpc::
    FILE "${PROJECT_BINARY_DIR}/smtpcStaticTargets.cmake")
endif()

install(FILES "${PROJECT_SOURCE_DIR}/include/smtpc.h"
  DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}"
  COMPONENT Development)

# --- CMake package: find_package(smtpc CONFIG) -> smtpc::smtpc ---------------------------------
install(EXPORT smtpcTargets
  NAMESPACE smtpc::
  FILE smtpcTargets.cmake
  DESTINATION "${SMTPC_INSTALL_CMAKEDIR}"
  COMPONENT Development)

# The same targets for use straight from the build tree (smtpc_DIR=<build>), as fmt does.
export(EXPORT smtpcTargets
  NAMESPACE smtpc::
  FILE "${PROJECT_BINARY_DIR}/smtpcTargets.cmake")

configure_package_config_file(
  "${CMAKE_CURRENT_LIST_DIR}/smtpcConfig.cmake.in"
  "${PROJECT_BINARY_DIR}/smtpcConfig.cmake"
  INSTALL_DESTINATION "${SMTPC_INSTALL_CMAKEDIR}")

# The SONAME major is what breaks compatibility: a consumer asking for 0.1 accepts any 0.x >= 0.1.
write_basic_package_version_file(
  "${PROJECT_BINARY_DIR}/smtpcConfigVersion.cmake"
  VERSION "${PROJECT_VERSION}"
  COMPATIBILITY SameMajorVersion)

install(FILES
  "${PROJECT_BINARY_DIR}/smtpcConfig.cmake"
  "${PROJECT_BINARY_DIR}/smtpcConfigVersion.cmake"
  DESTINATION "${SMTPC_INSTALL_CMAKEDIR}"
  COMPONENT Development)

# --- pkg-config ------------------------------------------------------------------------------------
# Paths are joined so that an absolute CMAKE_INSTALL_LIBDIR/INCLUDEDIR (as some distributions pass)
# is used as is instead of being appended to ${prefix}.
join_paths(SMTPC_PC_LIBDIR "\${exec_prefix}" "${CMAKE_INSTALL_LIBDIR}")
join_paths(SMTPC_PC_INCLUDEDIR "\${prefix}" "${CMAKE_INSTALL_INCLUDEDIR}")

# Requires.private and Libs.private describe a static link only: with no static library installed
# they are left out, so that `pkg-config --cflags --libs smtpc` does not need openssl.pc. With
# libsmtpc.a: the OpenSSL module, and the C++ runtime and thread library a C linker does not add
# (SMTPC_CXX_RUNTIME_LIBS, see the top-level CMakeLists.txt).
set(SMTPC_PC_STATIC "")
if(TARGET smtpc_static)
  set(_libs_private "")
  foreach(_lib IN LISTS SMTPC_CXX_RUNTIME_LIBS)
    if(_lib MATCHES "^-")
      string(APPEND _libs_private " ${_lib}")
    else()
      string(APPEND _libs_private " -l${_lib}")
    endif()
  endforeach()
  if(CMAKE_THREAD_LIBS_INIT)
    string(APPEND _libs_private " ${CMAKE_THREAD_LIBS_INIT}")
  endif()
  string(STRIP "${_libs_private}" _libs_private)
  set(SMTPC_PC_STATIC "Requires.private: openssl >= 1.1.1\nLibs.private: ${_libs_private}")
endif()

# The prefix is filled in at install time, not at configure time, so that
# `cmake --install <build> --prefix <dir>` (and DESTDIR) produce a .pc that points at <dir>.
set(SMTPC_PC_PREFIX "@SMTPC_PC_PREFIX@")
configure_file("${PROJECT_SOURCE_DIR}/pkgconfig/smtpc.pc.in" "${PROJECT_BINARY_DIR}/smtpc.pc.in" @ONLY)
unset(SMTPC_PC_PREFIX)
install(CODE "
  set(SMTPC_PC_PREFIX \"\${CMAKE_INSTALL_PREFIX}\")
  set(_pcdir \"${SMTPC_INSTALL_PKGCONFIGDIR}\")
  if(NOT IS_ABSOLUTE \"\${_pcdir}\")
    set(_pcdir \"\${CMAKE_INSTALL_PREFIX}/\${_pcdir}\")
  endif()
  set(_pcfile \"\$ENV{DESTDIR}\${_pcdir}/smtpc.pc\")
  message(STATUS \"Installing: \${_pcfile}\")
  configure_file(\"${PROJECT_BINARY_DIR}/smtpc.pc.in\" \"\${_pcfile}\" @ONLY)
  list(APPEND CMAKE_INSTALL_MANIFEST_FILES \"\${_pcfile}\")
" COMPONENT Development)
