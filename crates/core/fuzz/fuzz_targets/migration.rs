//! Google Authenticator transfer links (`otpauth-migration://offline?data=...`). Each input is
//! tried twice: as the file's text, and as the protobuf payload inside a well-formed link (so
//! the fuzzer reaches the decoder instead of stopping at base64). The importer must return
//! `Err` or a result, never panic; every account it returns must be valid and must come back
//! unchanged through an `otpauth://` URI, since that is how it is exported again. Seeds:
//! `seeds/migration` (payloads and links from `../src/import/testdata`).
#![no_main]

use countersign_core::import::{GoogleAuthenticator, Importer};
use countersign_core::otpauth::OtpAuthUri;
use data_encoding::BASE64;
use libfuzzer_sys::fuzz_target;

fn check(file: &[u8]) {
    let Ok(result) = GoogleAuthenticator.import(file, None) else {
        return;
    };
    for entry in &result.entries {
        assert!(entry.params.validate().is_ok());
        assert!(!entry.account_name.is_empty());
        let uri = entry.to_uri();
        let back = match OtpAuthUri::parse(&uri) {
            Ok(back) => back,
            Err(e) => panic!("imported account {uri:?} does not read back: {e}"),
        };
        assert!(
            &back == entry,
            "imported account {uri:?} reads back differently"
        );
    }
}

fuzz_target!(|data: &[u8]| {
    check(data);
    let encoded = BASE64
        .encode(data)
        .replace('+', "%2B")
        .replace('/', "%2F")
        .replace('=', "%3D");
    check(format!("otpauth-migration://offline?data={encoded}").as_bytes());
});
