//! Push factor enrolment, device JWT auth and push challenges end to end.

mod common;

use common::device::{Device, now};
use common::*;
use reqwest::{Method, StatusCode};

const ID: &str = "user-0001-alice";

const NEW_FACTOR_FIELDS: &[&str] = &[
    "sid",
    "account_sid",
    "service_sid",
    "entity_sid",
    "identity",
    "binding",
    "options",
    "date_created",
    "date_updated",
    "friendly_name",
    "status",
    "factor_type",
    "config",
    "metadata",
    "url",
];
const FACTOR_FIELDS: &[&str] = &[
    "sid",
    "account_sid",
    "service_sid",
    "entity_sid",
    "identity",
    "date_created",
    "date_updated",
    "friendly_name",
    "status",
    "factor_type",
    "config",
    "metadata",
    "url",
];
const CHALLENGE_FIELDS: &[&str] = &[
    "sid",
    "account_sid",
    "service_sid",
    "entity_sid",
    "identity",
    "factor_sid",
    "date_created",
    "date_updated",
    "date_responded",
    "expiration_date",
    "status",
    "responded_reason",
    "details",
    "hidden_details",
    "metadata",
    "factor_type",
    "url",
    "links",
];
const ACCESS_TOKEN_FIELDS: &[&str] = &[
    "sid",
    "account_sid",
    "service_sid",
    "entity_identity",
    "factor_type",
    "factor_friendly_name",
    "token",
    "url",
    "ttl",
    "date_created",
];

