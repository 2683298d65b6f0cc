# The Debian package (issue 19): certgate_<version>_<arch>.deb with the
# binary (stripped), a hardened systemd unit, /etc/certgate/certgate.yaml as
# a conffile, and the maintainer scripts that make the system user certgate.
# Its sources are in packaging/; scripts/check_deb.sh checks what comes out
# (the CTest test debian_package). docs/operating.md is the operator's side.
#
#   cmake --build build --target deb       # builds certgate, then the .deb in build/
#
# CPack's own `package` target makes the same file but builds nothing first:
# without CMAKE_SKIP_PACKAGE_ALL_DEPENDENCY it would build `all`, every test
# binary included, and CMake cannot give it another dependency. Run it after
# `cmake --build build --target certgate`; `--target certgate package` in one
# command does not order the two (Ninja may package while it links).
#
# The package's files are install() rules of the component `deb`, excluded
# from a plain `cmake --install` (which installs nothing): CPack installs
# that component only, so nothing else can slip into the package.
if(NOT TARGET certgate)
  return()  # CERTGATE_UNIT_TESTS_ONLY: no binary to package
endif()

set(CMAKE_SKIP_INSTALL_ALL_DEPENDENCY ON)
set(CMAKE_SKIP_PACKAGE_ALL_DEPENDENCY ON)
# Directories the rules make: 0755 whatever the umask of whoever packages.
set(CMAKE_INSTALL_DEFAULT_DIRECTORY_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE
    GROUP_READ GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)

set(CERTGATE_DEB_MAINTAINER "certgate developers <certgate@example.org>" CACHE STRING
    "Maintainer field of the Debian package: a name and an e-mail address")

set(certgate_pkg_src ${PROJECT_SOURCE_DIR}/packaging)
set(certgate_pkg_gen ${PROJECT_BINARY_DIR}/packaging)

# Debian wants the changelog and the man page compressed, without a
# timestamp in the gzip header (lintian: package-contains-timestamped-gzip).
# Made at configure time, which configure_file() reruns when a source changes,
# so that `package` alone (which builds nothing) finds them.
find_program(CERTGATE_GZIP gzip REQUIRED)
configure_file(${certgate_pkg_src}/changelog ${certgate_pkg_gen}/changelog COPYONLY)
configure_file(${certgate_pkg_src}/certgate.1.in ${certgate_pkg_gen}/certgate.1 @ONLY)
foreach(file changelog certgate.1)
  execute_process(COMMAND ${CERTGATE_GZIP} -n -9 -c ${certgate_pkg_gen}/${file}
                  OUTPUT_FILE ${certgate_pkg_gen}/${file}.gz
                  RESULT_VARIABLE gzip_result)
  if(NOT gzip_result EQUAL 0)
    message(FATAL_ERROR "gzip of packaging/${file} failed: ${gzip_result}")
  endif()
endforeach()
# The changelog's newest entry names the package's version.
file(STRINGS ${certgate_pkg_src}/changelog certgate_changelog_top LIMIT_COUNT 1)
if(NOT certgate_changelog_top MATCHES "^certgate \\(${PROJECT_VERSION}\\) ")
  message(WARNING "packaging/changelog's newest entry (${certgate_changelog_top}) is not "
                  "version ${PROJECT_VERSION}: add an entry for it")
endif()

# Relative destinations under CPACK_PACKAGING_INSTALL_PREFIX "/": an install
# with another prefix never writes to /etc.
install(TARGETS certgate RUNTIME DESTINATION usr/bin COMPONENT deb EXCLUDE_FROM_ALL)
# When CPack strips, also drop .comment (compiler versions), as dh_strip does.
install(CODE "
  if(CMAKE_INSTALL_DO_STRIP)
    execute_process(COMMAND \"${CMAKE_OBJCOPY}\" --remove-section=.comment
                            \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/usr/bin/certgate\"
                    COMMAND_ERROR_IS_FATAL ANY)
  endif()" COMPONENT deb EXCLUDE_FROM_ALL)
install(FILES ${certgate_pkg_src}/certgate.service DESTINATION lib/systemd/system
        COMPONENT deb EXCLUDE_FROM_ALL)
install(FILES ${certgate_pkg_src}/certgate.yaml DESTINATION etc/certgate
        COMPONENT deb EXCLUDE_FROM_ALL)
install(FILES ${certgate_pkg_src}/copyright ${certgate_pkg_gen}/changelog.gz
        DESTINATION usr/share/doc/certgate COMPONENT deb EXCLUDE_FROM_ALL)
install(FILES ${certgate_pkg_gen}/certgate.1.gz DESTINATION usr/share/man/man1
        COMPONENT deb EXCLUDE_FROM_ALL)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME certgate)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR "certgate developers")
set(CPACK_PACKAGING_INSTALL_PREFIX /)
set(CPACK_INSTALL_CMAKE_PROJECTS "${PROJECT_BINARY_DIR};certgate;deb;/")
# RelWithDebInfo makes a ~260 MB binary; lintian refuses unstripped ones.
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # certgate_<version>_<arch>.deb
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${CERTGATE_DEB_MAINTAINER}")
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# dpkg-shlibdeps adds the runtime libraries by package name (libssl3,
# libsodium23, ...); besides them the postinst needs adduser, and the ACME
# client the CA certificates to check its CA's HTTPS.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser, ca-certificates")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "self-hosted TLS certificate manager and TLS edge")
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
    "certgate keeps TLS certificates, uploaded or issued and renewed over ACME
(Let's Encrypt or any RFC 8555 CA), behind a REST API compatible with
ngrok's and a web dashboard, and terminates TLS for their names at its
edge, picking each handshake's certificate by SNI and proxying to
upstreams. Private keys are sealed at rest with libsodium. State lives in
SQLite, or in PostgreSQL shared by a cluster of nodes.

This package runs certgate serve as a hardened systemd service under its
own system user, with its state in /var/lib/certgate and its configuration
in /etc/certgate/certgate.yaml.")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${certgate_pkg_src}/debian/conffiles ${certgate_pkg_src}/debian/postinst
    ${certgate_pkg_src}/debian/prerm ${certgate_pkg_src}/debian/postrm)
# Maintainer scripts 0755, conffiles 0644, whatever the checkout's modes.
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
# include(CPack) also defines `package_source`: the source tree as .tar.xz,
# without git's files, build directories or the e2e tests' node_modules.
set(CPACK_SOURCE_GENERATOR TXZ)
set(CPACK_SOURCE_IGNORE_FILES "/\\.git/" "/build[^/]*/" "/node_modules/")
include(CPack)

# certgate, then the package.
add_custom_target(deb
                  COMMAND ${CMAKE_CPACK_COMMAND} --config ${PROJECT_BINARY_DIR}/CPackConfig.cmake
                  WORKING_DIRECTORY ${PROJECT_BINARY_DIR}
                  COMMENT "Making the Debian package"
                  USES_TERMINAL VERBATIM)
add_dependencies(deb certgate)
