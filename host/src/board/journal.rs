//! The answers of a board run as they arrive, one JSON line each, so a run
//! stopped by Ctrl-C, a kill, a board reset or a pulled cable loses at most
//! the image in flight: `host run --resume` reads the journal back and
//! sends only the images it lacks. Each line is written whole and flushed
//! to the operating system before the next image goes out; a line cut short
//! by a kill is the last one and is dropped on reading.
//!
//! The first line names what the answers belong to (model checksum, number
//! of images and a CRC of the test images and labels), so a journal is
//! never resumed with another model or other images.
//!
//! The file is made when the first answer is in, not before: a run that
//! fails before any answer (no test images, a board that does not boot or
//! holds another model) leaves no journal to block the next run.

use super::records::{DeviceRecord, TestImage};
use crate::error::{HostError, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// What a journal's answers belong to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunIdentity {
    pub model_checksum: u32,
    pub images: usize,
    /// CRC-32 over every image's shape, pixels and label, in order.
    pub test_set_crc: u32,
}

impl RunIdentity {
    pub fn of(model_checksum: u32, images: &[TestImage]) -> RunIdentity {
        let mut bytes = Vec::new();
        for image in images {
            bytes.extend_from_slice(&[image.shape.c, image.shape.h, image.shape.w].map(u32::to_le_bytes).concat());
            bytes.extend_from_slice(&image.pixels);
            bytes.extend_from_slice(&image.label.to_le_bytes());
        }
        RunIdentity { model_checksum, images: images.len(), test_set_crc: shared::format::crc32(&bytes) }
    }
}

#[derive(Debug, Serialize, Deserialize)]
enum Line {
    Run(RunIdentity),
    Answer(DeviceRecord),
}

fn line_text(line: &Line) -> Result<String> {
    let mut text = serde_json::to_string(line).map_err(|e| HostError::Usage(format!("journal: {e}")))?;
    text.push('\n');
    Ok(text)
}

/// Where a journal's answers go.
enum Sink {
    /// Memory only: a run that need not survive being stopped.
    Memory,
    /// A file not made yet: it is written with the first answer.
    NotYet {
        path: PathBuf,
        identity: RunIdentity,
    },
    Open {
        path: PathBuf,
        file: std::fs::File,
    },
}

/// An open journal: the answers it holds, and where new ones go.
pub struct Journal {
    sink: Sink,
    /// Every answer so far, by image index.
    pub answers: BTreeMap<usize, DeviceRecord>,
}

/// Where the journal of the report `report` is kept while its run lasts.
pub fn journal_path(report: &Path) -> PathBuf {
    let mut name = report.as_os_str().to_owned();
    name.push(".partial");
    PathBuf::from(name)
}

fn io_error(path: &Path) -> impl Fn(std::io::Error) -> HostError + '_ {
    move |source| HostError::File { path: path.to_path_buf(), source }
}

impl Journal {
    /// Starts an empty journal at `path`. Nothing is written until the
    /// first answer; then the file is made (replacing any there).
    pub fn create(path: &Path, identity: RunIdentity) -> Journal {
        Journal { sink: Sink::NotYet { path: path.to_path_buf(), identity }, answers: BTreeMap::new() }
    }

    /// A journal that keeps its answers in memory only: a run that need not
    /// survive being stopped.
    pub fn in_memory() -> Journal {
        Journal { sink: Sink::Memory, answers: BTreeMap::new() }
    }

    /// Reopens the journal at `path` to continue its run, which must be the
    /// run `identity` describes.
    pub fn resume(path: &Path, identity: RunIdentity) -> Result<Journal> {
        let text = std::fs::read_to_string(path).map_err(io_error(path))?;
        let bad = |line: usize, why: &str| HostError::Usage(format!("{}:{line}: {why}", path.display()));
        let lines: Vec<&str> = text.lines().collect();
        let mut answers = BTreeMap::new();
        for (i, line) in lines.iter().enumerate() {
            let parsed = match serde_json::from_str::<Line>(line) {
                Ok(parsed) => parsed,
                // The last line may have been cut short by a kill.
                Err(_) if i + 1 == lines.len() && i > 0 => break,
                Err(e) => return Err(bad(i + 1, &format!("not a run journal line ({e})"))),
            };
            match (i, parsed) {
                (0, Line::Run(found)) if found == identity => {}
                (0, Line::Run(found)) => {
                    let what = if found.model_checksum != identity.model_checksum {
                        format!("model crc32 {:#010x}, not {:#010x}", found.model_checksum, identity.model_checksum)
                    } else {
                        format!("other test images ({} images, crc32 {:#010x})", found.images, found.test_set_crc)
                    };
                    return Err(HostError::Usage(format!(
                        "{} is the journal of a run of {what}: run with --restart to start this one afresh",
                        path.display()
                    )));
                }
                (0, _) => return Err(bad(1, "does not start with the run it belongs to")),
                (_, Line::Answer(record)) if record.index < identity.images => {
                    answers.insert(record.index, record);
                }
                (_, Line::Answer(record)) => {
                    return Err(bad(i + 1, &format!("image {} is out of range", record.index)))
                }
                (_, Line::Run(_)) => return Err(bad(i + 1, "a second run header")),
            }
        }
        if lines.is_empty() {
            return Err(bad(1, "empty journal"));
        }
        // Rewritten whole (a cut last line would otherwise join the next
        // one), to a new file renamed over the old: never half a journal.
        let mut text = line_text(&Line::Run(identity))?;
        for record in answers.values() {
            text.push_str(&line_text(&Line::Answer(record.clone()))?);
        }
        crate::error::write_atomic(path, text.as_bytes())?;
        let file = std::fs::OpenOptions::new().append(true).open(path).map_err(io_error(path))?;
        Ok(Journal { sink: Sink::Open { path: path.to_path_buf(), file }, answers })
    }

