#!/usr/bin/env bash
# Puts the licence identifier (SPDX-License-Identifier: MIT, see LICENSE) into every tracked source
# file that lacks it: one comment line at the top, after a "#!" line and a Python coding line.
#
#   scripts/add-spdx.sh           add it to the working tree and stage exactly that line (the rest of a
#                                 file's uncommitted changes stays unstaged), ready for a commit of its own
#   scripts/add-spdx.sh --check   list the files that lack it; exit status 1 if there are any
#
# Files covered: C/C++ sources and headers, SWIG interfaces, Python, shell, CMake, the linker script
# and the configured templates. Not covered: documentation, data (fuzz corpora, abi/*.symbols,
# abi/*.abi), debian/ (debian/copyright says it).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

mode=add
[[ ${1:-} == --check ]] && mode=check
tag="SPDX-License-Identifier: MIT"

comment_for() { # FILE -> the comment line in that file's syntax, or nothing
    case $1 in
    *.c | *.h | *.i | *.map) echo "/* $tag */" ;;
    *.cpp | *.hpp) echo "// $tag" ;;
    *.py | *.sh | *.cmake | */CMakeLists.txt | CMakeLists.txt | *.toml | *.pc.in | */Doxyfile.in | *.cmake.in | .ci/run)
        echo "# $tag" ;;
    esac
}

# The line number after which the comment goes: after a #! line, and after a Python coding line.
insert_after() {
    local file=$1 n=0
    if head -n 1 "$file" | grep -q '^#!'; then n=1; fi
    if [[ $file == *.py ]] && sed -n "$((n + 1))p" "$file" | grep -q 'coding[:=]'; then n=$((n + 1)); fi
    echo "$n"
}

insert() { # FILE AFTER LINE: write FILE with LINE inserted after line AFTER to stdout
    awk -v after="$2" -v line="$3" 'NR == after + 1 { print line } { print } END { if (NR <= after) print line }' "$1"
}

missing=0
while IFS= read -r -d '' f; do
    c=$(comment_for "$f")
    [[ -n $c && -f $f ]] || continue
    has_tag() { head -n 5 "$1" | grep -qF "$tag"; }
    if [[ $mode == check ]]; then
        if ! has_tag "$f"; then
            echo "$f"
            missing=1
        fi
        continue
    fi
    git cat-file -e "HEAD:$f" 2>/dev/null || continue # not committed yet: its author's to do
    tmp=$(mktemp)
    git show "HEAD:$f" >"$tmp"
    if ! has_tag "$tmp"; then
        # The committed version gets the line (staged on its own)...
        insert "$tmp" "$(insert_after "$tmp")" "$c" >"$tmp.new"
        blob=$(git hash-object -w "$tmp.new")
        mode_bits=$(git ls-files -s -- "$f" | awk '{ print $1 }')
        git update-index --cacheinfo "$mode_bits,$blob,$f"
        echo "added: $f"
    fi
    if ! has_tag "$f"; then
        # ...and so does the working tree, keeping whatever else is being edited there.
        insert "$f" "$(insert_after "$f")" "$c" >"$tmp.wt"
        cat "$tmp.wt" >"$f"
    fi
    rm -f "$tmp" "$tmp.new" "$tmp.wt"
done < <(git ls-files -z)
exit "$missing"
