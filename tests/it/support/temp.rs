//! A folder under the temp directory for config and mapping files a test writes, removed
//! on drop.

use std::path::{Path, PathBuf};

use super::gateway::repo_path;
use super::scim::run_id;

pub struct TempDir {
    pub path: PathBuf,
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

impl TempDir {
    pub fn new() -> TempDir {
        let path = std::env::temp_dir().join(format!("scimgate-it-{}", run_id()));
        std::fs::create_dir_all(&path).unwrap();
        TempDir { path }
    }

    /// Writes `text` to `name` inside the folder; returns its path.
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.path.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&path, text).unwrap();
        path
    }

    /// Copies the shipped demo mappings (and the schema files they refer to) into
    /// `name/`, with `edit` applied to users.yaml; returns the folder.
    pub fn demo_mappings(&self, name: &str, edit: impl Fn(&str) -> String) -> PathBuf {
        self.shipped_mappings("demo", name, |file, text| match file {
            "users.yaml" => edit(&text),
            _ => text,
        })
    }

    /// Copies the shipped mapping set `mappings/{shipped}` (and the schema files it refers
    /// to, so `../schemas/` still resolves) into `name/`, each file's text passed through
    /// `edit(file name, text)`; returns the folder.
    pub fn shipped_mappings(
        &self,
        shipped: &str,
        name: &str,
        edit: impl Fn(&str, String) -> String,
    ) -> PathBuf {
        for file in ["users.yaml", "groups.yaml"] {
            let text =
                std::fs::read_to_string(repo_path(&format!("mappings/{shipped}/{file}"))).unwrap();
            self.write(&format!("{name}/{file}"), &edit(file, text));
        }
        copy_dir(&repo_path("mappings/schemas"), &self.path.join("schemas"));
        self.path.join(name)
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
}

/// users.yaml without the `title` attribute.
pub fn without_title(users: &str) -> String {
    // Its sort rule goes too: a rule on an unmapped attribute is a mapping problem.
    let out: String = users
        .lines()
        .filter(|l| l.trim() != "title: $.title" && !l.contains("attribute: title,"))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_ne!(out.len(), users.len(), "the demo users.yaml maps title");
    out
}
