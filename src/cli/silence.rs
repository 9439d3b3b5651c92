//! `blazar silence add MATCHERS --for DURATION` (mute the alerts some label matchers select),
//! `blazar silence list` (active and pending silences, or all) and `blazar silence expire ID`
//! (end one now).

use std::io::{self, Write};
use std::process::ExitCode;

use blazar_client::paths;
use blazar_client::wire::{Silence, SilenceList, SilenceMatcher, SilenceState};
use chrono::{DateTime, SecondsFormat, Utc};
use clap::{Args, Subcommand};
use serde_json::{Map, Value};

use super::output;
use super::term::{self, Colour, Paint, Painted};
use super::Ctx;

/// The label matcher operators, longest first so `=~` is not read as `=`.
const OPERATORS: [&str; 4] = ["=~", "!~", "!=", "="];

/// `blazar silence …`: what to do with silences.
#[derive(Debug, Subcommand)]
pub(crate) enum SilenceCommand {
    /// Silence the alerts MATCHERS select, from now (or --start) for DURATION.
    Add(AddArgs),
    /// List silences: the active and pending ones, or all with --all.
    List(ListArgs),
    /// End a silence now.
    Expire(ExpireArgs),
}

#[derive(Debug, Args)]
#[command(after_help = "MATCHERS is one selector-style string \
(alertname=\"HighCPU\",service=~\"api|web\") or several label=value words \
(alertname=HighCPU service=api); the operators are =, !=, =~ and !~ (regexes match the whole \
value). Unquoted values are quoted for you.

Exit status: 1 when the server refuses the silence (400) or the request fails.")]
pub(crate) struct AddArgs {
    /// Label matchers the silenced alerts must all meet.
    #[arg(required = true, value_name = "MATCHERS")]
    matchers: Vec<String>,
    /// How long the silence lasts from its start (`30m`, `2h`, `1d`).
    #[arg(long = "for", value_name = "DURATION")]
    duration: String,
    /// Why: shown by `blazar silence list`.
    #[arg(long, value_name = "TEXT")]
    comment: Option<String>,
    /// Who silences [default: $USER, else `cli`].
    #[arg(long, value_name = "NAME")]
    by: Option<String>,
    /// When the silence starts: an RFC 3339 time, unix seconds, or a duration from now (`1h`:
    /// in an hour) [default: now].
    #[arg(long, value_name = "TIME")]
    start: Option<String>,
}

#[derive(Debug, Args)]
#[command(after_help = "States are coloured on a terminal; set NO_COLOR to turn that off.")]
pub(crate) struct ListArgs {
    /// Also list expired silences (the server keeps them for a day).
    #[arg(long)]
    all: bool,
}

#[derive(Debug, Args)]
#[command(after_help = "Exit status: 1 when the silence is unknown (404) or the request fails.")]
pub(crate) struct ExpireArgs {
    /// The silence's id, as `blazar silence list` shows it.
    id: String,
}

/// Runs one `blazar silence` command.
///
/// # Errors
/// The request failing: matchers or a duration the server refuses (400), an unknown id (404).
pub(crate) async fn run(ctx: &Ctx, command: SilenceCommand) -> anyhow::Result<ExitCode> {
    match command {
        SilenceCommand::Add(args) => add(ctx, args).await,
        SilenceCommand::List(args) => list(ctx, args).await,
        SilenceCommand::Expire(args) => expire(ctx, args).await,
    }
}

/// Adds a silence and prints its id and end, or the server's JSON (the silence).
async fn add(ctx: &Ctx, args: AddArgs) -> anyhow::Result<ExitCode> {
    let mut body = Map::new();
    body.insert(
        "matchers".into(),
        Value::String(normalise_matchers(&args.matchers)),
    );
    body.insert("duration".into(), Value::String(args.duration));
    if let Some(start) = args.start {
        body.insert(
            "starts_at".into(),
            Value::String(start_time(&start, Utc::now())),
        );
    }
    body.insert(
        "created_by".into(),
        Value::String(args.by.unwrap_or_else(term::default_user)),
    );
    body.insert(
        "comment".into(),
        Value::String(args.comment.unwrap_or_default()),
    );
    let answer = ctx
        .client
        .post_json(paths::SILENCES, &Value::Object(body))
        .await?;
    if ctx.json {
        output::print_json(&answer)?;
    } else {
        let s: Silence = output::decode(answer, "silence")?;
        let mut line = format!("silenced {}", s.id);
        if s.state == SilenceState::Pending {
            line.push_str(&format!(" from {} UTC", output::time(&s.starts_at)));
        }
        line.push_str(&format!(" until {} UTC", output::time(&s.ends_at)));
        writeln!(io::stdout().lock(), "{line}")?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Lists silences (without expired ones unless `--all`), newest first, or the server's JSON
/// with the same ones.
async fn list(ctx: &Ctx, args: ListArgs) -> anyhow::Result<ExitCode> {
    let mut body = ctx.client.get_json(paths::SILENCES, &[]).await?;
    if !args.all {
        drop_expired(&mut body);
    }
    if ctx.json {
        output::print_json(&body)?;
    } else {
        let list: SilenceList = output::decode(body, "silences")?;
        let mut out = io::stdout().lock();
        write_silences(
            &mut out,
            &list.silences,
            Utc::now(),
            term::terminal_columns(),
            Paint::for_stdout(),
        )?;
        out.flush()?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Expires a silence now and says so, or prints the server's JSON (the silence).
async fn expire(ctx: &Ctx, args: ExpireArgs) -> anyhow::Result<ExitCode> {
    let id = args.id.trim();
    if id.is_empty() {
        anyhow::bail!("id: must not be empty (see blazar silence list)");
    }
    let answer = ctx.client.delete_json(&paths::silence(id)).await?;
    if ctx.json {
        output::print_json(&answer)?;
    } else {
        let s: Silence = output::decode(answer, "expire silence")?;
        let id = if s.id.is_empty() { id } else { &s.id };
        writeln!(io::stdout().lock(), "expired {id}")?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `--start` as the server takes it: a duration (`1h`) is that long after `now`; a time goes as
/// given, for the server to read (or refuse).
fn start_time(start: &str, now: DateTime<Utc>) -> String {
    let start = start.trim();
    // Unix seconds are a bare number; a duration has a unit.
    if start.chars().any(|c| c.is_ascii_alphabetic()) {
        let later = super::parse_duration(start)
            .ok()
            .and_then(|d| chrono::Duration::from_std(d).ok())
            .and_then(|d| now.checked_add_signed(d));
        if let Some(t) = later {
            return t.to_rfc3339_opts(SecondsFormat::Millis, true);
        }
    }
    start.to_string()
}

/// Removes expired silences from a `GET …/silences` answer.
fn drop_expired(body: &mut Value) {
    if let Some(Value::Array(list)) = body.get_mut("silences") {
        list.retain(|s| s.get("state").and_then(Value::as_str) != Some("expired"));
    }
}

// === matchers ===

/// Joins the MATCHERS arguments into the selector-style string the server takes, quoting
/// unquoted values: `alertname=HighCPU` `service=~api|web` becomes
/// `alertname="HighCPU",service=~"api|web"`. Quoted values are kept as given, braces around an
/// argument dropped; text that is no matcher is passed on for the server to name.
fn normalise_matchers(args: &[String]) -> String {
    let mut out: Vec<String> = Vec::new();
    for arg in args {
        let arg = arg.trim();
        let arg = arg
            .strip_prefix('{')
            .and_then(|a| a.strip_suffix('}'))
            .unwrap_or(arg);
        let mut pieces: Vec<String> = Vec::new();
        for piece in split_outside_quotes(arg) {
            match pieces.last_mut() {
                // A comma inside an unquoted value (`a=~x{1,3}`): not a new matcher.
                Some(prev) if !starts_matcher(piece) && !has_quoted_value(prev) => {
                    prev.push(',');
                    prev.push_str(piece);
                }
                _ => pieces.push(piece.to_string()),
            }
        }
        out.extend(
            pieces
                .iter()
                .map(|p| p.trim())
                .filter(|p| !p.is_empty())
                .map(quote_value),
        );
    }
    out.join(",")
}

/// Splits `text` at the commas outside double quotes (`\` escapes inside them).
fn split_outside_quotes(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (i, c) in text.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            ',' if !quoted => {
                parts.push(text.get(start..i).unwrap_or_default());
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(text.get(start..).unwrap_or_default());
    parts
}

/// Splits `label op value` into its parts (the value as written, untrimmed on the right), or
/// `None` when `text` does not start with a label name and an operator.
fn split_matcher(text: &str) -> Option<(&str, &'static str, &str)> {
    let text = text.trim_start();
    let end = text
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'))
        .unwrap_or(text.len());
    let (name, rest) = text.split_at(end);
    if name.is_empty() {
        return None;
    }
    let rest = rest.trim_start();
    let op = OPERATORS.into_iter().find(|op| rest.starts_with(op))?;
    Some((
        name,
        op,
        rest.get(op.len()..).unwrap_or_default().trim_start(),
    ))
}

fn starts_matcher(text: &str) -> bool {
    split_matcher(text).is_some()
}

fn has_quoted_value(text: &str) -> bool {
    split_matcher(text).is_some_and(|(_, _, value)| value.starts_with('"'))
}

/// `label=value` as `label="value"`; a quoted value, or text that is no matcher, as given.
fn quote_value(text: &str) -> String {
    match split_matcher(text) {
        Some((name, op, value)) if !value.starts_with('"') => {
            format!("{name}{op}{}", quoted(value))
        }
        _ => text.to_string(),
    }
}

/// `value` in double quotes, with `\` and `"` escaped as the server's parser reads them.
fn quoted(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '\\' | '"' => {
                out.push('\\');
                out.push(c);
            }
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A silence's matchers as they are written: `alertname="HighCPU",service=~"api|web"`.
fn matchers_text(matchers: &[SilenceMatcher]) -> String {
    matchers
        .iter()
        .map(|m| format!("{}{}{}", m.name, m.op, quoted(&m.value)))
        .collect::<Vec<_>>()
        .join(",")
}

// === table ===

const COLUMNS: [&str; 6] = ["ID", "STATE", "MATCHERS", "ENDS", "CREATED BY", "COMMENT"];
const STATE_COLUMN: usize = 1;

/// Active green, pending yellow, expired dim.
fn state_colour(state: SilenceState) -> Option<Colour> {
    match state {
        SilenceState::Active => Some(Colour::Green),
        SilenceState::Pending => Some(Colour::Yellow),
        SilenceState::Expired => Some(Colour::Dim),
        SilenceState::Unknown => None,
    }
}

fn write_silences(
    out: &mut impl Write,
    silences: &[Silence],
    now: DateTime<Utc>,
    columns: usize,
    paint: Paint,
) -> io::Result<()> {
    if silences.is_empty() {
        return writeln!(out, "no silences");
    }
    let rows: Vec<Vec<String>> = silences.iter().map(|s| row(s, now)).collect();
    let painted: Vec<Vec<Painted<'_>>> = silences
        .iter()
        .map(|s| {
            vec![Painted {
                column: STATE_COLUMN,
                word: s.state.as_str(),
                colour: state_colour(s.state),
            }]
        })
        .collect();
    term::write_table(out, &COLUMNS, rows, Some(columns), &painted, paint)
}

fn row(s: &Silence, now: DateTime<Utc>) -> Vec<String> {
    vec![
        s.id.clone(),
        s.state.as_str().to_string(),
        term::or_dash(&matchers_text(&s.matchers)),
        relative(&s.ends_at, now),
        term::or_dash(&s.created_by),
        s.comment.replace('\n', " "),
    ]
}

/// How far the RFC 3339 time `ts` is from `now`: `in 1h59m`, `3m ago`, `now`; other text is
/// shown as given, empty as `-`.
fn relative(ts: &str, now: DateTime<Utc>) -> String {
    if ts.is_empty() {
        return "-".to_string();
    }
    let Ok(t) = DateTime::parse_from_rfc3339(ts) else {
        return ts.to_string();
    };
    let secs = (t.with_timezone(&Utc) - now).num_seconds();
    match secs {
        0 => "now".to_string(),
        1.. => format!("in {}", span(secs.unsigned_abs())),
        _ => format!("{} ago", span(secs.unsigned_abs())),
    }
}

/// A span in its two largest units: `45s`, `3m`, `1h59m`, `2d3h`.
fn span(secs: u64) -> String {
    let parts = [
        (secs / 86_400, "d"),
        (secs / 3600 % 24, "h"),
        (secs / 60 % 60, "m"),
        (secs % 60, "s"),
    ];
    let first = parts.iter().position(|(n, _)| *n > 0).unwrap_or(3);
    parts
        .iter()
        .skip(first)
        .take(2)
        .filter(|(n, _)| *n > 0 || first == 3)
        .map(|(n, unit)| format!("{n}{unit}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use serde_json::json;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-12-04T13:05:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn args(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| w.to_string()).collect()
    }

    #[test]
    fn matcher_words_are_quoted_and_joined() {
        assert_eq!(
            normalise_matchers(&args(&["alertname=HighCPU", "service=api"])),
            r#"alertname="HighCPU",service="api""#
        );
        assert_eq!(
            normalise_matchers(&args(&["service=~api|web", "env!=prod", "host!~db.*"])),
            r#"service=~"api|web",env!="prod",host!~"db.*""#
        );
        // Several in one word, unquoted; spaces around the operator; an empty value.
        assert_eq!(
            normalise_matchers(&args(&["alertname=HighCPU,service = api", "team="])),
            r#"alertname="HighCPU",service="api",team="""#
        );
        // Quotes and backslashes inside an unquoted value are escaped.
        assert_eq!(
            normalise_matchers(&args(&[r#"path=~\d+"x"#])),
            r#"path=~"\\d+\"x""#
        );
    }

    #[test]
    fn quoted_matchers_are_kept_as_given() {
        let given = r#"alertname="HighCPU",service=~"api|web""#;
        assert_eq!(normalise_matchers(&args(&[given])), given);
        // Braces dropped; commas inside quotes do not split.
        assert_eq!(
            normalise_matchers(&args(&[r#"{msg="a,b \"c,d\"",x="1"}"#])),
            r#"msg="a,b \"c,d\"",x="1""#
        );
        // Quoted and unquoted mixed across words.
        assert_eq!(
            normalise_matchers(&args(&[r#"alertname="HighCPU""#, "service=api"])),
            r#"alertname="HighCPU",service="api""#
        );
    }

    #[test]
    fn a_comma_in_an_unquoted_value_stays_in_it() {
        assert_eq!(
            normalise_matchers(&args(&["code=~5[0-9]{1,2}", "x=y"])),
            r#"code=~"5[0-9]{1,2}",x="y""#
        );
    }

    #[test]
    fn text_that_is_no_matcher_goes_to_the_server_as_is() {
        assert_eq!(
            normalise_matchers(&args(&["alertname", "service=api"])),
            r#"alertname,service="api""#
        );
        assert_eq!(normalise_matchers(&args(&["=x"])), "=x");
        assert_eq!(normalise_matchers(&args(&["{}"])), "");
    }

    fn silences_json() -> Value {
        json!({"silences": [
            {"id": "0b9f6c1e-2d7a-4c1b-9a0e-5f3d2c1b0a99",
             "matchers": [{"name": "alertname", "op": "=", "value": "HighCPU"},
                          {"name": "service", "op": "=~", "value": "api|web"}],
             "starts_at": "2026-12-04T13:04:00Z", "ends_at": "2026-12-04T15:03:59.5Z",
             "created_by": "ops", "comment": "deploy of the checkout service, ticket OPS-1234",
             "state": "active", "later": 1},
            {"id": "pending-1", "matchers": [{"name": "host", "op": "!=", "value": "a\"b"}],
             "starts_at": "2026-12-05T00:00:00Z", "ends_at": "2026-12-06T03:00:00Z",
             "created_by": "", "comment": "", "state": "pending"},
            {"id": "old", "matchers": [{"name": "env", "op": "!~", "value": "dev.*"}],
             "starts_at": "2026-12-04T12:00:00Z", "ends_at": "2026-12-04T13:02:00Z",
             "created_by": "cli", "comment": "done", "state": "expired"}
        ]})
    }

    fn render(body: Value, columns: usize, paint: Paint) -> String {
        let list: SilenceList = serde_json::from_value(body).unwrap();
        let mut out = Vec::new();
        write_silences(&mut out, &list.silences, now(), columns, paint).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn silences_table_has_a_row_per_silence() {
        assert_eq!(
            render(silences_json(), 200, Paint::Plain),
            "ID                                    STATE    MATCHERS                                \
             ENDS      CREATED BY  COMMENT\n\
             0b9f6c1e-2d7a-4c1b-9a0e-5f3d2c1b0a99  active   \
             alertname=\"HighCPU\",service=~\"api|web\"  in 1h58m  ops         \
             deploy of the checkout service, ticket OPS-1234\n\
             pending-1                             pending  host!=\"a\\\"b\"                            \
             in 1d13h  -\n\
             old                                   expired  env!~\"dev.*\"                            \
             3m ago    cli         done\n"
        );
    }

    #[test]
    fn comments_are_cut_to_the_line_width() {
        let text = render(silences_json(), 130, Paint::Plain);
        let line = text.lines().find(|l| l.contains(" active ")).unwrap();
        assert_eq!(line.chars().count(), 130, "{line}");
        assert!(
            line.ends_with("  ops         deploy of the chec..."),
            "{line}"
        );
        // Never below a readable minimum, however narrow the terminal.
        let text = render(silences_json(), 10, Paint::Plain);
        let line = text.lines().find(|l| l.contains(" active ")).unwrap();
        assert!(line.ends_with("  deploy of the che..."), "{line}");
    }

    #[test]
    fn states_are_coloured_without_moving_columns() {
        let plain = render(silences_json(), 200, Paint::Plain);
        let coloured = render(silences_json(), 200, Paint::Colour);
        assert!(
            coloured.contains(
                "0b9f6c1e-2d7a-4c1b-9a0e-5f3d2c1b0a99  \x1b[32mactive\x1b[0m   alertname"
            ),
            "{coloured:?}"
        );
        assert!(
            coloured.contains("  \x1b[33mpending\x1b[0m  host"),
            "{coloured:?}"
        );
        assert!(
            coloured.contains("  \x1b[2mexpired\x1b[0m  env"),
            "{coloured:?}"
        );
        let stripped = ["\x1b[32m", "\x1b[33m", "\x1b[2m", "\x1b[0m"]
            .iter()
            .fold(coloured.clone(), |s, code| s.replace(code, ""));
        assert_eq!(stripped, plain);
        assert!(coloured.starts_with("ID  "), "header stays plain");
    }

    #[test]
    fn expired_silences_are_dropped_unless_all() {
        let mut body = silences_json();
        drop_expired(&mut body);
        let ids: Vec<&str> = body["silences"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, ["0b9f6c1e-2d7a-4c1b-9a0e-5f3d2c1b0a99", "pending-1"]);
        assert_eq!(body["silences"][0]["later"], 1, "the rest is untouched");
        let mut only_expired = json!({"silences": [silences_json()["silences"][2].clone()]});
        drop_expired(&mut only_expired);
        assert_eq!(render(only_expired, 80, Paint::Plain), "no silences\n");
    }

    #[test]
    fn no_silences_says_so() {
        assert_eq!(
            render(json!({"silences": []}), 80, Paint::Colour),
            "no silences\n"
        );
        assert_eq!(render(json!({}), 80, Paint::Plain), "no silences\n");
    }

    #[test]
    fn relative_times() {
        assert_eq!(relative("2026-12-04T15:04:59.9Z", now()), "in 1h59m");
        assert_eq!(relative("2026-12-04T13:02:00Z", now()), "3m ago");
        assert_eq!(relative("2026-12-04T13:05:00.4Z", now()), "now");
        assert_eq!(relative("2026-12-04T13:05:45Z", now()), "in 45s");
        assert_eq!(relative("2026-12-04T14:05:00Z", now()), "in 1h");
        assert_eq!(relative("2026-12-04T14:05:07Z", now()), "in 1h");
        assert_eq!(relative("2026-12-01T13:04:00Z", now()), "3d ago");
        assert_eq!(relative("2026-12-07T14:05:00Z", now()), "in 3d1h");
        assert_eq!(relative("", now()), "-");
        assert_eq!(relative("soon", now()), "soon");
    }

    #[test]
    fn a_start_duration_is_from_now() {
        assert_eq!(start_time("1h", now()), "2026-12-04T14:05:00.000Z");
        assert_eq!(start_time(" 90s ", now()), "2026-12-04T13:06:30.000Z");
        for given in ["2026-12-05T00:00:00Z", "1764000000", "tomorrow"] {
            assert_eq!(start_time(given, now()), given);
        }
    }

    #[test]
    fn silence_path_encodes_the_id() {
        assert_eq!(
            paths::silence("0b9f6c1e-2d7a"),
            "/api/v1/telemetry/silences/0b9f6c1e-2d7a"
        );
        assert_eq!(
            paths::silence("a/b c"),
            "/api/v1/telemetry/silences/a%2Fb%20c"
        );
    }

    #[test]
    fn silence_decodes_with_unknown_states_and_fields() {
        let s: Silence = serde_json::from_value(json!({
            "id": "x", "matchers": [{"name": "a", "op": "=", "value": "b", "new": 1}],
            "state": "muted", "ends_at": "2026-12-04T15:00:00Z", "extra": []
        }))
        .unwrap();
        assert_eq!(s.state, SilenceState::Unknown);
        assert_eq!(matchers_text(&s.matchers), r#"a="b""#);
        assert!(s.created_by.is_empty() && s.comment.is_empty());
    }

    /// The subcommands as `blazar silence …` parses them.
    #[derive(Debug, Parser)]
    struct Wrap {
        #[command(subcommand)]
        command: SilenceCommand,
    }

    #[test]
    fn add_takes_matchers_as_several_words_and_requires_for() {
        let w = Wrap::try_parse_from([
            "silence",
            "add",
            "alertname=HighCPU",
            "service=api",
            "--for",
            "2h",
            "--comment",
            "deploy",
        ])
        .unwrap();
        let SilenceCommand::Add(a) = w.command else {
            panic!("{w:?}");
        };
        assert_eq!(a.matchers, ["alertname=HighCPU", "service=api"]);
        assert_eq!(a.duration, "2h");
        assert_eq!(a.comment.as_deref(), Some("deploy"));
        assert!(a.by.is_none() && a.start.is_none());
        assert!(Wrap::try_parse_from(["silence", "add", "a=b"]).is_err());
        assert!(Wrap::try_parse_from(["silence", "add", "--for", "2h"]).is_err());
    }
}
