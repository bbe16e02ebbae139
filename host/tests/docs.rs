//! The documentation's commands, run: every ```console block of README.md
//! and docs/*.md is run by trycmd and its output compared with what the page
//! shows (`...` on a line of its own and `[..]` within a line elide what
//! varies: times, sizes, figures of random weights). ```sh blocks need a
//! board, a trained run, the network or hours and are not run; ```text blocks
//! are sample output. docs/cli.md lists what is not run and why.
//!
//! Each page runs in a scratch directory of its own, its blocks in order, so
//! a page makes the files its later commands read (a seeded random model,
//! say). To rewrite a page's outputs after a deliberate change:
//! `TRYCMD=overwrite cargo test -p host --test docs`, then read the diff.
//!
//! The `host` lines of the ```sh blocks and of the ```text transcripts are
//! not run, but each must parse with this build's flags, so that a renamed
//! flag fails here too.

use std::path::{Path, PathBuf};

/// The pages whose blocks are run, README first.
fn pages(root: &Path) -> Vec<PathBuf> {
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root.join("docs"))
        .expect("docs/ next to host/")
        .map(|e| e.expect("a docs/ entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .collect();
    docs.sort();
    std::iter::once(root.join("README.md")).chain(docs).collect()
}

struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn documented_commands_print_what_the_pages_show() {
    // CARGO_MANIFEST_DIR is host/; the pages are the workspace's.
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("host/ is inside the workspace");
    let scratch = Scratch(std::env::temp_dir().join(format!("alexnet-docs-{}", std::process::id())));
    let pages = pages(root);
    let (mut run, mut failed) = (Vec::new(), Vec::new());
    for page in &pages {
        let text = std::fs::read_to_string(page).expect("a readable page");
        if !text.lines().any(|l| l.trim_start().starts_with("```console")) {
            continue;
        }
        let name = page.file_stem().expect("a page's name").to_string_lossy().to_string();
        let dir = scratch.0.join(&name);
        std::fs::create_dir_all(&dir).expect("a scratch directory");
        // trycmd runs a Markdown page's commands in the current directory;
        // the other test of this binary reads absolute paths only.
        std::env::set_current_dir(&dir).expect("into the scratch directory");
        // Every page runs, whichever fails: trycmd prints each failing
        // command with its diff, then panics at the end of the page.
        let outcome = std::panic::catch_unwind(|| {
            trycmd::TestCases::new().register_bin("host", Path::new(env!("CARGO_BIN_EXE_host"))).case(page).run()
        });
        if outcome.is_err() {
            failed.push(name.clone());
        }
        run.push(name);
    }
    // A page losing all of its console blocks (to sh, say) or gaining its
    // first is a change to make on purpose, here too.
    assert_eq!(run, ["cli", "quantization", "training"], "the pages whose commands run");
    assert!(failed.is_empty(), "commands of {failed:?} print other than their pages show (diffs above)");
}

/// The command lines a page shows but does not run, with their line
/// numbers: every line of its ```sh blocks, and the `$ ` lines of its
/// ```text transcripts (a trained run's, say); a line ending in `\` is
/// joined with the next, as a shell joins them.
fn lines_not_run(text: &str) -> Vec<(usize, String)> {
    let mut block = None;
    let mut lines: Vec<(usize, String)> = Vec::new();
    let mut continued = false;
    for (n, line) in text.lines().enumerate() {
        if line.starts_with("```") {
            block = if block.is_none() { Some(line.trim_end().to_string()) } else { None };
            continued = false;
            continue;
        }
        let command = match block.as_deref() {
            _ if continued => {
                // Cannot fail: `continued` is set only after a push.
                let last = &mut lines.last_mut().expect("the line before").1;
                last.pop();
                last.push_str(line);
                continued = line.ends_with('\\');
                continue;
            }
            Some("```sh") => line,
            Some("```text") => match line.strip_prefix("$ ") {
                Some(command) => command,
                None => continue,
            },
            _ => continue,
        };
        lines.push((n + 1, command.to_string()));
        continued = command.ends_with('\\');
    }
    lines
}

/// `line` split as a shell splits words, with single and double quotes.
fn words(line: &str) -> Vec<String> {
    let (mut words, mut word, mut quote, mut any) = (Vec::new(), String::new(), None, false);
    for c in line.chars() {
        match (quote, c) {
            (None, '\'' | '"') => (quote, any) = (Some(c), true),
            (Some(q), c) if c == q => quote = None,
            (None, c) if c.is_whitespace() => {
                if any {
                    words.push(std::mem::take(&mut word));
                }
                any = false;
            }
            (_, c) => (word, any) = (word + &c.to_string(), true),
        }
    }
    if any {
        words.push(word);
    }
    words
}

#[test]
fn host_lines_of_the_blocks_not_run_parse() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("host/ is inside the workspace");
    let cli = host::cli::command();
    let mut count = 0;
    for page in pages(root) {
        let text = std::fs::read_to_string(&page).expect("a readable page");
        for (n, line) in lines_not_run(&text) {
            // The command itself: not its comment, not what a shell does
            // with its output, not an optional part shown in brackets.
            let command = line.split(" #").next().unwrap_or_default();
            if !command.starts_with("host ") {
                continue;
            }
            let mut argv: Vec<String> =
                words(command).into_iter().take_while(|w| !matches!(w.as_str(), ">" | "|" | "&&" | ";")).collect();
            if let Some(open) = argv.iter().position(|w| w.starts_with('[')) {
                let close = argv[open..].iter().position(|w| w.ends_with(']')).map_or(argv.len(), |k| open + k + 1);
                argv.drain(open..close);
            }
            if let Err(e) = cli.clone().try_get_matches_from(&argv) {
                panic!("{}:{n}: `{line}` does not parse:\n{e}", page.display());
            }
            count += 1;
        }
    }
    // README's stages, training, boards, importing, cli: dozens of them.
    assert!(count >= 45, "only {count} host lines in the blocks not run");
}
