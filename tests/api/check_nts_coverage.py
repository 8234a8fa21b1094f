#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Checks that a test source calls, with SMTPC_NTS, every function of the public header that takes a
string as a (const char *, size_t) pair, so that a string-taking function added later is tested too.

usage: check_nts_coverage.py HEADER TEST_SOURCE
"""
import re
import sys


def declarations(text):
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    for m in re.finditer(r"SMTPC_API[^;(]*?\b(smtpc_\w+)\s*\(([^)]*)\)\s*;", text):
        yield m.group(1), " ".join(m.group(2).split())


def string_functions(header):
    with open(header, encoding="utf-8") as f:
        text = f.read()
    for name, params in declarations(text):
        # A string is a `const char *p` followed by a `size_t` length.
        if re.search(r"const char \*\s*\w+, size_t \w+", params):
            yield name


def calls(src, name):
    """The argument text of every call of `name` in src (parentheses balanced)."""
    for m in re.finditer(r"\b" + name + r"\s*\(", src):
        depth, i = 1, m.end()
        while i < len(src) and depth:
            depth += {"(": 1, ")": -1}.get(src[i], 0)
            i += 1
        yield src[m.end() : i - 1]


def main():
    header, source = sys.argv[1], sys.argv[2]
    with open(source, encoding="utf-8") as f:
        src = f.read()
    names = sorted(set(string_functions(header)))
    missing = []
    for name in names:
        if not any("SMTPC_NTS" in c for c in calls(src, name)):
            missing.append(name)
    if len(names) < 30:
        print("FAIL: only %d string-taking functions found in %s: is the pattern out of date?" % (len(names), header))
        return 1
    for name in missing:
        print("not called with SMTPC_NTS by %s: %s" % (source.rsplit("/", 1)[-1], name))
    if missing:
        print("FAIL: %d of %d string-taking functions are not tested with SMTPC_NTS" % (len(missing), len(names)))
        return 1
    print("all %d string-taking functions are called with SMTPC_NTS" % len(names))
    return 0


if __name__ == "__main__":
    sys.exit(main())
