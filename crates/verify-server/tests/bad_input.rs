//! Malformed and hostile input gets 4xx Twilio JSON, never 5xx.

mod common;

use common::*;
use reqwest::{Method, StatusCode};

const ID: &str = "user-0005-erin";

async fn raw(t: &TestServer, method: Method, path: &str, body: Vec<u8>) -> Resp {
    let resp = t
        .client
        .request(method, t.url(path))
        .basic_auth(t.server.account_sid(), Some(t.server.auth_token()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let json = resp.json().await.unwrap_or(serde_json::Value::Null);
    Resp {
        status,
        headers,
        json,
    }
}

#[tokio::test]
async fn hostile_requests_get_twilio_errors() {
    let t = start().await;
    let svc = t.service("Bad").await;
    let d = t.enroll_push(&svc, ID).await;
    let cpath = format!("{}/Challenges", ent(&svc, ID));

    // Bad UTF-8 in a value and in a key.
    assert_error(
        &raw(
            &t,
            Method::POST,
            "/v2/Services",
            b"FriendlyName=%FF%FE".to_vec(),
        )
        .await,
        400,
        60306,
    );
    assert_error(
        &raw(&t, Method::POST, "/v2/Services", vec![0xff, b'=', b'a']).await,
        400,
        60306,
    );
    // Broken percent escapes are taken literally, not a crash.
    let r = raw(
        &t,
        Method::POST,
        "/v2/Services",
        b"FriendlyName=50%zz&&=&x".to_vec(),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
    assert_eq!(r.json["friendly_name"], "50%zz");
    // Body over the limit → 413.
    let big = format!("FriendlyName=x&Pad={}", "a".repeat(100_000)).into_bytes();
    assert_error(
        &raw(&t, Method::POST, "/v2/Services", big).await,
        413,
        60306,
    );
    // Oversized fields.
    assert_error(
        &t.post(
            &cpath,
            &[
                ("FactorSid", &d.factor_sid),
                ("Details.Message", "x"),
                (
                    "HiddenDetails",
                    &format!(r#"{{"a":"{}"}}"#, "b".repeat(1100)),
                ),
            ],
        )
        .await,
        400,
        60306,
    );
    let many: Vec<String> = (0..21)
        .map(|i| format!(r#"{{"label":"l{i}","value":"v"}}"#))
        .collect();
    let mut form: Vec<(&str, &str)> = vec![("FactorSid", &d.factor_sid), ("Details.Message", "x")];
    form.extend(many.iter().map(|m| ("Details.Fields", m.as_str())));
    assert_error(&t.post(&cpath, &form).await, 400, 60368);
    let ch = t.push_challenge(&svc, ID, &d.factor_sid).await;
    let chp = format!("{cpath}/{}", ch.json["sid"].as_str().unwrap());
    assert_error(
        &t.dev(
            &d,
            Method::POST,
            &chp,
            &[("AuthPayload", &"a".repeat(6000))],
        )
        .await,
        400,
        60306,
    );
    assert_error(
        &t.dev(&d, Method::POST, &chp, &[("AuthPayload", "x.y.z")])
            .await,
        403,
        60324,
    );
    assert_error(&t.dev(&d, Method::POST, &chp, &[]).await, 400, 60306);
    assert_error(
        &t.dev(
            &d,
            Method::POST,
            &chp,
            &[("AuthPayload", "a.b.c"), ("Metadata", "[1,2]")],
        )
        .await,
        400,
        60306,
    );
    // Path with invalid UTF-8 escapes, and unknown SIDs of every kind.
    assert_error(&t.get("/v2/Services/%FF%FE", &[]).await, 400, 60306);
    assert_error(&t.get("/v2/Services/VAnope", &[]).await, 404, 20404);
    assert_error(
        &t.get(
            &format!("/v2/Services/{svc}/Entities/%FF%FE%FD%FC%FB%FA%F9%F8"),
            &[],
        )
        .await,
        400,
        60306,
    );
    assert_error(
        &t.get(&format!("{}/Factors/garbage", ent(&svc, ID)), &[])
            .await,
        404,
        60390,
    );
    // Bad paging.
    assert_error(
        &t.get("/v2/Services", &[("PageSize", "abc")]).await,
        400,
        60306,
    );
    assert_error(&t.get("/v2/Services", &[("Page", "-1")]).await, 400, 60306);
    // Bad Authorization headers.
    for h in ["Basic", "Basic %%%", "Bearer abc", "Basic dG9rZW4="] {
        let r = t
            .client
            .get(t.url("/v2/Services"))
            .header("authorization", h)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{h}");
    }
    // The SDK's odd GET Accept header is fine.
    let r = t
        .client
        .get(t.url(&format!("{}/Factors/{}", ent(&svc, ID), d.factor_sid)))
        .basic_auth("token", Some(d.device_jwt()))
        .header("accept", "application/x-www-form-urlencoded")
        .header("content-type", "application/x-www-form-urlencoded")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    // iOS-style encoding (raw '/', '=' in values) is accepted.
    let c2 = t.push_challenge(&svc, ID, &d.factor_sid).await;
    let p2 = format!("{cpath}/{}", c2.json["sid"].as_str().unwrap());
    let f = t.dev(&d, Method::GET, &p2, &[]).await;
    let fields = f.headers["twilio-verify-signature-fields"]
        .to_str()
        .unwrap()
        .to_string();
    let jwt = d.approval_jwt(&f.json, &fields, "approved");
    let resp = t
        .client
        .post(t.url(&p2))
        .basic_auth("token", Some(d.device_jwt()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("AuthPayload={jwt}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    t.server.shutdown().await;
}
