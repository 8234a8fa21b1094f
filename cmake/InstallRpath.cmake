# SPDX-License-Identifier: MIT
# smtpc_set_install_rpath(<target> <destination>)
#
# Gives the installed <target> (an executable or module installed into <destination>, relative to
# the prefix) a RUNPATH to the installed libsmtpc only where the dynamic linker would not find it
# anyway: none when the library goes into a system directory (the distribution case, where a
# RUNPATH is a lintian error, custom-library-search-path), else one relative to the file itself
# ($ORIGIN/...), so that an install under any prefix, moved or staged with DESTDIR, still finds its
# library and names no build or staging path. CMAKE_SKIP_INSTALL_RPATH=ON turns it off altogether.
function(smtpc_set_install_rpath target destination)
  set(_libdir "${CMAKE_INSTALL_LIBDIR}")
  if(NOT IS_ABSOLUTE "${_libdir}")
    set(_libdir "${CMAKE_INSTALL_PREFIX}/${_libdir}")
  endif()
  set(_dest "${destination}")
  if(NOT IS_ABSOLUTE "${_dest}")
    set(_dest "${CMAKE_INSTALL_PREFIX}/${_dest}")
  endif()
  get_filename_component(_libdir "${_libdir}" ABSOLUTE)
  get_filename_component(_dest "${_dest}" ABSOLUTE)

  set(_system_dirs ${CMAKE_PLATFORM_IMPLICIT_LINK_DIRECTORIES} ${CMAKE_C_IMPLICIT_LINK_DIRECTORIES}
                   ${CMAKE_CXX_IMPLICIT_LINK_DIRECTORIES})
  if("${_libdir}" IN_LIST _system_dirs)
    set_target_properties(${target} PROPERTIES INSTALL_RPATH "")
    return()
  endif()
  file(RELATIVE_PATH _rel "${_dest}" "${_libdir}")
  if(_rel STREQUAL "")
    set(_rpath "\$ORIGIN")
  else()
    set(_rpath "\$ORIGIN/${_rel}")
  endif()
  set_target_properties(${target} PROPERTIES INSTALL_RPATH "${_rpath}")
endfunction()