#[tokio::test]
async fn enrol_verify_and_approve_push() {
    let t = start().await;
    let svc = t.service("Push").await;

    let at = t
        .post(
            &format!("/v2/Services/{svc}/AccessTokens"),
            &[
                ("Identity", ID),
                ("FactorType", "push"),
                ("FactorFriendlyName", "Laptop"),
                ("Ttl", "120"),
            ],
        )
        .await;
    assert_eq!(at.status, StatusCode::CREATED);
    assert_keys(&at.json, ACCESS_TOKEN_FIELDS);
    assert_sid(&at.json["sid"], "YK");
    assert_eq!(at.json["ttl"], 120);
    let fetched = t
        .get(
            &format!(
                "/v2/Services/{svc}/AccessTokens/{}",
                at.json["sid"].as_str().unwrap()
            ),
            &[],
        )
        .await;
    assert_eq!(fetched.json, at.json);

    let (d, r) = t.create_push(&svc, ID).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
    assert_keys(&r.json, NEW_FACTOR_FIELDS);
    assert_sid(&r.json["sid"], "YF");
    assert_sid(&r.json["entity_sid"], "YE");
    assert_eq!(r.json["status"], "unverified");
    assert_eq!(r.json["binding"]["alg"], "ES256");
    assert_eq!(r.json["binding"]["public_key"], d.public_key_b64());
    assert!(r.json["options"].is_null());
    assert_eq!(r.json["metadata"]["os"], "Linux");
    assert_keys(
        &r.json["config"],
        &[
            "sdk_version",
            "app_id",
            "notification_platform",
            "notification_token",
            "credential_sid",
        ],
    );
    assert_eq!(r.json["config"]["notification_platform"], "none");
    let factor_path = format!("{}/Factors/{}", ent(&svc, ID), d.factor_sid);

    // Entity was created implicitly.
    let e = t.get(&ent(&svc, ID), &[]).await;
    assert_eq!(e.status, StatusCode::OK);
    assert_eq!(e.json["sid"], r.json["entity_sid"]);

    // Unverified factors cannot be challenged (60318) nor used for challenge ops (60383).
    let c = t.push_challenge(&svc, ID, &d.factor_sid).await;
    assert_error(&c, 403, 60318);
    let l = t
        .dev(
            &d,
            Method::GET,
            &format!("{}/Challenges", ent(&svc, ID)),
            &[],
        )
        .await;
    assert_error(&l, 403, 60383);

    // Wrong verification signature → 60311; right one → verified.
    let bad = t
        .dev(
            &d,
            Method::POST,
            &factor_path,
            &[("AuthPayload", &d.sign_der_b64("YFother"))],
        )
        .await;
    assert_error(&bad, 403, 60311);
    let ok = t
        .dev(
            &d,
            Method::POST,
            &factor_path,
            &[("AuthPayload", &d.sign_der_b64(&d.factor_sid))],
        )
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.json);
    assert_keys(&ok.json, FACTOR_FIELDS);
    assert_eq!(ok.json["status"], "verified");
    assert_eq!(
        ok.json["config"]["credential_sid"],
        d.credential_sid.as_str()
    );

    // Device fetches its service and factor with a JWT.
    let s = t.dev(&d, Method::GET, &t.svc(&svc), &[]).await;
    assert_eq!(s.status, StatusCode::OK);
    let f = t.dev(&d, Method::GET, &factor_path, &[]).await;
    assert_eq!(f.json["status"], "verified");

    // Backend creates a challenge.
    let c = t.push_challenge(&svc, ID, &d.factor_sid).await;
    assert_eq!(c.status, StatusCode::CREATED, "{}", c.json);
    assert_keys(&c.json, CHALLENGE_FIELDS);
    assert_sid(&c.json["sid"], "YC");
    assert_eq!(c.json["status"], "pending");
    assert_eq!(c.json["responded_reason"], "none");
    assert!(c.json["date_responded"].is_null());
    assert_eq!(c.json["details"]["message"], "Sign in to Countersign Demo?");
    assert_eq!(c.json["details"]["fields"][1]["value"], "Sign in");
    assert_eq!(c.json["hidden_details"]["ip"], "127.0.0.1");
    assert_ts(&c.json["expiration_date"]);
    let created = time_of(&c.json["date_created"]);
    assert_eq!(time_of(&c.json["expiration_date"]) - created, 300);
    let ch_sid = c.json["sid"].as_str().unwrap().to_string();
    let ch_path = format!("{}/Challenges/{ch_sid}", ent(&svc, ID));
    assert_eq!(
        c.json["links"]["notifications"],
        t.url(&format!("{ch_path}/Notifications"))
    );

    // Device lists pending challenges (SDK polling parameters).
    let l = t
        .dev(
            &d,
            Method::GET,
            &format!("{}/Challenges", ent(&svc, ID)),
            &[
                ("FactorSid", &d.factor_sid),
                ("Status", "pending"),
                ("PageSize", "10"),
                ("Order", "desc"),
            ],
        )
        .await;
    assert_eq!(l.status, StatusCode::OK, "{}", l.json);
    assert_eq!(l.json["challenges"][0]["sid"], ch_sid.as_str());
    assert_eq!(l.json["meta"]["key"], "challenges");
    assert!(l.headers.get("twilio-verify-signature-fields").is_none());

    // Fetch carries the signature-fields header, without spaces.
    let f = t.dev(&d, Method::GET, &ch_path, &[]).await;
    let fields = f.headers["twilio-verify-signature-fields"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(!fields.contains(' '));
    for k in fields.split(',') {
        assert!(f.json.get(k).is_some(), "{k}");
    }

    // A tampered field fails (60324); a good approval succeeds.
    let mut tampered = f.json.clone();
    tampered["details"]["message"] = "something else".into();
    let bad = t
        .dev(
            &d,
            Method::POST,
            &ch_path,
            &[(
                "AuthPayload",
                &d.approval_jwt(&tampered, &fields, "approved"),
            )],
        )
        .await;
    assert_error(&bad, 403, 60324);
    let other = Device::random(t.server.account_sid());
    let bad = t
        .dev(
            &d,
            Method::POST,
            &ch_path,
            &[(
                "AuthPayload",
                &other.approval_jwt(&f.json, &fields, "approved"),
            )],
        )
        .await;
    assert_error(&bad, 403, 60324);
    let bad = t
        .dev(
            &d,
            Method::POST,
            &ch_path,
            &[("AuthPayload", &d.approval_jwt(&f.json, &fields, "maybe"))],
        )
        .await;
    assert_error(&bad, 403, 60324);

    let a = t.answer(&d, &svc, ID, &ch_sid, "approved").await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.json);
    assert_eq!(a.json["status"], "approved");
    assert_ts(&a.json["date_responded"]);
    let again = t.get(&ch_path, &[]).await;
    assert_eq!(again.json["status"], "approved");
    assert!(
        again
            .headers
            .get("twilio-verify-signature-fields")
            .is_none()
    );
    // Answering twice → 60322.
    let jwt = d.approval_jwt(&f.json, &fields, "denied");
    assert_error(
        &t.dev(&d, Method::POST, &ch_path, &[("AuthPayload", &jwt)])
            .await,
        403,
        60322,
    );

    // Deny path.
    let c2 = t.push_challenge(&svc, ID, &d.factor_sid).await;
    let c2_sid = c2.json["sid"].as_str().unwrap();
    let dn = t.answer(&d, &svc, ID, c2_sid, "denied").await;
    assert_eq!(dn.json["status"], "denied");

    // Device deletes its factor; its JWT then stops working (401).
    assert_eq!(
        t.dev(&d, Method::DELETE, &factor_path, &[]).await.status,
        StatusCode::NO_CONTENT
    );
    assert_error(
        &t.dev(&d, Method::DELETE, &factor_path, &[]).await,
        401,
        20003,
    );
    assert_error(&t.get(&factor_path, &[]).await, 404, 60390);
    assert_error(&t.get(&ch_path, &[]).await, 404, 60391);
    t.server.shutdown().await;
}

