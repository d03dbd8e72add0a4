//! `countersign-cli push …` against verify-server over HTTPS and the real Secret Service
//! (run under scripts/with-keyring.sh).

use countersign_core::verify::client::Request;
use countersign_core::verify::{Credentials, ServerConfig, VerifyClient};
use countersign_e2e::*;
use serde_json::Value;

const IDENTITY: &str = "cli-user-0001";

struct Backend {
    client: VerifyClient,
    credentials: Credentials,
    service: String,
}

impl Backend {
    async fn call(&self, method: &str, path: &[&str], form: &[(&str, &str)]) -> Value {
        let method = method.parse().expect("method");
        let response = self
            .client
            .send(Request {
                method,
                path,
                query: &[],
                form,
                credentials: &self.credentials,
            })
            .await
            .expect("backend request");
        assert!(response.status.is_success(), "{:?}", response);
        serde_json::from_slice(&response.body).unwrap_or(Value::Null)
    }

    async fn challenge(&self, factor_sid: &str, message: &str) -> String {
        let path = [
            "Services",
            &self.service,
            "Entities",
            IDENTITY,
            "Challenges",
        ];
        let body = self
            .call(
                "POST",
                &path,
                &[("FactorSid", factor_sid), ("Details.Message", message)],
            )
            .await;
        body["sid"].as_str().expect("sid").to_string()
    }

    async fn status(&self, sid: &str) -> String {
        let path = [
            "Services",
            &self.service,
            "Entities",
            IDENTITY,
            "Challenges",
            sid,
        ];
        self.call("GET", &path, &[]).await["status"]
            .as_str()
            .expect("status")
            .to_string()
    }
}

async fn run_cli(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    let dir = dir.to_path_buf();
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        cli(&dir, &args)
    })
    .await
    .expect("cli task")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enroll_list_approve_deny_and_remove_from_the_cli() {
    let server_dir = tempfile::tempdir().expect("tempdir");
    let mut config = verify_server::Config::new(server_dir.path());
    config.demo = true;
    let server = verify_server::start(config).await.expect("server");
    let ca_path = server.ca_pem_path().to_path_buf();
    let ca = std::fs::read_to_string(&ca_path).expect("ca");
    let backend = Backend {
        client: VerifyClient::new(&ServerConfig::new(&server.base_url(), Some(ca)).expect("cfg"))
            .expect("client"),
        credentials: Credentials::Backend {
            account_sid: server.account_sid().to_string(),
            auth_token: server.auth_token().to_string(),
        },
        service: server.demo_service_sid().expect("demo service"),
    };
    let token = backend
        .call(
            "POST",
            &["Services", &backend.service, "AccessTokens"],
            &[("Identity", IDENTITY), ("FactorType", "push")],
        )
        .await["token"]
        .as_str()
        .expect("token")
        .to_string();
    let link = countersign_core::push::EnrollLink {
        server: server.base_url(),
        service_sid: backend.service.clone(),
        identity: IDENTITY.into(),
        access_token: token.clone(),
        friendly_name: Some("CLI desktop".into()),
    }
    .to_link();

    let profile = tempfile::tempdir().expect("tempdir");
    let dir = profile.path();
    let ca_arg = ca_path.to_str().expect("utf-8 path");
    // The link (and its access token) goes in on stdin, so no process's argv shows it.
    let (enrolled, exposed) = {
        let (dir, ca_arg, link, token) = (
            dir.to_path_buf(),
            ca_arg.to_string(),
            format!("{link}\n"),
            token.clone(),
        );
        tokio::task::spawn_blocking(move || {
            cli_with_stdin(
                &dir,
                &["push", "enroll", "-", "--ca", &ca_arg],
                &link,
                &token,
            )
        })
        .await
        .expect("cli task")
    };
    assert!(enrolled.status.success(), "{}", stderr(&enrolled));
    assert!(exposed.is_empty(), "token in argv: {exposed:?}");
    let line = stdout(&enrolled);
    let fields: Vec<&str> = line.trim().split('\t').collect();
    assert_eq!(fields[0], "enrolled", "{line}");
    let (id, factor_sid) = (fields[1].to_string(), fields[2].to_string());
    assert!(factor_sid.starts_with("YF"), "{line}");
    assert_eq!(fields[3], "CLI desktop");
    // The link's access token is a credential: it is written nowhere in the profile.
    assert!(files_containing(dir, token.as_bytes()).is_empty());

    let listed = run_cli(dir, &["push", "list"]).await;
    assert!(listed.status.success(), "{}", stderr(&listed));
    assert!(
        stdout(&listed).starts_with(&format!(
            "{id}\tverified\t{factor_sid}\t{IDENTITY}\tCLI desktop\t"
        )),
        "{}",
        stdout(&listed)
    );

    let login = backend.challenge(&factor_sid, "Log in from the CLI?").await;
    let wire = backend.challenge(&factor_sid, "Wire money?").await;
    let pending = run_cli(dir, &["push", "challenges"]).await;
    assert!(pending.status.success(), "{}", stderr(&pending));
    let sids: Vec<String> = stdout(&pending)
        .lines()
        .map(|l| l.split('\t').next().unwrap_or_default().to_string())
        .collect();
    assert_eq!(sids, vec![wire.clone(), login.clone()]);

    let approved = run_cli(dir, &["push", "approve", &login]).await;
    assert!(approved.status.success(), "{}", stderr(&approved));
    assert_eq!(stdout(&approved).trim(), format!("approved\t{login}"));
    // What was signed is what the terminal showed.
    assert!(
        stderr(&approved).starts_with(&format!("{login}: Log in from the CLI?")),
        "{}",
        stderr(&approved)
    );
    assert_eq!(backend.status(&login).await, "approved");

    let denied = run_cli(dir, &["push", "deny", &wire, "--enrollment", &id]).await;
    assert!(denied.status.success(), "{}", stderr(&denied));
    assert_eq!(backend.status(&wire).await, "denied");

    let again = run_cli(dir, &["push", "approve", &wire]).await;
    assert!(!again.status.success());
    assert!(
        stderr(&again)
            .starts_with("error[challenge_already_answered]: this request was already denied"),
        "{}",
        stderr(&again)
    );

    let history = run_cli(dir, &["push", "history"]).await;
    assert!(
        stdout(&history).contains(&format!("{login}\tapproved")),
        "{}",
        stdout(&history)
    );

    // Renamed here and on the server.
    let renamed = run_cli(dir, &["push", "rename", &id, "Renamed desktop"]).await;
    assert!(renamed.status.success(), "{}", stderr(&renamed));
    assert_eq!(
        stdout(&renamed).trim(),
        format!("renamed\t{id}\tRenamed desktop")
    );
    let factor = backend
        .call(
            "GET",
            &[
                "Services",
                &backend.service,
                "Entities",
                IDENTITY,
                "Factors",
                &factor_sid,
            ],
            &[],
        )
        .await;
    assert_eq!(factor["friendly_name"], "Renamed desktop");
    assert!(stdout(&run_cli(dir, &["push", "list"]).await).contains("\tRenamed desktop\t"));

    let removed = run_cli(dir, &["push", "remove", &factor_sid]).await;
    assert!(removed.status.success(), "{}", stderr(&removed));
    assert_eq!(
        stdout(&removed).trim(),
        format!("removed\t{id}\tRenamed desktop\tserver-deleted")
    );
    let listed = run_cli(dir, &["push", "list"]).await;
    assert_eq!(stdout(&listed), "");
    server.shutdown().await;
}
