//! The test client reproduces PROTOCOL.md Appendix A byte for byte.

mod common;

use common::device::Device;
use p256::ecdsa::SigningKey;

const D: &str = "C9AFA9D845BA75166B5C215767B1D6934E50C3DB36E89B127B8A622B120F6721";

fn device() -> Device {
    let key =
        SigningKey::from_slice(&data_encoding::HEXUPPER.decode(D.as_bytes()).unwrap()).unwrap();
    let mut d = Device::from_key(key, "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    d.factor_sid = "YF0123456789abcdef0123456789abcdef".into();
    d.credential_sid = "credential_sid_example".into();
    d
}

#[test]
fn public_key_and_factor_signature() {
    let d = device();
    assert_eq!(
        d.public_key_b64(),
        "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEYP7UuiVanTHJYet0xjVtaMBJuJI7Yfps5mliLmDyn7Z5A/4QCLi8maQa6elWKLxk8vGyDC1+n1F3o8KU1EYimQ=="
    );
    assert_eq!(
        d.sign_der_b64(&d.factor_sid),
        "MEQCIHY8Idr5k7eVJ0r5/qKurqgztYe3O17R5Fs1sOVgI9WvAiBtrgyXLUiZGRb53Tyjj7TDYvHKvUFVp1fwASkTc11jJA=="
    );
}

#[test]
fn device_jwt_and_authorization_header() {
    let d = device();
    let jwt = d.jws(
        r#"{"cty":"twilio-pba;v=1","kid":"credential_sid_example","typ":"JWT","alg":"ES256"}"#,
        r#"{"sub":"ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","exp":1700000600,"nbf":1700000000}"#,
    );
    assert_eq!(jwt, d.device_jwt_at(1700000000));
    assert_eq!(
        jwt,
        "eyJjdHkiOiJ0d2lsaW8tcGJhO3Y9MSIsImtpZCI6ImNyZWRlbnRpYWxfc2lkX2V4YW1wbGUiLCJ0eXAiOiJKV1QiLCJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJBQ2FhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhIiwiZXhwIjoxNzAwMDAwNjAwLCJuYmYiOjE3MDAwMDAwMDB9.sZ--MjcwK_Ld-4WGOVeyOPpRSmHOxMwkXv1W0ur73kmoSGBtXsBOMgoEfya2QS-F8bSaN7jlEuIEj4ggs6D1_w"
    );
    let header = format!(
        "Basic {}",
        data_encoding::BASE64.encode(format!("token:{jwt}").as_bytes())
    );
    assert_eq!(
        header,
        "Basic dG9rZW46ZXlKamRIa2lPaUowZDJsc2FXOHRjR0poTzNZOU1TSXNJbXRwWkNJNkltTnlaV1JsYm5ScFlXeGZjMmxrWDJWNFlXMXdiR1VpTENKMGVYQWlPaUpLVjFRaUxDSmhiR2NpT2lKRlV6STFOaUo5LmV5SnpkV0lpT2lKQlEyRmhZV0ZoWVdGaFlXRmhZV0ZoWVdGaFlXRmhZV0ZoWVdGaFlXRmhZV0ZoSWl3aVpYaHdJam94TnpBd01EQXdOakF3TENKdVltWWlPakUzTURBd01EQXdNREI5LnNaLS1NamN3S19MZC00V0dPVmV5T1BwUlNtSE94TXdrWHYxVzB1cjcza21vU0dCdFhzQk9NZ29FZnlhMlFTLUY4YlNhTjdqbEV1SUVqNGdnczZEMV93"
    );
}

#[test]
fn challenge_approval_jwt() {
    let d = device();
    let body = serde_json::json!({
        "sid": "YC11111111111111111111111111111111",
        "factor_sid": "YF0123456789abcdef0123456789abcdef",
        "status": "pending",
    });
    assert_eq!(
        d.approval_jwt(&body, "sid,factor_sid", "approved"),
        "eyJ0eXAiOiJKV1QiLCJhbGciOiJFUzI1NiJ9.eyJzaWQiOiJZQzExMTExMTExMTExMTExMTExMTExMTExMTExMTExMTExIiwiZmFjdG9yX3NpZCI6IllGMDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWYiLCJzdGF0dXMiOiJhcHByb3ZlZCJ9.M9FhKbc6kR9HnskeiMA7JWylURv2WmNv3iDXIzGu828NHrl3R-joWkamCY-h4myPm-SnlE98VNIJ9cTLbWjD-w"
    );
}
