//! Gives the shared library a SONAME on Linux, `libcrm.so.<major>`, the name
//! `scripts/install.sh` installs it under: programs linked against the
//! installed `libcrm.so` then load `libcrm.so.0` at run time.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if os == "linux" {
        let major = std::env::var("CARGO_PKG_VERSION_MAJOR").unwrap_or_else(|_| "0".into());
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libcrm.so.{major}");
    }
}
