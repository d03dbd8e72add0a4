//! TOTP factors and challenges, and entity CRUD.

mod common;

use common::*;
use data_encoding::BASE32_NOPAD;
use hmac::{Hmac, Mac};
use reqwest::StatusCode;

const ID: &str = "user-0003-carol";

/// Independent RFC 6238 (SHA-1) implementation for the test side.
fn code(secret_b32: &str, digits: u32, step: i64, offset_steps: i64) -> String {
    let secret = BASE32_NOPAD.decode(secret_b32.as_bytes()).unwrap();
    let counter = (common::device::now() / step + offset_steps) as u64;
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(&secret).unwrap();
    mac.update(&counter.to_be_bytes());
    let d = mac.finalize().into_bytes();
    let off = (d[19] & 0xf) as usize;
    let bin = u32::from_be_bytes([d[off] & 0x7f, d[off + 1], d[off + 2], d[off + 3]]);
    format!("{:0w$}", bin % 10u32.pow(digits), w = digits as usize)
}

fn wrong(c: &str) -> String {
    c.chars()
        .map(|ch| {
            if ch == '9' {
                '0'
            } else {
                ((ch as u8) + 1) as char
            }
        })
        .collect()
}

#[tokio::test]
async fn totp_factor_lifecycle() {
    let t = start().await;
    let svc = t.service("Acme Corp").await;
    let fpath = format!("{}/Factors", ent(&svc, ID));
    let r = t
        .post(
            &fpath,
            &[
                ("FriendlyName", "John\u{2019}s Account Name"),
                ("FactorType", "totp"),
                ("Binding.Secret", "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
    assert_keys(&r.json["binding"], &["secret", "uri"]);
    assert_eq!(
        r.json["binding"]["uri"],
        "otpauth://totp/Acme%20Corp:John%E2%80%99s%20Account%20Name?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Acme%20Corp&algorithm=SHA1&digits=6&period=30"
    );
    assert_eq!(
        r.json["config"],
        serde_json::json!({"alg": "sha1", "skew": 1, "code_length": 6, "time_step": 30})
    );
    let sid = r.json["sid"].as_str().unwrap().to_string();
    let secret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";

    // Duplicate secret → 60317. Generated secrets are 32 base32 chars.
    assert_error(
        &t.post(
            &fpath,
            &[
                ("FriendlyName", "dup"),
                ("FactorType", "totp"),
                ("Binding.Secret", secret),
            ],
        )
        .await,
        409,
        60317,
    );
    let g = t
        .post(
            &fpath,
            &[
                ("FriendlyName", "gen"),
                ("FactorType", "totp"),
                ("Config.CodeLength", "8"),
                ("Config.TimeStep", "60"),
                ("Config.Alg", "sha256"),
            ],
        )
        .await;
    assert_eq!(g.status, StatusCode::CREATED);
    assert_eq!(g.json["binding"]["secret"].as_str().unwrap().len(), 32);
    assert!(
        g.json["binding"]["uri"]
            .as_str()
            .unwrap()
            .ends_with("&algorithm=SHA256&digits=8&period=60")
    );
    assert_error(
        &t.post(
            &fpath,
            &[
                ("FriendlyName", "x"),
                ("FactorType", "totp"),
                ("Config.Alg", "md5"),
            ],
        )
        .await,
        400,
        60306,
    );
    assert_error(
        &t.post(
            &fpath,
            &[
                ("FriendlyName", "x"),
                ("FactorType", "totp"),
                ("Binding.Secret", "not base32!"),
            ],
        )
        .await,
        400,
        60314,
    );

    // Challenge before verification → 60318.
    let cpath = format!("{}/Challenges", ent(&svc, ID));
    assert_error(&t.post(&cpath, &[("FactorSid", &sid)]).await, 403, 60318);

    // Wrong code → 200, still unverified; right code → verified.
    let f = format!("{fpath}/{sid}");
    let w = t
        .post(&f, &[("AuthPayload", &wrong(&code(secret, 6, 30, 0)))])
        .await;
    assert_eq!(w.status, StatusCode::OK);
    assert_eq!(w.json["status"], "unverified");
    assert!(w.json.get("binding").is_none());
    // Skew 1 accepts the previous step's code. (Each code is accepted once,
    // so the steps used below only move forward.)
    let ok = t
        .post(&f, &[("AuthPayload", &code(secret, 6, 30, -1))])
        .await;
    assert_eq!(ok.json["status"], "verified", "{}", ok.json);

    // One-shot challenge with AuthPayload → approved.
    let c = t
        .post(
            &cpath,
            &[
                ("FactorSid", &sid),
                ("AuthPayload", &code(secret, 6, 30, 0)),
            ],
        )
        .await;
    assert_eq!(c.status, StatusCode::CREATED, "{}", c.json);
    assert_eq!(c.json["status"], "approved");
    assert_eq!(c.json["factor_type"], "totp");
    // Two-step: pending, wrong code keeps it pending, right code approves.
    let c = t.post(&cpath, &[("FactorSid", &sid)]).await;
    assert_eq!(c.json["status"], "pending");
    let cp = format!("{cpath}/{}", c.json["sid"].as_str().unwrap());
    assert!(
        t.get(&cp, &[])
            .await
            .headers
            .get("twilio-verify-signature-fields")
            .is_none()
    );
    let w = t
        .post(&cp, &[("AuthPayload", &wrong(&code(secret, 6, 30, 0)))])
        .await;
    assert_eq!(w.status, StatusCode::OK);
    assert_eq!(w.json["status"], "pending");
    // Skew 1 accepts the next step's code.
    let a = t
        .post(&cp, &[("AuthPayload", &code(secret, 6, 30, 1))])
        .await;
    assert_eq!(a.json["status"], "approved", "{}", a.json);
    assert_error(
        &t.post(&cp, &[("AuthPayload", &code(secret, 6, 30, 0))])
            .await,
        403,
        60322,
    );

    // 5 wrong codes on a challenge → 429/60308.
    let c = t.post(&cpath, &[("FactorSid", &sid)]).await;
    let cp = format!("{cpath}/{}", c.json["sid"].as_str().unwrap());
    assert_error(&t.post(&cp, &[("AuthPayload", "1")]).await, 400, 60306);
    let bad = wrong(&code(secret, 6, 30, 0));
    for _ in 0..5 {
        assert_eq!(
            t.post(&cp, &[("AuthPayload", &bad)]).await.status,
            StatusCode::OK
        );
    }
    assert_error(
        &t.post(&cp, &[("AuthPayload", &code(secret, 6, 30, 0))])
            .await,
        429,
        60308,
    );
    t.server.shutdown().await;
}

/// RFC 6238 §5.2: a code is accepted once, and after it only a code of a
/// later time step, across factor verification, one-shot and two-step
/// challenges. A reused code is answered like a wrong one (PROTOCOL.md
/// §5.2/5.3: 200, still unverified or pending).
#[tokio::test]
async fn a_totp_code_is_accepted_only_once() {
    let t = start().await;
    let svc = t.service("Replay").await;
    let fpath = format!("{}/Factors", ent(&svc, ID));
    let secret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
    // Skew 2: five steps are valid at once, room for several fresh codes.
    let r = t
        .post(
            &fpath,
            &[
                ("FriendlyName", "replay"),
                ("FactorType", "totp"),
                ("Binding.Secret", secret),
                ("Config.Skew", "2"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
    let f = format!("{fpath}/{}", r.json["sid"].as_str().unwrap());
    let sid = r.json["sid"].as_str().unwrap().to_string();
    let cpath = format!("{}/Challenges", ent(&svc, ID));
    let [previous, now, next, later] = [-1, 0, 1, 2].map(|o| code(secret, 6, 30, o));

    // Factor verification uses up `now` (and everything before it).
    let v = t.post(&f, &[("AuthPayload", &now)]).await;
    assert_eq!(v.json["status"], "verified", "{}", v.json);

    // One-shot challenges: the same code and an earlier one are refused
    // like a wrong code; a later one is accepted, once.
    for used in [&now, &previous] {
        let c = t
            .post(&cpath, &[("FactorSid", &sid), ("AuthPayload", used)])
            .await;
        assert_eq!(c.status, StatusCode::CREATED, "{}", c.json);
        assert_eq!(
            c.json["status"], "pending",
            "a used code approved: {}",
            c.json
        );
    }
    let c = t
        .post(&cpath, &[("FactorSid", &sid), ("AuthPayload", &next)])
        .await;
    assert_eq!(c.json["status"], "approved", "{}", c.json);
    let c = t
        .post(&cpath, &[("FactorSid", &sid), ("AuthPayload", &next)])
        .await;
    assert_eq!(c.json["status"], "pending", "a code was accepted twice");

    // Two-step challenges: the same.
    let pending = t.post(&cpath, &[("FactorSid", &sid)]).await;
    let cp = format!("{cpath}/{}", pending.json["sid"].as_str().unwrap());
    for used in [&next, &now] {
        let a = t.post(&cp, &[("AuthPayload", used)]).await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.json);
        assert_eq!(
            a.json["status"], "pending",
            "a used code approved: {}",
            a.json
        );
    }
    let a = t.post(&cp, &[("AuthPayload", &later)]).await;
    assert_eq!(a.json["status"], "approved", "{}", a.json);
    let second = t.post(&cpath, &[("FactorSid", &sid)]).await;
    let cp2 = format!("{cpath}/{}", second.json["sid"].as_str().unwrap());
    let a = t.post(&cp2, &[("AuthPayload", &later)]).await;
    assert_eq!(a.json["status"], "pending", "a code was accepted twice");

    // The history is the factor's: another factor with the same secret (on
    // another entity) still takes the code.
    let other_id = "user-0004-replay";
    let o = t
        .post(
            &format!("{}/Factors", ent(&svc, other_id)),
            &[
                ("FriendlyName", "other"),
                ("FactorType", "totp"),
                ("Binding.Secret", secret),
            ],
        )
        .await;
    let of = format!(
        "{}/Factors/{}",
        ent(&svc, other_id),
        o.json["sid"].as_str().unwrap()
    );
    let v = t.post(&of, &[("AuthPayload", &now)]).await;
    assert_eq!(v.json["status"], "verified", "{}", v.json);
    t.server.shutdown().await;
}

#[tokio::test]
async fn totp_factor_attempt_limit_and_challenge_rate_limit() {
    let t = start().await;
    let svc = t.service("Limits").await;
    let fpath = format!("{}/Factors", ent(&svc, ID));
    let secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";
    let r = t
        .post(
            &fpath,
            &[
                ("FriendlyName", "a"),
                ("FactorType", "totp"),
                ("Binding.Secret", secret),
            ],
        )
        .await;
    let f = format!("{fpath}/{}", r.json["sid"].as_str().unwrap());
    let bad = wrong(&code(secret, 6, 30, 0));
    for _ in 0..5 {
        assert_eq!(
            t.post(&f, &[("AuthPayload", &bad)]).await.json["status"],
            "unverified"
        );
    }
    assert_error(
        &t.post(&f, &[("AuthPayload", &code(secret, 6, 30, 0))])
            .await,
        429,
        60310,
    );

    // 4-digit factor: 10 challenges per day.
    let secret2 = "KRSXG5CTMVRXEZLUKRSXG5CTMVRXEZLU";
    let r = t
        .post(
            &fpath,
            &[
                ("FriendlyName", "b"),
                ("FactorType", "totp"),
                ("Binding.Secret", secret2),
                ("Config.CodeLength", "4"),
            ],
        )
        .await;
    let sid2 = r.json["sid"].as_str().unwrap().to_string();
    let v = t
        .post(
            &format!("{fpath}/{sid2}"),
            &[("AuthPayload", &code(secret2, 4, 30, 0))],
        )
        .await;
    assert_eq!(v.json["status"], "verified");
    let cpath = format!("{}/Challenges", ent(&svc, ID));
    for _ in 0..10 {
        assert_eq!(
            t.post(&cpath, &[("FactorSid", &sid2)]).await.status,
            StatusCode::CREATED
        );
    }
    assert_error(&t.post(&cpath, &[("FactorSid", &sid2)]).await, 429, 60312);
    t.server.shutdown().await;
}

const ENTITY_FIELDS: &[&str] = &[
    "sid",
    "identity",
    "account_sid",
    "service_sid",
    "date_created",
    "date_updated",
    "url",
    "links",
];

#[tokio::test]
async fn entities_crud_and_cascade() {
    let t = start().await;
    let svc = t.service("Entities").await;
    let path = format!("/v2/Services/{svc}/Entities");
    let r = t.post(&path, &[("Identity", ID)]).await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_keys(&r.json, ENTITY_FIELDS);
    assert_keys(&r.json["links"], &["factors", "new_factors", "challenges"]);
    assert_sid(&r.json["sid"], "YE");
    assert_eq!(r.json["url"], t.url(&ent(&svc, ID)));
    assert_error(&t.post(&path, &[("Identity", ID)]).await, 409, 60301);
    assert_error(&t.post(&path, &[("Identity", "a b")]).await, 400, 60367);
    assert_error(&t.post(&path, &[]).await, 400, 60306);
    // Identity lookups are case-insensitive.
    assert_eq!(
        t.get(&ent(&svc, &ID.to_uppercase()), &[]).await.status,
        StatusCode::OK
    );

    for i in 0..3 {
        t.post(&path, &[("Identity", &format!("identity-{i:04}"))])
            .await;
    }
    let l = t.get(&path, &[("PageSize", "2")]).await;
    assert_eq!(l.json["entities"].as_array().unwrap().len(), 2);
    assert_keys(
        &l.json["meta"],
        &[
            "page",
            "page_size",
            "first_page_url",
            "previous_page_url",
            "url",
            "next_page_url",
            "key",
        ],
    );
    assert!(l.json["meta"]["previous_page_url"].is_null());
    let next = l.json["meta"]["next_page_url"].as_str().unwrap();
    assert!(
        next.starts_with(&t.url(&path)) && next.contains("PageToken="),
        "{next}"
    );
    let l2 = t
        .get(next.strip_prefix(t.server.origin()).unwrap(), &[])
        .await;
    assert_eq!(l2.json["entities"].as_array().unwrap().len(), 2);
    assert_eq!(l2.json["meta"]["page"], 1);
    assert!(l2.json["meta"]["next_page_url"].is_null());
    assert!(l2.json["meta"]["previous_page_url"].is_string());

    // Deleting an entity removes its factors and challenges.
    let d = t.enroll_push(&svc, ID).await;
    let c = t.push_challenge(&svc, ID, &d.factor_sid).await;
    assert_eq!(
        t.delete(&ent(&svc, ID)).await.status,
        StatusCode::NO_CONTENT
    );
    assert_error(&t.get(&ent(&svc, ID), &[]).await, 404, 60392);
    assert_error(
        &t.get(&format!("{}/Factors/{}", ent(&svc, ID), d.factor_sid), &[])
            .await,
        404,
        60392,
    );
    let again = t.post(&path, &[("Identity", ID)]).await;
    assert_eq!(again.status, StatusCode::CREATED);
    assert_error(
        &t.get(
            &format!(
                "{}/Challenges/{}",
                ent(&svc, ID),
                c.json["sid"].as_str().unwrap()
            ),
            &[],
        )
        .await,
        404,
        60391,
    );
    assert_error(
        &t.get(&format!("{}/Factors/{}", ent(&svc, ID), d.factor_sid), &[])
            .await,
        404,
        60390,
    );
    assert_error(&t.delete(&ent(&svc, "never-existed")).await, 404, 60392);
    // Deleting the service removes everything below it.
    assert_eq!(t.delete(&t.svc(&svc)).await.status, StatusCode::NO_CONTENT);
    assert_error(&t.get(&ent(&svc, ID), &[]).await, 404, 20404);
    t.server.shutdown().await;
}
