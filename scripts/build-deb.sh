#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Builds the Debian packages of smtpc (debian/: libsmtpc0, libsmtpc-dev, python3-smtpc, smtpc-send)
# from the committed tree, HEAD, never from uncommitted changes:
#   1. the upstream tarball smtpc_<version>.orig.tar.gz (git archive, without debian/);
#   2. dpkg-buildpackage -us -uc: source and binary packages, the tests run during the build
#      (those needing root, Postfix or a network namespace left out by label, see debian/rules;
#      DEB_BUILD_OPTIONS=nocheck skips them all);
#   3. lintian on the result, failing on any error or warning.
# Everything goes to OUT_DIR (default build-deb/). Needs the tools from
# `scripts/install-deps.sh --packaging`. JOBS (default 2) bounds the parallelism of build and tests.
# DEBFULLNAME and DEBEMAIL, when set, replace the placeholder maintainer (control and changelog).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

out=${OUT_DIR:-build-deb}
jobs=${JOBS:-2}
for tool in dpkg-buildpackage dpkg-parsechangelog dh lintian git; do
    command -v "$tool" >/dev/null || { echo "build-deb: $tool not found (scripts/install-deps.sh --packaging)" >&2; exit 1; }
done

version=$(dpkg-parsechangelog -l debian/changelog -S Version)
upstream=${version%-*}
header=$(sed -n 's/^#define SMTPC_VERSION_STRING "\(.*\)"/\1/p' include/smtpc.h)
if [[ $upstream != "$header" ]]; then
    echo "build-deb: debian/changelog is at $upstream but include/smtpc.h at $header: add a changelog entry (dch -v $header-1)" >&2
    exit 1
fi
if [[ -n $(git status --porcelain -- debian) ]]; then
    echo "build-deb: note: uncommitted changes under debian/ are not part of this build" >&2
fi

rm -rf "$out"
mkdir -p "$out"
src=$out/smtpc-$upstream
echo "=== smtpc_$upstream.orig.tar.gz from $(git rev-parse --short HEAD)"
git archive --format=tar --prefix="smtpc-$upstream/" HEAD -- . ':(exclude)debian' | gzip -n >"$out/smtpc_$upstream.orig.tar.gz"
tar -xzf "$out/smtpc_$upstream.orig.tar.gz" -C "$out"
git archive --format=tar HEAD debian | tar -x -C "$src"

# debian/control names a placeholder maintainer (example.org is reserved, RFC 2606: no mail reaches
# it; docs/packaging.md says why). Whoever builds packages to publish puts their own name and address
# with the usual devscripts variables, in the build copy only.
if [[ -n ${DEBEMAIL:-} ]]; then
    maintainer="${DEBFULLNAME:-${DEBEMAIL%%@*}} <${DEBEMAIL}>"
    # No character that sed's replacement below would interpret.
    if [[ $DEBEMAIL != *@*.* || $maintainer == *[$'\n'\|\&\\]* ]]; then
        echo "build-deb: DEBFULLNAME/DEBEMAIL is not a usable maintainer: $maintainer" >&2
        exit 1
    fi
    echo "=== maintainer: $maintainer (DEBFULLNAME/DEBEMAIL)"
    sed -i "s|^Maintainer: .*|Maintainer: $maintainer|" "$src/debian/control"
    sed -i "0,/^ -- .*>  /s|^ -- .*>  | -- $maintainer  |" "$src/debian/changelog"
else
    echo "build-deb: note: Maintainer is the placeholder of debian/control; set DEBFULLNAME and DEBEMAIL to build packages to publish" >&2
fi

echo "=== dpkg-buildpackage ($version)"
build_options="${DEB_BUILD_OPTIONS:+$DEB_BUILD_OPTIONS }parallel=$jobs"
(cd "$src" && DEB_BUILD_OPTIONS=$build_options dpkg-buildpackage -us -uc -j"$jobs") 2>&1 |
    tee "$out/build.log"

echo "=== lintian"
changes=$(ls "$out"/smtpc_"${version}"_*.changes)
lintian --fail-on error,warning --info "$changes" 2>&1 | tee "$out/lintian.log"
echo "=== packages in $out:"
ls -1 "$out"/*.deb
