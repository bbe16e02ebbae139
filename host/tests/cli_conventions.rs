//! The command line's conventions: completion scripts and man pages
//! generated from the clap definitions, so they name every subcommand of
//! this build.

use std::path::PathBuf;
use std::process::{Command, Output};

fn host(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_host")).args(args).output().expect("run host")
}

/// The subcommands a user can type (clap's own `help` aside).
fn subcommands() -> Vec<String> {
    host::cli::command().get_subcommands().filter(|s| !s.is_hide_set()).map(|s| s.get_name().to_string()).collect()
}

struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("alexnet-conventions-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn bash_completion_names_every_subcommand() {
    let out = host(&["completions", "bash"]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    let script = String::from_utf8(out.stdout).unwrap();
    assert!(script.contains("complete -F"), "not a bash completion script:\n{script}");
    let subs = subcommands();
    assert!(subs.len() >= 16, "{subs:?}");
    for sub in &subs {
        // bash's script lists the subcommands as words, e.g. `... compare info flash ...`.
        assert!(script.split_whitespace().any(|w| w == sub), "`{sub}` is not offered by the bash script");
    }
    // A subcommand's own flags are completed too.
    assert!(script.contains("--limit"), "run's --limit is missing");
}

#[test]
fn every_shell_gets_a_script_and_an_unknown_one_is_a_usage_error() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = host(&["completions", shell]);
        assert_eq!(out.status.code(), Some(0), "{shell}: {}", String::from_utf8_lossy(&out.stderr));
        let script = String::from_utf8_lossy(&out.stdout);
        assert!(script.contains("random-model"), "{shell}'s script does not name random-model");
    }
    let out = host(&["completions", "tcsh"]);
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.stdout.is_empty());
}

#[test]
fn man_writes_a_roff_page_for_host_and_each_subcommand() {
    let dir = Scratch::new("man");
    let out_dir = dir.0.join("man1");
    let out = host(&["man", "--out", out_dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    let pages = std::iter::once("host".to_string()).chain(subcommands().into_iter().map(|s| format!("host-{s}")));
    let mut count = 0;
    for page in pages {
        let path = out_dir.join(format!("{page}.1"));
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(text.starts_with(".TH") || text.starts_with(".ie"), "{page}.1 is not roff: {:?}", text.lines().next());
        // The page is the subcommand's own: its name in the title.
        assert!(text.contains(&format!(".TH {page} 1 ")), "{page}.1 has another title");
        assert!(text.contains(concat!("host ", env!("CARGO_PKG_VERSION"))), "{page}.1 does not give the version");
        count += 1;
    }
    assert_eq!(std::fs::read_dir(&out_dir).unwrap().count(), count, "only the pages, no temporary files");
    let run = std::fs::read_to_string(out_dir.join("host-run.1")).unwrap();
    assert!(run.contains("limit"), "host-run.1 does not describe --limit");
}

#[test]
fn man_refuses_an_out_that_is_a_file() {
    let dir = Scratch::new("man-file");
    std::fs::create_dir_all(&dir.0).unwrap();
    let file = dir.0.join("a-file");
    std::fs::write(&file, b"x").unwrap();
    let out = host(&["man", "--out", file.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("error: --out") && stderr.contains("not a directory"), "{stderr}");
    assert!(out.stdout.is_empty());
}

/// The example command lines under "Examples:" in a subcommand's help.
fn examples(cmd: &clap::Command) -> Vec<String> {
    let help = cmd.get_after_help().map(|h| h.to_string()).unwrap_or_default();
    let mut lines = help.lines().skip_while(|l| *l != "Examples:").skip(1);
    std::iter::from_fn(|| lines.next().and_then(|l| l.strip_prefix("  ").map(String::from))).collect()
}

#[test]
fn help_examples_of_the_main_subcommands_parse() {
    let cli = host::cli::command();
    for main in ["train", "quantize", "flash", "run", "compare"] {
        let cmd = cli.find_subcommand(main).unwrap();
        assert!(examples(cmd).len() >= 2, "`host {main} --help` shows fewer than two examples");
        let help = String::from_utf8(host(&[main, "--help"]).stdout).unwrap();
        assert!(help.contains("Examples:\n  host "), "`host {main} --help` does not print them:\n{help}");
    }
    // Every example of every subcommand is a command line this build
    // accepts: a renamed or removed flag fails here, not in a user's shell.
    let mut count = 0;
    for cmd in cli.get_subcommands() {
        for line in examples(cmd) {
            // The command itself, without what a shell does with its output.
            let words: Vec<&str> = line.split_whitespace().take_while(|w| !matches!(*w, ">" | "|" | "&&")).collect();
            assert_eq!(words.get(1), Some(&cmd.get_name()), "an example of {} runs another: {line}", cmd.get_name());
            if let Err(e) = cli.clone().try_get_matches_from(&words) {
                panic!("example `{line}` does not parse:\n{e}");
            }
            count += 1;
        }
    }
    assert!(count >= 12, "{count} examples");
}