fn time_of(v: &serde_json::Value) -> i64 {
    let s = v.as_str().unwrap();
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .unwrap()
        .unix_timestamp()
}

/// A factor or challenge is found only under its own service and entity,
/// and a miss names the first thing missing (service, entity, resource).
#[tokio::test]
async fn resources_are_found_only_under_their_own_entity() {
    let t = start().await;
    let svc = t.service("Scoping").await;
    let elsewhere = t.service("Elsewhere").await;
    let d = t.enroll_push(&svc, ID).await;
    t.enroll_push(&svc, "user-0009-other").await;
    let c = t.push_challenge(&svc, ID, &d.factor_sid).await;
    let csid = c.json["sid"].as_str().unwrap();
    let factor = |svc: &str, id: &str| format!("{}/Factors/{}", ent(svc, id), d.factor_sid);
    let challenge = |svc: &str, id: &str| format!("{}/Challenges/{csid}", ent(svc, id));

    assert_eq!(t.get(&factor(&svc, ID), &[]).await.status, StatusCode::OK);
    assert_eq!(
        t.get(&challenge(&svc, ID), &[]).await.status,
        StatusCode::OK
    );
    // Identities match case-insensitively.
    let upper = ID.to_uppercase();
    assert_eq!(
        t.get(&challenge(&svc, &upper), &[]).await.status,
        StatusCode::OK
    );
    // Another entity of the same service.
    assert_error(
        &t.get(&factor(&svc, "user-0009-other"), &[]).await,
        404,
        60390,
    );
    assert_error(
        &t.get(&challenge(&svc, "user-0009-other"), &[]).await,
        404,
        60391,
    );
    // Another service, where this identity has no entity.
    assert_error(&t.get(&factor(&elsewhere, ID), &[]).await, 404, 60392);
    assert_error(&t.get(&challenge(&elsewhere, ID), &[]).await, 404, 60392);
    // A service that does not exist.
    let gone = "VA00000000000000000000000000000000";
    assert_error(&t.get(&challenge(gone, ID), &[]).await, 404, 20404);
    t.server.shutdown().await;
}

