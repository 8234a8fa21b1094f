# Install rules and package metadata for smtpc: the shared library, the public header, the CMake
# package (smtpc::smtpc with a SameMajorVersion version file) and the pkg-config file.
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

# The library is C++ inside: a static link from C needs the C++ runtime, i.e. the libraries the C++
# compiler adds implicitly that the C compiler does not (-lstdc++ -lm with g++, -lc++ with libc++),
# plus the thread library.
set(_smtpc_cxx_runtime ${CMAKE_CXX_IMPLICIT_LINK_LIBRARIES})
if(_smtpc_cxx_runtime AND CMAKE_C_IMPLICIT_LINK_LIBRARIES)
  list(REMOVE_ITEM _smtpc_cxx_runtime ${CMAKE_C_IMPLICIT_LINK_LIBRARIES})
endif()
list(REMOVE_DUPLICATES _smtpc_cxx_runtime)
if(NOT _smtpc_cxx_runtime)
  set(_smtpc_cxx_runtime stdc++ m)
endif()
set(SMTPC_PC_LIBS_PRIVATE "")
foreach(_lib IN LISTS _smtpc_cxx_runtime)
  if(_lib MATCHES "^-")
    string(APPEND SMTPC_PC_LIBS_PRIVATE " ${_lib}")
  else()
    string(APPEND SMTPC_PC_LIBS_PRIVATE " -l${_lib}")
  endif()
endforeach()
if(CMAKE_THREAD_LIBS_INIT)
  string(APPEND SMTPC_PC_LIBS_PRIVATE " ${CMAKE_THREAD_LIBS_INIT}")
endif()
string(STRIP "${SMTPC_PC_LIBS_PRIVATE}" SMTPC_PC_LIBS_PRIVATE)

# pkg-config modules the library uses privately: openssl as soon as the library links OpenSSL
# (TLS support); a static link then pulls in -lssl -lcrypto through pkg-config --static.
get_target_property(_smtpc_link_libs smtpc LINK_LIBRARIES)
if(NOT DEFINED SMTPC_PC_REQUIRES_PRIVATE)
  set(SMTPC_PC_REQUIRES_PRIVATE "")
  if(_smtpc_link_libs MATCHES "OpenSSL::")
    set(SMTPC_PC_REQUIRES_PRIVATE "openssl")
  endif()
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
