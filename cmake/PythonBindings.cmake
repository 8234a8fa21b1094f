# SPDX-License-Identifier: MIT
# Decides the default of SMTPC_BUILD_PYTHON: ON when SWIG >= 4 and Python 3 (interpreter and
# headers) are found, OFF otherwise and in sanitizer builds.
#
# Python: unless the caller chose an interpreter (-DPython3_EXECUTABLE=...), prefer the
# distribution's /usr/bin/python3. Its site-packages hold the distribution's python3-pytest and
# python3-aiosmtpd that the binding's smoke test uses; a python3 earlier on PATH (pyenv, venv) may
# lack them.
if(NOT DEFINED Python3_EXECUTABLE AND EXISTS "/usr/bin/python3")
  set(Python3_EXECUTABLE "/usr/bin/python3" CACHE FILEPATH "Python interpreter for the bindings")
endif()

set(_smtpc_python_default OFF)
if(NOT DEFINED SMTPC_BUILD_PYTHON AND NOT SMTPC_SANITIZE)
  find_package(SWIG 4 QUIET)
  find_package(Python3 QUIET COMPONENTS Interpreter Development)
  if(SWIG_FOUND AND Python3_FOUND)
    set(_smtpc_python_default ON)
  else()
    message(STATUS "smtpc: Python bindings off (SWIG 4 found: ${SWIG_FOUND}, Python 3 with headers found: ${Python3_FOUND})")
  endif()
endif()
option(SMTPC_BUILD_PYTHON "Build the Python bindings (SWIG) and their tests" ${_smtpc_python_default})
