//! Any text as a key URI: `OtpAuthUri::parse` must return `Err` or a value, never panic, and
//! whatever it accepts must survive formatting: `parse(to_uri(u)) == u`, and the canonical
//! form is a fixed point. (The proptests in `otpauth.rs` start from generated values; this
//! starts from text, where the surprises are.) Seeds: `seeds/otpauth`.
#![no_main]

use countersign_core::otpauth::OtpAuthUri;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(parsed) = OtpAuthUri::parse(text) else {
        return;
    };
    assert!(parsed.params.validate().is_ok());
    assert!(!parsed.account_name.is_empty());
    let formatted = parsed.to_uri();
    let again = match OtpAuthUri::parse(&formatted) {
        Ok(again) => again,
        Err(e) => panic!("{formatted:?} (formatted from {text:?}) is refused: {e}"),
    };
    assert!(
        again == parsed,
        "{text:?} -> {formatted:?} reads back differently"
    );
    assert_eq!(again.to_uri(), formatted, "the canonical form moved");
});