#[tokio::test]
async fn device_jwt_rules() {
    let t = start().await;
    let svc = t.service("Jwt").await;
    let d = t.enroll_push(&svc, ID).await;
    let path = format!("{}/Factors/{}", ent(&svc, ID), d.factor_sid);
    let call = |jwt: String| {
        let t = &t;
        let path = path.clone();
        async move { t.call(Method::GET, &path, Auth::Token(&jwt), &[]).await }
    };
    assert_eq!(call(d.device_jwt()).await.status, StatusCode::OK);
    // Expired, not yet valid → 401 with a Date header (SDK clock sync).
    let expired = call(d.device_jwt_at(now() - 1000)).await;
    assert_error(&expired, 401, 20003);
    assert!(httpdate::parse_http_date(expired.headers["date"].to_str().unwrap()).is_ok());
    assert_error(&call(d.device_jwt_at(now() + 1000)).await, 401, 20003);
    // Within leeway is fine.
    assert_eq!(
        call(d.device_jwt_at(now() - 620)).await.status,
        StatusCode::OK
    );
    // Wrong sub, wrong kid, wrong key, missing cty.
    let mut wrong_sub = Device::from_key(d.key.clone(), "ACffffffffffffffffffffffffffffffff");
    wrong_sub.credential_sid = d.credential_sid.clone();
    assert_error(&call(wrong_sub.device_jwt()).await, 401, 20003);
    let mut wrong_key = Device::random(t.server.account_sid());
    wrong_key.credential_sid = d.credential_sid.clone();
    assert_error(&call(wrong_key.device_jwt()).await, 401, 20003);
    let no_cty = d.jws(
        &format!(
            r#"{{"kid":"{}","typ":"JWT","alg":"ES256"}}"#,
            d.credential_sid
        ),
        &format!(
            r#"{{"sub":"{}","exp":{},"nbf":{}}}"#,
            t.server.account_sid(),
            now() + 600,
            now()
        ),
    );
    assert_error(&call(no_cty).await, 401, 20003);
    let garbage = call("a.b.c".into()).await;
    assert_error(&garbage, 401, 20003);

    // A JWT works only for its own service+identity.
    let svc2 = t.service("Other").await;
    let r = t.dev(&d, Method::GET, &t.svc(&svc2), &[]).await;
    assert_error(&r, 401, 20003);
    let other_id = "user-0002-bob";
    let d2 = t.enroll_push(&svc, other_id).await;
    let r = t
        .dev(
            &d,
            Method::GET,
            &format!("{}/Factors/{}", ent(&svc, other_id), d2.factor_sid),
            &[],
        )
        .await;
    assert_error(&r, 401, 20003);
    let c = t.push_challenge(&svc, other_id, &d2.factor_sid).await;
    let r = t
        .dev(
            &d,
            Method::GET,
            &format!(
                "{}/Challenges/{}",
                ent(&svc, other_id),
                c.json["sid"].as_str().unwrap()
            ),
            &[],
        )
        .await;
    assert_error(&r, 401, 20003);
    // Device credentials cannot reach backend-only routes.
    assert_error(
        &t.dev(&d, Method::GET, "/v2/Services", &[]).await,
        401,
        20003,
    );
    assert_error(
        &t.dev(
            &d,
            Method::POST,
            &format!("{}/Challenges", ent(&svc, ID)),
            &[("FactorSid", &d.factor_sid)],
        )
        .await,
        401,
        20003,
    );
    t.server.shutdown().await;
}

