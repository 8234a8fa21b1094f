# SPDX-License-Identifier: MIT
"""setuptools build of the smtpc Python package: the SWIG module smtpc._smtpc_native (from
smtpc_python.i and the shared ../smtpc.i) linked against an installed libsmtpc found with pkg-config,
plus the pure Python package smtpc/. `python3 setup.py --version` works without a C toolchain."""
import os
import re
import shlex
import subprocess

from setuptools import Extension, setup
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))


def pkg_config(*args):
    try:
        return subprocess.run(["pkg-config", *args, "smtpc"], check=True, capture_output=True,
                              text=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def version():
    header = os.path.join(HERE, "..", "..", "include", "smtpc.h")
    if os.path.exists(header):
        text = open(header, encoding="utf-8").read()
        parts = [re.search(r"#define SMTPC_VERSION_%s (\d+)" % p, text).group(1) for p in ("MAJOR", "MINOR", "PATCH")]
        return ".".join(parts)
    return pkg_config("--modversion") or "0.0.0"


def extension():
    cflags = shlex.split(pkg_config("--cflags") or "")
    libs = shlex.split(pkg_config("--libs") or "-lsmtpc")
    include_dirs = [f[2:] for f in cflags if f.startswith("-I")]
    source_include = os.path.join(HERE, "..", "..", "include")
    if os.path.isdir(source_include):
        include_dirs.append(source_include)
    swig_dirs = [os.path.join(HERE, ".."), *include_dirs]
    return Extension(
        "smtpc._smtpc_native",
        sources=["smtpc_python.i"],
        swig_opts=["-python", "-outdir", os.path.join(HERE, "smtpc"), *("-I" + d for d in swig_dirs)],
        include_dirs=include_dirs,
        library_dirs=[f[2:] for f in libs if f.startswith("-L")],
        libraries=[f[2:] for f in libs if f.startswith("-l")],
        extra_compile_args=["-std=c11"],
    )


class BuildPy(build_py):
    """Build the extension first, so that SWIG's proxy smtpc_native.py exists when the package is
    copied."""

    def run(self):
        self.run_command("build_ext")
        super().run()




setup(
    version=version(),
    ext_modules=[extension()],
    cmdclass={"build_py": BuildPy},

)
