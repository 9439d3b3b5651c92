//! `blazar silence add|list|expire` against a running server: a silence from matcher words, the
//! table and `--json`, expiring it, `--all`, and the one-line errors for an unknown id and a bad
//! matcher.

use std::process::Command;

use serde_json::Value;

use crate::support::{cli, TestServer, BIN};

/// Runs the CLI off the async runtime.
async fn run(base: &str, args: &[&str]) -> (i32, String, String) {
    let base = base.to_string();
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        cli(&base, &args)
    })
    .await
    .unwrap()
}

/// The cells of the table row whose first cell is `first`, split on whitespace.
fn row<'a>(table: &'a str, first: &str) -> Option<Vec<&'a str>> {
    table
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .find(|cells| cells.first() == Some(&first))
}

/// Asserts a failed command: exit 1, nothing on stdout, one `error:` line naming `words`.
fn assert_one_error_line((code, out, err): &(i32, String, String), words: &[&str]) {
    assert_eq!(*code, 1, "{out}{err}");
    assert!(out.is_empty(), "{out}");
    assert!(err.starts_with("error: "), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    for w in words {
        assert!(err.contains(w), "{w:?} in {err}");
    }
}

#[tokio::test]
async fn silences_through_the_cli() {
    let srv = TestServer::start().await;
    let base = srv.base.clone();

    let (code, out, err) = run(&base, &["silence", "list"]).await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "no silences\n");

    // Matchers as words, unquoted: the CLI quotes them.
    let (code, out, err) = run(
        &base,
        &[
            "silence",
            "add",
            "alertname=HighCPU",
            "service=~api|web",
            "--for",
            "2h",
            "--comment",
            "deploy",
            "--by",
            "ops",
        ],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    let words: Vec<&str> = out.split_whitespace().collect();
    assert_eq!(words.len(), 6, "silenced ID until DATE TIME UTC: {out}");
    assert_eq!((words[0], words[2]), ("silenced", "until"), "{out}");
    assert_eq!(words[5], "UTC", "{out}");
    let id = words[1].to_string();

    let (code, out, err) = run(&base, &["silence", "list"]).await;
    assert_eq!(code, 0, "{err}");
    let header: Vec<&str> = out.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        ["ID", "STATE", "MATCHERS", "ENDS", "CREATED", "BY", "COMMENT"],
        "{out}"
    );
    let cells = row(&out, &id).unwrap_or_else(|| panic!("{id} in {out}"));
    assert_eq!(
        cells[1..3],
        ["active", r#"alertname="HighCPU",service=~"api|web""#],
        "{out}"
    );
    assert_eq!(cells[3], "in", "{out}");
    assert!(cells[4].starts_with("1h5"), "ends in about 2h: {out}");
    assert_eq!(cells[5..], ["ops", "deploy"], "{out}");
    assert!(!out.contains('\x1b'), "no colour on a pipe: {out:?}");

    let (code, out, err) = run(&base, &["silence", "list", "--json"]).await;
    assert_eq!(code, 0, "{err}");
    let doc: Value = serde_json::from_str(&out).unwrap();
    let s = &doc["silences"][0];
    assert_eq!(s["id"], id.as_str(), "{doc}");
    assert_eq!(s["state"], "active", "{doc}");
    assert_eq!(s["created_by"], "ops", "{doc}");
    assert_eq!(s["matchers"][1]["op"], "=~", "{doc}");
    assert_eq!(s["matchers"][1]["value"], "api|web", "{doc}");

    // One quoted selector string; created by $USER when --by is not given, else `cli`.
    let add_as = |user: Option<&str>| {
        let mut cmd = Command::new(BIN);
        cmd.args([
            "--server",
            &base,
            "--json",
            "silence",
            "add",
            r#"alertname="DiskFull",host!="db1""#,
            "--for",
            "30m",
        ]);
        match user {
            Some(u) => cmd.env("USER", u),
            None => cmd.env_remove("USER"),
        };
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "{out:?}");
        serde_json::from_slice::<Value>(&out.stdout).unwrap()
    };
    let by_alice = add_as(Some("alice"));
    assert_eq!(by_alice["created_by"], "alice", "{by_alice}");
    assert_eq!(by_alice["matchers"][1]["op"], "!=", "{by_alice}");
    assert_eq!(add_as(None)["created_by"], "cli");

    // One that starts in an hour: pending.
    let (code, out, err) = run(
        &base,
        &["silence", "add", "env=prod", "--for", "1h", "--start", "1h"],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    let words: Vec<&str> = out.split_whitespace().collect();
    assert_eq!((words[0], words[2]), ("silenced", "from"), "{out}");
    let later = words[1].to_string();
    let (_, out, _) = run(&base, &["silence", "list"]).await;
    let cells = row(&out, &later).unwrap_or_else(|| panic!("{later} in {out}"));
    assert_eq!(cells[1..4], ["pending", r#"env="prod""#, "in"], "{out}");
    assert!(cells[4].starts_with("1h5"), "ends in about 2h: {out}");

    // Expire the first: gone from the list, expired with --all.
    let (code, out, err) = run(&base, &["silence", "expire", &id]).await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, format!("expired {id}\n"));
    let (code, out, _) = run(&base, &["silence", "list"]).await;
    assert_eq!(code, 0);
    assert!(row(&out, &id).is_none(), "{out}");
    assert_eq!(out.lines().count(), 4, "header and the three others: {out}");
    let (code, out, _) = run(&base, &["silence", "list", "--json"]).await;
    assert_eq!(code, 0);
    assert!(!out.contains(&id), "{out}");
    let (code, out, _) = run(&base, &["silence", "list", "--all"]).await;
    assert_eq!(code, 0);
    let cells = row(&out, &id).unwrap_or_else(|| panic!("{id} in {out}"));
    assert_eq!(cells[1], "expired", "{out}");
    assert!(cells.contains(&"ago") || cells.contains(&"now"), "{out}");

    // An unknown id, and a matcher the server cannot read: one error line, exit 1.
    let res = run(&base, &["silence", "expire", "no-such-silence"]).await;
    assert_one_error_line(&res, &["no-such-silence", "404"]);
    let res = run(&base, &["silence", "add", "alertname", "--for", "1h"]).await;
    assert_one_error_line(&res, &["matchers", "400"]);
    let res = run(&base, &["silence", "add", "service=~(", "--for", "1h"]).await;
    assert_one_error_line(&res, &["matchers", "400"]);
    let res = run(&base, &["silence", "add", "service=api", "--for", "soon"]).await;
    assert_one_error_line(&res, &["duration", "400"]);
    let (_, out, _) = run(&base, &["silence", "list", "--all", "--json"]).await;
    let doc: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["silences"].as_array().unwrap().len(), 4, "{doc}");
}
