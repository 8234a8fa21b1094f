# SPDX-License-Identifier: MIT
# Warning flags for every target of the project, and the sanitizer switch.
set(SMTPC_WARNINGS -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wno-sign-conversion -Wformat=2)
if(SMTPC_WERROR)
  list(APPEND SMTPC_WARNINGS -Werror)
endif()

if(SMTPC_SANITIZE STREQUAL "thread")
  # ThreadSanitizer cannot be combined with AddressSanitizer; see scripts/tsan.sh.
  add_compile_options(-fsanitize=thread -fno-omit-frame-pointer)
  add_link_options(-fsanitize=thread)
elseif(SMTPC_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_link_options(-fsanitize=address,undefined)
endif()

function(smtpc_set_warnings target)
  target_compile_options(${target} PRIVATE ${SMTPC_WARNINGS})
endfunction()

# __FILE__ (assert() messages, also in SWIG's generated wrapper) expands to a path relative to the
# source or build tree, so that no installed file names the tree it was built in. Debug information
# keeps full paths: distributions split it off and remap it (-ffile-prefix-map) themselves.
include(CheckCCompilerFlag)
check_c_compiler_flag("-fmacro-prefix-map=a=b" SMTPC_HAVE_MACRO_PREFIX_MAP)
if(SMTPC_HAVE_MACRO_PREFIX_MAP)
  add_compile_options("-fmacro-prefix-map=${PROJECT_SOURCE_DIR}/=" "-fmacro-prefix-map=${PROJECT_BINARY_DIR}/=")
endif()