#[tokio::test]
async fn access_token_rules() {
    let t = start().await;
    let svc = t.service("Tokens").await;
    let path = format!("/v2/Services/{svc}/AccessTokens");
    assert_error(&t.post(&path, &[("FactorType", "push")]).await, 400, 60305);
    assert_error(
        &t.post(&path, &[("Identity", ID), ("FactorType", "totp")])
            .await,
        400,
        60305,
    );
    assert_error(
        &t.post(
            &path,
            &[("Identity", ID), ("FactorType", "push"), ("Ttl", "30")],
        )
        .await,
        400,
        60305,
    );
    assert_error(
        &t.post(&path, &[("Identity", "short"), ("FactorType", "push")])
            .await,
        400,
        60367,
    );
    assert_error(
        &t.post(
            "/v2/Services/VA00000000000000000000000000000000/AccessTokens",
            &[("Identity", ID), ("FactorType", "push")],
        )
        .await,
        404,
        20404,
    );

    // Bound to its identity, and single-use.
    let token = t.access_token(&svc, ID).await;
    let d = Device::random(t.server.account_sid());
    let pk = d.public_key_b64();
    let form = |pk: &str| {
        vec![
            ("FriendlyName", "Desk".to_string()),
            ("FactorType", "push".to_string()),
            ("Binding.PublicKey", pk.to_string()),
            ("Binding.Alg", "ES256".to_string()),
            ("Config.AppId", "app".to_string()),
            ("Config.NotificationPlatform", "none".to_string()),
            ("Config.SdkVersion", "1".to_string()),
        ]
    };
    let f = form(&pk);
    let f: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = t
        .call(
            Method::POST,
            &format!("{}/Factors", ent(&svc, "someone-else")),
            Auth::Token(&token),
            &f,
        )
        .await;
    assert_error(&r, 401, 20003);
    let r = t
        .call(
            Method::POST,
            &format!("{}/Factors", ent(&svc, ID)),
            Auth::Token(&token),
            &f,
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
    let r = t
        .call(
            Method::POST,
            &format!("{}/Factors", ent(&svc, ID)),
            Auth::Token(&token),
            &f,
        )
        .await;
    assert_error(&r, 401, 20003);
    let r = t
        .call(
            Method::POST,
            &format!("{}/Factors", ent(&svc, ID)),
            Auth::Token("nonsense"),
            &f,
        )
        .await;
    assert_error(&r, 401, 20003);
    t.server.shutdown().await;
}

#[tokio::test]
async fn expired_access_token_is_refused() {
    // Clock offset lets us create a token "in the past" via a second server
    // on the same data dir.
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = verify_server::Config::new(dir.path());
    cfg.clock_offset_secs = -120;
    let past = verify_server::start(cfg).await.unwrap();
    let client = client_for(past.ca_pem_path());
    let svc: serde_json::Value = client
        .post(format!("{}Services", past.base_url()))
        .basic_auth(past.account_sid(), Some(past.auth_token()))
        .form(&[("FriendlyName", "Past")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let svc = svc["sid"].as_str().unwrap().to_string();
    let tok: serde_json::Value = client
        .post(format!("{}Services/{svc}/AccessTokens", past.base_url()))
        .basic_auth(past.account_sid(), Some(past.auth_token()))
        .form(&[("Identity", ID), ("FactorType", "push")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    past.shutdown().await;

    let now_server = verify_server::start(verify_server::Config::new(dir.path()))
        .await
        .unwrap();
    let d = Device::random(now_server.account_sid());
    let r = client
        .post(format!(
            "{}Services/{svc}/Entities/{ID}/Factors",
            now_server.base_url()
        ))
        .basic_auth("token", Some(tok["token"].as_str().unwrap()))
        .form(&[
            ("FriendlyName", "x"),
            ("FactorType", "push"),
            ("Binding.PublicKey", &d.public_key_b64()),
            ("Config.AppId", "a"),
            ("Config.NotificationPlatform", "none"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    now_server.shutdown().await;
}

#[tokio::test]
async fn push_factor_validation_and_limits() {
    let t = start_with(|c| {
        c.limits.max_push_factors_per_entity = 2;
        c.limits.max_factor_creations_per_day = 3;
    })
    .await;
    let svc = t.service("Limits").await;
    let path = format!("{}/Factors", ent(&svc, ID));
    let d = Device::random(t.server.account_sid());
    let pk = d.public_key_b64();
    let base = |pk: &str, alg: &str| {
        vec![
            ("FriendlyName", "Desk".to_string()),
            ("FactorType", "push".to_string()),
            ("Binding.PublicKey", pk.to_string()),
            ("Binding.Alg", alg.to_string()),
            ("Config.AppId", "app".to_string()),
            ("Config.NotificationPlatform", "none".to_string()),
        ]
    };
    let post = |f: Vec<(&'static str, String)>| {
        let t = &t;
        let path = path.clone();
        async move {
            let f: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
            t.post(&path, &f).await
        }
    };
    assert_error(&post(base("", "ES256")).await, 400, 60385);
    assert_error(&post(base("***", "ES256")).await, 400, 60385);
    // Valid base64 but not a P-256 SPKI.
    assert_error(&post(base("AAAAAAAA", "ES256")).await, 400, 60314);
    assert_error(&post(base(&pk, "RS256")).await, 400, 60314);
    let mut no_token = base(&pk, "ES256");
    no_token[5].1 = "fcm".into();
    assert_error(&post(no_token.clone()).await, 400, 60306);
    no_token.push(("Config.NotificationToken", "short".into()));
    assert_error(&post(no_token).await, 400, 60306);
    let mut no_type = base(&pk, "ES256");
    no_type[1].1 = "sms".into();
    assert_error(&post(no_type).await, 400, 60369);

    assert_eq!(post(base(&pk, "ES256")).await.status, StatusCode::CREATED);
    assert_error(&post(base(&pk, "ES256")).await, 409, 60317);
    let pk2 = Device::random("AC").public_key_b64();
    assert_eq!(post(base(&pk2, "ES256")).await.status, StatusCode::CREATED);
    let pk3 = Device::random("AC").public_key_b64();
    assert_error(&post(base(&pk3, "ES256")).await, 400, 60315);
    // Deleting frees a slot, but creations per day still count.
    let list = t.get(&path, &[]).await;
    assert_eq!(list.json["factors"].as_array().unwrap().len(), 2);
    let first = list.json["factors"][0]["sid"].as_str().unwrap().to_string();
    assert_eq!(
        t.delete(&format!("{path}/{first}")).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(post(base(&pk3, "ES256")).await.status, StatusCode::CREATED);
    t.delete(&format!("{path}/{first}")).await;
    let list = t.get(&path, &[]).await;
    let second = list.json["factors"][0]["sid"].as_str().unwrap().to_string();
    assert_eq!(
        t.delete(&format!("{path}/{second}")).await.status,
        StatusCode::NO_CONTENT
    );
    let pk4 = Device::random("AC").public_key_b64();
    assert_error(&post(base(&pk4, "ES256")).await, 429, 60326);
    t.server.shutdown().await;
}

#[tokio::test]
async fn stale_unverified_factor_is_illegal() {
    let t = start_with(|c| c.unverified_factor_lifetime = std::time::Duration::from_secs(1)).await;
    let svc = t.service("Stale").await;
    let (d, r) = t.create_push(&svc, ID).await;
    assert_eq!(r.status, StatusCode::CREATED);
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let path = format!("{}/Factors/{}", ent(&svc, ID), d.factor_sid);
    let v = t
        .dev(
            &d,
            Method::POST,
            &path,
            &[("AuthPayload", &d.sign_der_b64(&d.factor_sid))],
        )
        .await;
    assert_error(&v, 403, 60383);
    t.server.shutdown().await;
}

#[tokio::test]
async fn challenge_expiry_and_validation() {
    let t = start().await;
    let svc = t.service("Expiry").await;
    let d = t.enroll_push(&svc, ID).await;
    let path = format!("{}/Challenges", ent(&svc, ID));
    let soon = time::OffsetDateTime::from_unix_timestamp(now() + 2)
        .unwrap()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let c = t
        .post(
            &path,
            &[
                ("FactorSid", &d.factor_sid),
                ("Details.Message", "hi"),
                ("ExpirationDate", &soon),
            ],
        )
        .await;
    assert_eq!(c.status, StatusCode::CREATED, "{}", c.json);
    let sid = c.json["sid"].as_str().unwrap().to_string();
    let f = t.dev(&d, Method::GET, &format!("{path}/{sid}"), &[]).await;
    let fields = f.headers["twilio-verify-signature-fields"]
        .to_str()
        .unwrap()
        .to_string();
    let jwt = d.approval_jwt(&f.json, &fields, "approved");
    tokio::time::sleep(std::time::Duration::from_millis(3100)).await;
    // Expiry is applied on read and on write.
    let l = t.get(&path, &[("Status", "expired")]).await;
    assert_eq!(l.json["challenges"][0]["sid"], sid.as_str());
    assert_error(
        &t.dev(
            &d,
            Method::POST,
            &format!("{path}/{sid}"),
            &[("AuthPayload", &jwt)],
        )
        .await,
        403,
        60323,
    );

    // Validation.
    let late = time::OffsetDateTime::from_unix_timestamp(now() + 7200)
        .unwrap()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    assert_error(
        &t.post(
            &path,
            &[
                ("FactorSid", &d.factor_sid),
                ("Details.Message", "x"),
                ("ExpirationDate", &late),
            ],
        )
        .await,
        400,
        60306,
    );
    assert_error(
        &t.post(&path, &[("FactorSid", &d.factor_sid)]).await,
        400,
        60368,
    );
    assert_error(
        &t.post(
            &path,
            &[
                ("FactorSid", &d.factor_sid),
                ("Details.Message", &"m".repeat(257)),
            ],
        )
        .await,
        400,
        60368,
    );
    assert_error(
        &t.post(
            &path,
            &[
                ("FactorSid", &d.factor_sid),
                ("Details.Message", "x"),
                ("Details.Fields", "not json"),
            ],
        )
        .await,
        400,
        60368,
    );
    assert_error(
        &t.post(
            &path,
            &[
                ("FactorSid", &d.factor_sid),
                ("Details.Message", "x"),
                (
                    "Details.Fields",
                    &format!(r#"{{"label":"{}","value":"v"}}"#, "l".repeat(37)),
                ),
            ],
        )
        .await,
        400,
        60368,
    );
    assert_error(
        &t.post(
            &path,
            &[
                ("FactorSid", &d.factor_sid),
                ("Details.Message", "x"),
                ("HiddenDetails", r#"{"n":1}"#),
            ],
        )
        .await,
        400,
        60306,
    );
    assert_error(&t.post(&path, &[("FactorSid", "nope")]).await, 400, 60306);
    assert_error(
        &t.post(
            &path,
            &[
                ("FactorSid", "YF00000000000000000000000000000000"),
                ("Details.Message", "x"),
            ],
        )
        .await,
        404,
        60390,
    );
    assert_error(
        &t.post(
            &format!("{}/Challenges", ent(&svc, "nobody-at-all")),
            &[("FactorSid", &d.factor_sid), ("Details.Message", "x")],
        )
        .await,
        404,
        60392,
    );
    assert_error(
        &t.get(&format!("{path}/YC00000000000000000000000000000000"), &[])
            .await,
        404,
        60391,
    );
    assert_error(&t.get(&path, &[("Status", "weird")]).await, 400, 60306);
    assert_error(&t.get(&path, &[("Order", "sideways")]).await, 400, 60306);

    // Notifications: platform none → 60307.
    let c = t.push_challenge(&svc, ID, &d.factor_sid).await;
    let n = t
        .post(
            &format!("{path}/{}/Notifications", c.json["sid"].as_str().unwrap()),
            &[],
        )
        .await;
    assert_error(&n, 400, 60307);
    t.server.shutdown().await;
}

#[tokio::test]
async fn notifications_for_fcm_factors() {
    let t = start().await;
    let svc = t.service("Notify").await;
    let d = Device::random(t.server.account_sid());
    let pk = d.public_key_b64();
    let token = "t".repeat(40);
    let r = t
        .post(
            &format!("{}/Factors", ent(&svc, ID)),
            &[
                ("FriendlyName", "Phone"),
                ("FactorType", "push"),
                ("Binding.PublicKey", &pk),
                ("Config.AppId", "app"),
                ("Config.NotificationPlatform", "fcm"),
                ("Config.NotificationToken", &token),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
    let fsid = r.json["sid"].as_str().unwrap().to_string();
    let v = t
        .post(
            &format!("{}/Factors/{fsid}", ent(&svc, ID)),
            &[("AuthPayload", &d.sign_der_b64(&fsid))],
        )
        .await;
    assert_eq!(v.json["status"], "verified");
    let c = t.push_challenge(&svc, ID, &fsid).await;
    let csid = c.json["sid"].as_str().unwrap();
    let n = t
        .post(
            &format!("{}/Challenges/{csid}/Notifications", ent(&svc, ID)),
            &[("Ttl", "60")],
        )
        .await;
    assert_eq!(n.status, StatusCode::CREATED, "{}", n.json);
    assert_keys(
        &n.json,
        &[
            "sid",
            "account_sid",
            "service_sid",
            "entity_sid",
            "identity",
            "challenge_sid",
            "priority",
            "ttl",
            "date_created",
        ],
    );
    assert_sid(&n.json["sid"], "NT");
    assert_eq!(n.json["ttl"], 60);
    assert_error(
        &t.post(
            &format!("{}/Challenges/{csid}/Notifications", ent(&svc, ID)),
            &[("Ttl", "301")],
        )
        .await,
        400,
        60306,
    );
    t.server.shutdown().await;
}

/// A device's list of challenges holds only its own factor's, whatever
/// `FactorSid` it asks for: another factor's challenges on the same entity
/// carry another device's sign-in details.
#[tokio::test]
async fn a_device_lists_only_its_own_factors_challenges() {
    let t = start().await;
    let svc = t.service("Lists").await;
    let mine = t.enroll_push(&svc, ID).await;
    let other = t.enroll_push(&svc, ID).await;
    let sid_of = |r: Resp| r.json["sid"].as_str().unwrap().to_string();
    let my_challenge = sid_of(t.push_challenge(&svc, ID, &mine.factor_sid).await);
    let other_challenge = sid_of(t.push_challenge(&svc, ID, &other.factor_sid).await);
    let list = format!("{}/Challenges", ent(&svc, ID));
    let sids = |r: &Resp| -> Vec<String> {
        assert_eq!(r.status, StatusCode::OK, "{}", r.json);
        r.json["challenges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["sid"].as_str().unwrap().to_string())
            .collect()
    };

    // The backend sees both.
    let all = t.get(&list, &[]).await;
    assert_eq!(sids(&all), [my_challenge.clone(), other_challenge.clone()]);
    // The device sees its own, with or without a filter, and asking for
    // the other factor's changes nothing.
    for query in [
        vec![],
        vec![("Status", "pending")],
        vec![("FactorSid", other.factor_sid.as_str())],
        vec![("FactorSid", mine.factor_sid.as_str())],
    ] {
        let r = t.dev(&mine, Method::GET, &list, &query).await;
        assert_eq!(
            sids(&r),
            std::slice::from_ref(&my_challenge),
            "query {query:?}"
        );
    }
    let r = t.dev(&other, Method::GET, &list, &[]).await;
    assert_eq!(sids(&r), std::slice::from_ref(&other_challenge));
    t.server.shutdown().await;
}

/// Device JWTs live at most 600 s (`exp - nbf`, as the SDKs send): a
/// longer-lived one is refused like any bad device token (401/20003).
#[tokio::test]
async fn device_jwt_lifetime_is_capped() {
    let t = start().await;
    let svc = t.service("Lifetime").await;
    let d = t.enroll_push(&svc, ID).await;
    let path = format!("{}/Factors/{}", ent(&svc, ID), d.factor_sid);
    let jwt = |nbf: i64, exp: i64| {
        d.jws(
            &format!(
                r#"{{"cty":"twilio-pba;v=1","kid":"{}","typ":"JWT","alg":"ES256"}}"#,
                d.credential_sid
            ),
            &format!(
                r#"{{"sub":"{}","exp":{exp},"nbf":{nbf}}}"#,
                t.server.account_sid()
            ),
        )
    };
    let n = now();
    let as_device = |token: String| {
        let t = &t;
        let path = path.clone();
        async move { t.call(Method::GET, &path, Auth::Token(&token), &[]).await }
    };
    assert_eq!(as_device(jwt(n, n + 600)).await.status, StatusCode::OK);
    for (nbf, exp) in [
        (n, n + 601),
        (n, n + 3600),
        (n - 3000, n + 3000),
        (0, i64::MAX),
        (n + 10, n),
    ] {
        let r = as_device(jwt(nbf, exp)).await;
        assert_error(&r, 401, 20003);
        assert!(r.headers.contains_key("date"));
    }
    t.server.shutdown().await;
}
