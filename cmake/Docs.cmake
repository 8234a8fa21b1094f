# SPDX-License-Identifier: MIT
# Documentation: the API reference built on demand from the header's doc comments (target `docs`,
# Doxygen; not part of `all`), and the installed documents (README, CHANGELOG, LICENSE, docs/*.md,
# into CMAKE_INSTALL_DOCDIR) and the man page of smtpc-send (CMAKE_INSTALL_MANDIR/man1).

find_package(Doxygen QUIET)
if(DOXYGEN_FOUND)
  set(SMTPC_DOCS_OUTPUT_DIR "${PROJECT_BINARY_DIR}/docs/api")
  configure_file("${PROJECT_SOURCE_DIR}/docs/Doxyfile.in" "${PROJECT_BINARY_DIR}/docs/Doxyfile" @ONLY)
  add_custom_target(docs
    COMMAND "${CMAKE_COMMAND}" -E make_directory "${SMTPC_DOCS_OUTPUT_DIR}"
    COMMAND Doxygen::doxygen "${PROJECT_BINARY_DIR}/docs/Doxyfile"
    COMMAND "${CMAKE_COMMAND}" -E echo "API reference: ${SMTPC_DOCS_OUTPUT_DIR}/html/index.html"
    DEPENDS "${PROJECT_SOURCE_DIR}/include/smtpc.h" "${PROJECT_SOURCE_DIR}/docs/api-conventions.md"
            "${PROJECT_SOURCE_DIR}/docs/Doxyfile.in"
    COMMENT "Doxygen: API reference from include/smtpc.h"
    VERBATIM)
else()
  add_custom_target(docs
    COMMAND "${CMAKE_COMMAND}" -E echo "doxygen not found (Debian: doxygen): no API reference"
    COMMAND "${CMAKE_COMMAND}" -E false
    VERBATIM)
endif()

if(SMTPC_INSTALL)
  file(GLOB _smtpc_doc_pages CONFIGURE_DEPENDS "${PROJECT_SOURCE_DIR}/docs/*.md")
  install(FILES "${PROJECT_SOURCE_DIR}/README.md" "${PROJECT_SOURCE_DIR}/CHANGELOG.md"
                "${PROJECT_SOURCE_DIR}/LICENSE" ${_smtpc_doc_pages}
    DESTINATION "${CMAKE_INSTALL_DOCDIR}" COMPONENT Documentation)
  if(TARGET smtpc-send)
    install(FILES "${PROJECT_SOURCE_DIR}/docs/man/smtpc-send.1"
      DESTINATION "${CMAKE_INSTALL_MANDIR}/man1" COMPONENT Runtime)
  endif()
endif()
