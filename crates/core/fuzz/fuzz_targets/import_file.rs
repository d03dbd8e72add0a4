//! Any bytes, as a file to import: detection and every unencrypted importer must return
//! `Err` or a result, never panic. (Encrypted formats stop at "password required" here;
//! `import::robustness_tests` covers them with passwords and damaged fixtures.) Seed the
//! corpus with `../src/import/testdata`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = countersign_core::import::detect(data);
    if let Ok(result) = countersign_core::import::import(data, None) {
        for entry in &result.entries {
            assert!(entry.params.validate().is_ok());
            assert!(!entry.account_name.is_empty());
        }
    }
});
