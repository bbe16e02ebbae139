//! Class names for printing predictions: from a labels file, from the
//! checkpoint's dataset, or the built-in tables (Fashion-MNIST, CIFAR-10,
//! ImageNet-1k with its WordNet synsets).

use super::{cifar10, fashion_mnist};
use crate::error::{read_file, HostError, Result};
use std::path::{Path, PathBuf};

/// ILSVRC-2012's 1000 classes in index order (sorted synset ids, the order
/// torchvision's ImageFolder gives them): `synset<TAB>names, comma separated`.
const IMAGENET: &str = include_str!("../../assets/imagenet_classes.tsv");

/// `(synset, short name)` for every ImageNet class, in index order.
pub fn imagenet() -> impl Iterator<Item = (&'static str, &'static str)> {
    IMAGENET.lines().filter_map(|line| {
        let (synset, names) = line.split_once('\t')?;
        Some((synset, names.split(',').next().unwrap_or(names).trim()))
    })
}

/// The labels file written next to an int8 model, so predictions on it keep
/// the names of the dataset it was trained on.
pub fn sidecar_path(model: &Path) -> PathBuf {
    model.with_extension("labels.txt")
}

/// Writes one class name per line.
pub fn write(path: &Path, names: &[String]) -> Result<()> {
    crate::error::write_atomic(path, names.join("\n").as_bytes())
}

/// Reads one class name per line and checks the count against the model.
pub fn read(path: &Path, classes: usize) -> Result<Vec<String>> {
    let text = String::from_utf8(read_file(path)?)
        .map_err(|_| HostError::Usage(format!("{}: not UTF-8 text", path.display())))?;
    let names: Vec<String> = text.lines().map(|l| l.trim().to_string()).collect();
    if names.len() != classes {
        return Err(HostError::Usage(format!(
            "{}: has {} class names (one per line) but the model has {classes} classes",
            path.display(),
            names.len()
        )));
    }
    Ok(names)
}

/// Names that stand for the classes themselves: synset ids become their
/// ImageNet names, anything else is kept.
pub fn readable(names: &[String]) -> Vec<String> {
    names
        .iter()
        .map(|n| imagenet().find(|(synset, _)| synset == n).map_or_else(|| n.clone(), |(_, name)| name.to_string()))
        .collect()
}

/// The built-in table for a model with `classes` outputs and `channels`
/// input channels: the dataset this project trains such models on.
pub fn builtin(classes: usize, channels: u32) -> Vec<String> {
    match (classes, channels) {
        (1000, _) => imagenet().map(|(_, name)| name.to_string()).collect(),
        (10, 1) => fashion_mnist::CLASSES.map(String::from).to_vec(),
        (10, 3) => cifar10::CLASSES.map(String::from).to_vec(),
        _ => (0..classes).map(|c| format!("class {c}")).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imagenet_table_has_1000_sorted_unique_synsets() {
        let all: Vec<_> = imagenet().collect();
        assert_eq!(all.len(), 1000);
        assert!(all.windows(2).all(|w| w[0].0 < w[1].0));
        assert!(all.iter().all(|(s, n)| s.len() == 9 && s.starts_with('n') && !n.is_empty()));
        assert_eq!(all[0], ("n01440764", "tench"));
        assert_eq!(all[207].1, "golden retriever");
        assert_eq!(all[999].1, "toilet tissue");
    }

    #[test]
    fn synsets_become_names_and_other_names_stay() {
        let names = readable(&["n01443537".into(), "my_cat".into()]);
        assert_eq!(names, ["goldfish", "my_cat"]);
    }

    #[test]
    fn builtin_tables_follow_class_and_channel_counts() {
        assert_eq!(builtin(10, 1)[9], "Ankle boot");
        assert_eq!(builtin(10, 3)[0], "airplane");
        assert_eq!(builtin(1000, 3).len(), 1000);
        assert_eq!(builtin(3, 3), ["class 0", "class 1", "class 2"]);
    }
}
