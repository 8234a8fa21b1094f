#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Installs every Debian package that building and testing smtpc needs. Fast when all are present
# (no apt at all); otherwise one `apt-get update`, then one non-interactive install.
# Postfix is preseeded with "No configuration" so that installing it starts nothing on port 25: the
# tests run their own private Postfix instances.
#
#   scripts/install-deps.sh               what the build and every test use (scripts/test.sh, CI)
#   scripts/install-deps.sh --packaging   also the tools of the Debian package build, the API
#                                         reference and lintian (scripts/build-deb.sh, `docs` target)
set -euo pipefail

packages=(
    # build
    cmake make g++ gcc binutils pkg-config
    # the library's one runtime dependency
    libssl-dev openssl
    # C tests
    libcmocka-dev
    # Python binding and its tests (setup.py metadata check: setuptools), and the Python test
    # servers (Debian's /usr/bin/python3)
    swig python3 python3-dev python3-pytest python3-aiosmtpd python3-setuptools
    # smtpc.aio is tested side by side with aiosmtplib
    python3-aiosmtplib
    # real-server integration tests; iproute2 for the network namespace of tests/auth
    postfix sasl2-bin libsasl2-modules iproute2
    # Dovecot LMTP (tests/servers/dovecot_server.py runs a private instance); installing it starts no
    # system Dovecot in a container: invoke-rc.d finds no runlevel there and starts nothing
    dovecot-core dovecot-lmtpd
    # the fuzz targets (scripts/fuzz-smoke.sh): clang and its libFuzzer runtime (libclang_rt.fuzzer)
    clang libclang-rt-dev
    # the ABI check against abi/smtpc.abi (abidiff)
    abigail-tools
    # the style check (tests/style: every C and C++ file follows .clang-format; git lists the tracked
    # files, and is not in a minimal Debian that got the sources some other way)
    clang-format git
    # the Go binding and its tests (bindings/go: cgo, no modules from outside)
    golang-go
    # the Rust binding and its tests (bindings/rust: cargo --offline, no crates from outside)
    rustc cargo
    # the Ruby binding (bindings/ruby: SWIG extension, minitest) and the SWIG backends test
    # (tests/swig: Python, Ruby and Java wrappers from bindings/smtpc.i)
    ruby-dev ruby-minitest default-jdk-headless
)
case ${1:-} in
    --packaging)
        packages+=(debhelper dh-python dpkg-dev devscripts fakeroot lintian doxygen)
        ;;
    "") ;;
    *)
        echo "usage: $0 [--packaging]" >&2
        exit 2
        ;;
esac

missing=()
for pkg in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}\n' "$pkg" 2>/dev/null | grep -q '^install ok installed$'; then
        missing+=("$pkg")
    fi
done
if [[ ${#missing[@]} -eq 0 ]]; then
    echo "install-deps: all ${#packages[@]} packages already installed"
    exit 0
fi

sudo=()
if [[ $(id -u) -ne 0 ]]; then
    sudo=(sudo)
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
echo "postfix postfix/main_mailer_type select No configuration" | "${sudo[@]}" debconf-set-selections
"${sudo[@]}" apt-get update -q
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${missing[@]}"
