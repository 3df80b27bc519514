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
        let users = std::fs::read_to_string(repo_path("mappings/demo/users.yaml")).unwrap();
        let groups = std::fs::read_to_string(repo_path("mappings/demo/groups.yaml")).unwrap();
        self.write(&format!("{name}/users.yaml"), &edit(&users));
        self.write(&format!("{name}/groups.yaml"), &groups);
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
