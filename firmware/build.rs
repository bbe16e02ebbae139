//! Build script: links the firmware with `firmware.ld` (load address, sections, model-region guard).

fn main() {
    let manifest_dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    // Let the linker find `firmware.ld` next to Cargo.toml without committing an absolute path.
    println!("cargo::rustc-link-search={manifest_dir}");
    println!("cargo::rustc-link-arg-bins=-Tfirmware.ld");
    println!("cargo::rerun-if-changed=firmware.ld");
    println!("cargo::rerun-if-changed=build.rs");
}
