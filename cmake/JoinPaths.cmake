# SPDX-License-Identifier: MIT
# join_paths(<out-var> <base> <path>...)
#
# Joins paths the way a .pc file needs them: a relative path is appended to the base, an absolute
# path replaces it. This keeps pkgconfig/smtpc.pc correct both for the usual relative
# CMAKE_INSTALL_LIBDIR ("lib/x86_64-linux-gnu" -> "${exec_prefix}/lib/x86_64-linux-gnu") and for
# distributions that pass an absolute one ("/usr/lib64" stays "/usr/lib64").
# Same idea as the JoinPaths.cmake helper used by zstd and fmt (cmake_path() needs CMake 3.20).
function(join_paths out_var base)
  set(_joined "${base}")
  foreach(_path IN LISTS ARGN)
    if(IS_ABSOLUTE "${_path}")
      set(_joined "${_path}")
    elseif(_joined STREQUAL "")
      set(_joined "${_path}")
    else()
      string(REGEX REPLACE "/+$" "" _joined "${_joined}")
      set(_joined "${_joined}/${_path}")
    endif()
  endforeach()
  set(${out_var} "${_joined}" PARENT_SCOPE)
endfunction()
