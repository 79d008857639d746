//! The library's version as numbers, for the header's macros and the
//! run-time check that header and library agree.
#![allow(unsafe_code)] // `#[unsafe(no_mangle)]` on the exported function.

/// The major version of the library this header belongs to.
pub const CRM_VERSION_MAJOR: u32 = 0;
/// The minor version of the library this header belongs to.
pub const CRM_VERSION_MINOR: u32 = 1;
/// The patch version of the library this header belongs to.
pub const CRM_VERSION_PATCH: u32 = 0;
/// The version as one number, `MAJOR * 1000000 + MINOR * 1000 + PATCH`
/// (0.1.0 is 1000), as SQLite's `SQLITE_VERSION_NUMBER` is built.
pub const CRM_VERSION_NUMBER: u32 = 1000;

/// The version of the library linked at run time as one number, built as
/// `CRM_VERSION_NUMBER` is. Compare it with the header's
/// `CRM_VERSION_NUMBER` (the `CRM_CHECK_VERSION()` macro does) to catch a
/// program compiled against one version and run with another.
#[unsafe(no_mangle)]
pub extern "C" fn crm_version_number() -> u32 {
    CRM_VERSION_NUMBER
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_numbers_are_the_crate_version() {
        let parts: Vec<u32> = env!("CARGO_PKG_VERSION")
            .split(['.', '-'])
            .take(3)
            .map(|p| p.parse().unwrap_or(u32::MAX))
            .collect();
        assert_eq!(
            parts,
            [CRM_VERSION_MAJOR, CRM_VERSION_MINOR, CRM_VERSION_PATCH],
            "update the constants in crm-ffi/src/version.rs to the crate version and regenerate crm.h"
        );
        assert_eq!(
            CRM_VERSION_NUMBER,
            CRM_VERSION_MAJOR * 1_000_000 + CRM_VERSION_MINOR * 1_000 + CRM_VERSION_PATCH
        );
        assert_eq!(crm_version_number(), CRM_VERSION_NUMBER);
        assert_eq!(
            env!("CARGO_PKG_VERSION"),
            format!("{CRM_VERSION_MAJOR}.{CRM_VERSION_MINOR}.{CRM_VERSION_PATCH}")
        );
    }
}
