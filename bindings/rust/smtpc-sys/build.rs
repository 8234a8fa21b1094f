// SPDX-License-Identifier: MIT
//! Finds libsmtpc for the linker.
//!
//! - `SMTPC_LIB_DIR=DIR`: link `DIR/libsmtpc.so` (a build tree, or any installation without a
//!   pkg-config file). The program then needs the library at run time too (`LD_LIBRARY_PATH`, or an
//!   rpath of the program's own choosing).
//! - otherwise `pkg-config --libs smtpc` (the program named by `PKG_CONFIG`, default `pkg-config`;
//!   `PKG_CONFIG_PATH` as usual), run here without any helper crate.

use std::env;
use std::process::Command;

fn main() {
    for var in [
        "SMTPC_LIB_DIR",
        "PKG_CONFIG",
        "PKG_CONFIG_PATH",
        "PKG_CONFIG_LIBDIR",
        "PKG_CONFIG_SYSROOT_DIR",
    ] {
        println!("cargo:rerun-if-env-changed={}", var);
    }
    println!("cargo:rerun-if-changed=build.rs");

    if let Some(dir) = env::var_os("SMTPC_LIB_DIR").filter(|d| !d.is_empty()) {
        let dir = dir.to_string_lossy().into_owned();
        println!("cargo:rustc-link-search=native={}", dir);
        println!("cargo:rustc-link-lib=dylib=smtpc");
        println!("cargo:lib_dir={}", dir);
        return;
    }

    let pkg_config = env::var("PKG_CONFIG")
        .ok()
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| "pkg-config".into());
    let out = Command::new(&pkg_config).args(["--libs", "smtpc"]).output();
    let out = match out {
        Ok(out) if out.status.success() => out,
        Ok(out) => fail(&format!(
            "`{} --libs smtpc` failed: {}",
            pkg_config,
            String::from_utf8_lossy(&out.stderr).trim()
        )),
        Err(e) => fail(&format!("could not run `{}`: {}", pkg_config, e)),
    };
    let flags = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut linked = false;
    for flag in flags.split_whitespace() {
        if let Some(dir) = flag.strip_prefix("-L") {
            println!("cargo:rustc-link-search=native={}", dir);
            println!("cargo:lib_dir={}", dir);
        } else if let Some(lib) = flag.strip_prefix("-l") {
            println!("cargo:rustc-link-lib=dylib={}", lib);
            linked |= lib == "smtpc";
        }
        // Other flags (-pthread, -Wl,...) are not needed to link the shared library.
    }
    if !linked {
        fail(&format!(
            "`{} --libs smtpc` printed no -lsmtpc: {:?}",
            pkg_config,
            flags.trim()
        ));
    }
}

fn fail(why: &str) -> ! {
    panic!(
        "smtpc-sys: libsmtpc not found: {}.\n\
         Install the development package (Debian: libsmtpc-dev) or `cmake --install` smtpc so that \
         `pkg-config --libs smtpc` works (PKG_CONFIG_PATH for a private prefix), or set \
         SMTPC_LIB_DIR to the directory holding libsmtpc.so.",
        why
    );
}
