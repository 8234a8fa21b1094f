#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Checks that bindings/smtpc.i maps every (const char *, size_t) pair of include/smtpc.h.

SWIG matches multi-argument typemaps by parameter name, so a pair the list in smtpc.i lacks would
silently become two arguments (a string cut at its first NUL and a separate length).
usage: check_pairs.py HEADER INTERFACE
"""
import re
import sys


def pairs(text, decl_pattern):
    found = set()
    for decl in re.finditer(decl_pattern, text, re.S):
        for m in re.finditer(r"const char \*\s*(\w+),\s*size_t (\w+)", decl.group(0)):
            found.add((m.group(1), m.group(2)))
    return found


def main():
    header = open(sys.argv[1], encoding="utf-8").read()
    interface = open(sys.argv[2], encoding="utf-8").read()
    wanted = pairs(header, r"SMTPC_API[^;]*;")
    listed = pairs(interface, r"%apply \(const char \*SMTPC_BYTES, size_t SMTPC_LENGTH\) \{[^}]*\}")
    missing = sorted(wanted - listed)
    for name, length in missing:
        print(f"not mapped in smtpc.i: (const char *{name}, size_t {length})")
    if missing:
        print(f"FAIL: {len(missing)} string pair(s) of the header are not in the %apply list of smtpc.i")
        return 1
    print(f"every one of the {len(wanted)} (const char *, size_t) pairs of the header is mapped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
