#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Checks that smtpc-sys/src/lib.rs, written by hand, matches include/smtpc.h.

Usage: check_sys.py SOURCE_DIR [CC]

1. Every function the header declares is declared in lib.rs, and lib.rs declares no other.
2. Every enumerator of the header is a constant in lib.rs.
3. A C file is generated from lib.rs: for each function, a static assertion that the header's
   function has exactly the type of the Rust declaration turned back into C (return type, every
   parameter type, const-ness of every pointer); the same for each callback type; one for each
   constant's value; one for the size of each enumeration type. It is compiled with CC (default cc)
   against the header. Any difference fails the compile, and so this check.
Exit status 0 when everything matches, 1 on a difference (each one printed), 77 when no C compiler.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

PRIMITIVES = {
    "c_char": "char", "c_int": "int", "c_uint": "unsigned int", "c_long": "long", "c_void": "void",
    "usize": "size_t", "u8": "unsigned char", "u16": "uint16_t", "u32": "uint32_t", "u64": "uint64_t",
    "i64": "int64_t", "i32": "int32_t", "c_longlong": "long long", "c_ulonglong": "unsigned long long",
}


def to_c(ty):
    """A Rust type of lib.rs as a C type name."""
    ty = ty.strip()
    if ty.startswith("*mut "):
        return to_c(ty[5:]) + " *"
    if ty.startswith("*const "):
        inner = to_c(ty[7:])
        return inner + " const *" if inner.endswith("*") else "const " + inner + " *"
    if ty in PRIMITIVES:
        return PRIMITIVES[ty]
    if re.fullmatch(r"smtpc_\w+", ty):
        return ty
    raise ValueError("no C spelling for Rust type %r" % ty)


def split_params(text):
    """'a: T, b: U' -> ['T', 'U'] (callback types have no nested commas in lib.rs' parameters)."""
    out = []
    for part in [p.strip() for p in text.split(",")]:
        if part:
            out.append(part.split(":", 1)[1].strip())
    return out


def strip_comments(src):
    return re.sub(r"//[^\n]*", "", src)


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    src_dir = sys.argv[1]
    cc = sys.argv[2] if len(sys.argv) > 2 else (os.environ.get("CC") or "cc")
    header = open(os.path.join(src_dir, "include", "smtpc.h"), encoding="utf-8").read()
    rust = strip_comments(open(os.path.join(src_dir, "bindings", "rust", "smtpc-sys", "src", "lib.rs"),
                               encoding="utf-8").read())
    problems = []

    # Functions and constants of the header.
    c_funcs = set(re.findall(r"SMTPC_API[^;(]*?\b(smtpc_\w+)\s*\(", header))
    header_nocomment = re.sub(r"/\*.*?\*/", "", header, flags=re.S)
    c_enumerators = set(re.findall(r"\b(SMTPC_[A-Z0-9_]+)\s*=", header_nocomment))

    # Functions, callback types and constants of lib.rs.
    block = re.search(r'extern "C"\s*\{(.*)\n\}', rust, re.S)
    if not block:
        print("check_sys: no extern \"C\" block in lib.rs")
        return 1
    rs_funcs = {}
    for m in re.finditer(r"pub fn (\w+)\s*\((.*?)\)\s*(?:->\s*([^;]+))?;", block.group(1), re.S):
        rs_funcs[m.group(1)] = (split_params(m.group(2)), (m.group(3) or "()").strip())
    rs_callbacks = {}
    for m in re.finditer(r"pub type (smtpc_\w+_fn)\s*=\s*Option<\s*unsafe extern \"C\" fn\s*\((.*?)\)\s*(?:->\s*(\w+))?\s*,?\s*>;",
                         rust, re.S):
        rs_callbacks[m.group(1)] = (split_params(m.group(2)), (m.group(3) or "()").strip())
    rs_consts = dict(re.findall(r"pub const (SMTPC_\w+)\s*:\s*\w+\s*=\s*([^;]+);", rust))
    rs_enum_types = re.findall(r"pub type (smtpc_\w+)\s*=\s*c_int;", rust)

    for name in sorted(c_funcs - set(rs_funcs)):
        problems.append("%s is in the header but not declared in smtpc-sys" % name)
    for name in sorted(set(rs_funcs) - c_funcs):
        problems.append("%s is declared in smtpc-sys but not in the header" % name)
    for name in sorted(c_enumerators - set(rs_consts)):
        problems.append("enumerator %s is in the header but not a constant in smtpc-sys" % name)

    lines = ["#include <smtpc.h>", "#include <stddef.h>", "#include <stdint.h>", ""]
    try:
        for name, (params, ret) in sorted(rs_funcs.items()):
            if name not in c_funcs:
                continue
            cret = "void" if ret == "()" else to_c(ret)
            cparams = ", ".join(to_c(p) for p in params) or "void"
            lines.append("_Static_assert(__builtin_types_compatible_p(__typeof__(&%s), %s (*)(%s)), "
                         "\"smtpc-sys declares %s(%s) -> %s, which differs from the header\");"
                         % (name, cret, cparams, name, cparams, cret))
        for name, (params, ret) in sorted(rs_callbacks.items()):
            cret = "void" if ret == "()" else to_c(ret)
            cparams = ", ".join(to_c(p) for p in params) or "void"
            lines.append("_Static_assert(__builtin_types_compatible_p(%s, %s (*)(%s)), "
                         "\"smtpc-sys's callback type %s differs from the header\");" % (name, cret, cparams, name))
    except ValueError as e:
        problems.append(str(e))
    for name in rs_enum_types:
        lines.append("_Static_assert(sizeof(%s) == sizeof(int), \"%s is not int-sized\");" % (name, name))
    for name, value in sorted(rs_consts.items()):
        value = value.strip()
        if value == "usize::MAX":
            value = "(size_t)-1"
        if not re.fullmatch(r"-?\d+", value) and value != "(size_t)-1":
            problems.append("constant %s has a value the check cannot read: %s" % (name, value))
            continue
        lines.append("_Static_assert(%s == %s, \"smtpc-sys has %s = %s, the header differs\");"
                     % (name, value, name, value.replace('"', "")))

    if shutil.which(cc) is None:
        print("check_sys: SKIP: no C compiler (%s)" % cc)
        return 77
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "smtpc_sys_check.c")
        with open(path, "w", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
        proc = subprocess.run([cc, "-std=gnu11", "-fsyntax-only", "-Wall", "-Werror",
                               "-I", os.path.join(src_dir, "include"), path],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
        if proc.returncode != 0:
            for line in proc.stdout.splitlines():
                m = re.search(r'static assertion failed: "(.*)"', line)
                if m:
                    problems.append(m.group(1))
            if not any("static assertion" in line for line in proc.stdout.splitlines()):
                problems.append("the generated C check did not compile:\n" + proc.stdout)
    for p in problems:
        print("check_sys: " + p)
    if problems:
        print("check_sys: %d difference(s) between include/smtpc.h and bindings/rust/smtpc-sys/src/lib.rs"
              % len(problems))
        return 1
    print("check_sys: %d functions, %d callback types, %d constants match the header"
          % (len(rs_funcs), len(rs_callbacks), len(rs_consts)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