    /// Records one answer; the first one makes the file, header and answer
    /// in one write.
    pub fn append(&mut self, record: DeviceRecord) -> Result<()> {
        let mut text = line_text(&Line::Answer(record.clone()))?;
        if let Sink::NotYet { path, identity } = &self.sink {
            text = line_text(&Line::Run(*identity))? + &text;
            let file = std::fs::File::create(path).map_err(io_error(path))?;
            self.sink = Sink::Open { path: path.clone(), file };
        }
        if let Sink::Open { path, file } = &mut self.sink {
            // One write per line, flushed: a kill can cut only the line being written.
            file.write_all(text.as_bytes()).and_then(|()| file.flush()).map_err(io_error(path))?;
        }
        self.answers.insert(record.index, record);
        Ok(())
    }

    /// Removes the journal once its run's report is written (and a stopped
    /// run's that `--restart` replaced, if no answer came to replace it).
    pub fn finish(self) -> Result<()> {
        match &self.sink {
            Sink::Open { path, .. } => std::fs::remove_file(path).map_err(io_error(path)),
            Sink::NotYet { path, .. } => match std::fs::remove_file(path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io_error(path)(e)),
                _ => Ok(()),
            },
            Sink::Memory => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::spec::Shape;

    fn images(n: usize) -> Vec<TestImage> {
        (0..n)
            .map(|i| TestImage { pixels: vec![i as u8; 4], shape: Shape::new(1, 2, 2), label: i as u32 % 3 })
            .collect()
    }

    fn record(index: usize) -> DeviceRecord {
        DeviceRecord { index, label: 1, top5: vec![(3, -7), (1, -9)], cycles: 1000 + index as u64, layers: None }
    }

    fn scratch(name: &str) -> PathBuf {
        std::env::temp_dir().join(format!("alexnet-journal-{}-{name}", std::process::id()))
    }

    #[test]
    fn answers_survive_a_reopen_and_a_cut_last_line() {
        let path = scratch("cut");
        let id = RunIdentity::of(7, &images(5));
        let mut j = Journal::create(&path, id);
        j.append(record(0)).unwrap();
        j.append(record(3)).unwrap();
        drop(j);
        // A kill in the middle of the next line.
        let mut text = std::fs::read_to_string(&path).unwrap();
        text.push_str("{\"Answer\":{\"index\":4,\"lab");
        std::fs::write(&path, text).unwrap();
        let mut j = Journal::resume(&path, id).unwrap();
        assert_eq!(j.answers.keys().copied().collect::<Vec<_>>(), [0, 3]);
        assert_eq!(j.answers[&3], record(3));
        j.append(record(1)).unwrap();
        drop(j);
        let j = Journal::resume(&path, id).unwrap();
        assert_eq!(j.answers.keys().copied().collect::<Vec<_>>(), [0, 1, 3]);
        j.finish().unwrap();
        assert!(!path.exists());
    }

    #[test]
    fn no_file_until_the_first_answer() {
        let path = scratch("lazy");
        let _ = std::fs::remove_file(&path);
        let id = RunIdentity::of(7, &images(5));
        let j = Journal::create(&path, id);
        assert!(!path.exists(), "a journal without answers is not written");
        j.finish().unwrap();
        let mut j = Journal::create(&path, id);
        j.append(record(2)).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 2, "the run's header, then the answer: {text}");
        assert_eq!(Journal::resume(&path, id).unwrap().answers.keys().copied().collect::<Vec<_>>(), [2]);
        j.finish().unwrap();
        assert!(!path.exists());
    }

    #[test]
    fn another_model_or_other_images_are_refused() {
        let path = scratch("other");
        Journal::create(&path, RunIdentity::of(7, &images(5))).append(record(0)).unwrap();
        let err = Journal::resume(&path, RunIdentity::of(8, &images(5))).err().unwrap().to_string();
        assert!(err.contains("model crc32 0x00000007") && err.contains("--restart"), "{err}");
        let mut changed = images(5);
        changed[2].label += 1;
        let err = Journal::resume(&path, RunIdentity::of(7, &changed)).err().unwrap().to_string();
        assert!(err.contains("other test images"), "{err}");
        std::fs::write(&path, "{\"Answer\":{\"index\":0,\"label\":1,\"top5\":[],\"cycles\":1}}\n").unwrap();
        let err = Journal::resume(&path, RunIdentity::of(7, &images(5))).err().unwrap().to_string();
        assert!(err.contains(":1: does not start with the run"), "{err}");
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn damage_before_the_last_line_is_an_error() {
        let path = scratch("garbled");
        let id = RunIdentity::of(7, &images(5));
        let mut j = Journal::create(&path, id);
        j.append(record(0)).unwrap();
        drop(j);
        let mut text = std::fs::read_to_string(&path).unwrap();
        text.push_str("garbage\n");
        text.push_str(&serde_json::to_string(&Line::Answer(record(1))).unwrap());
        text.push('\n');
        std::fs::write(&path, text).unwrap();
        let err = Journal::resume(&path, id).err().unwrap().to_string();
        assert!(err.contains(":3: not a run journal line"), "{err}");
        let _ = std::fs::remove_file(&path);
    }
}
