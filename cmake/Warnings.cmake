# Warning flags for every target of the project, and the sanitizer switch.
set(SMTPC_WARNINGS -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wno-sign-conversion -Wformat=2)
if(SMTPC_WERROR)
  list(APPEND SMTPC_WARNINGS -Werror)
endif()

if(SMTPC_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_link_options(-fsanitize=address,undefined)
endif()

function(smtpc_set_warnings target)
  target_compile_options(${target} PRIVATE ${SMTPC_WARNINGS})
endfunction()
