//! Which kernels the system OpenBLAS runs training's products with (the
//! `openblas` feature). OpenBLAS picks them once, when it loads: by its own
//! CPU detection, or by `OPENBLAS_CORETYPE` when that is set. A release
//! older than the CPU, or a machine that pins the core type to work around
//! one, can leave an AVX-512 CPU on AVX2 kernels: on the 2-core development
//! machine (AMD EPYC, AVX-512) that is 0.7x the training speed of the
//! AVX-512 kernels. So the kernels are named where speed is reported.

use std::ffi::CStr;
use std::os::raw::c_char;

#[link(name = "openblas")]
extern "C" {
    fn openblas_get_corename() -> *const c_char;
}

/// OpenBLAS's name for the kernels it picked (`Haswell`, `SkylakeX`, ...).
pub fn core_name() -> String {
    // SAFETY: OpenBLAS returns a static NUL-terminated name, or null.
    let name = unsafe { openblas_get_corename() };
    if name.is_null() {
        return "unknown".into();
    }
    // SAFETY: non-null, NUL-terminated and static (above).
    unsafe { CStr::from_ptr(name) }.to_string_lossy().into_owned()
}

/// The OpenBLAS cores whose single-precision kernels use AVX-512.
const AVX512_CORES: [&str; 3] = ["SkylakeX", "Cooperlake", "SapphireRapids"];

/// A line for the user when the CPU has AVX-512 but OpenBLAS runs narrower
/// kernels, naming the cause if it is `OPENBLAS_CORETYPE`.
pub fn narrower_than_cpu() -> Option<String> {
    #[cfg(target_arch = "x86_64")]
    let avx512 = std::arch::is_x86_feature_detected!("avx512f");
    #[cfg(not(target_arch = "x86_64"))]
    let avx512 = false;
    narrower_note(&core_name(), avx512, std::env::var("OPENBLAS_CORETYPE").ok().as_deref())
}

fn narrower_note(core: &str, cpu_has_avx512: bool, pinned: Option<&str>) -> Option<String> {
    if !cpu_has_avx512 || AVX512_CORES.contains(&core) {
        return None;
    }
    let cause = match pinned {
        Some(pinned) => format!("OPENBLAS_CORETYPE={pinned} pins them"),
        None => "this OpenBLAS may predate the CPU".into(),
    };
    Some(format!(
        "note: OpenBLAS runs its {core} kernels on a CPU with AVX-512 ({cause}); \
         OPENBLAS_CORETYPE=SkylakeX selects its AVX-512 kernels"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_a_library_that_runs_narrower_kernels_than_the_cpu_has() {
        assert!(!core_name().is_empty());
        assert_eq!(narrower_note("SkylakeX", true, Some("SkylakeX")), None);
        assert_eq!(narrower_note("Cooperlake", true, None), None);
        assert_eq!(narrower_note("Haswell", false, Some("Haswell")), None);
        let pinned = narrower_note("Haswell", true, Some("Haswell")).unwrap();
        assert!(pinned.contains("Haswell kernels") && pinned.contains("OPENBLAS_CORETYPE=Haswell pins them"));
        let old = narrower_note("Prescott", true, None).unwrap();
        assert!(old.contains("Prescott kernels") && old.contains("may predate the CPU"), "{old}");
    }
}
