//! `harp.toml`: the rules a team commits beside its fixtures.
//!
//! ```toml
//! [match]
//! ignore-query  = ["t", "utm_*"]
//! ignore-header = ["x-request-id"]
//! ignore-json   = ["$.requestId", "/meta/sentAt"]
//!
//! [redact]
//! query  = ["api_key"]
//! json   = ["$.password"]
//! header = ["x-api-key"]
//! ```

use std::path::{Path, PathBuf};

use super::{RuleError, RuleSpec, Rules};

/// The file name harp looks for beside a HAR or collection.
pub(crate) const CONFIG_FILE: &str = "harp.toml";

/// Largest `harp.toml` read.
const MAX_CONFIG_BYTES: u64 = 1 << 20;

/// A rules file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// It cannot be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// It is not valid TOML or holds an unknown key (the message gives line and column).
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What the TOML reader said.
        message: String,
    },
    /// A rule in it cannot be compiled.
    #[error("{path}: {source}")]
    Rule {
        /// The file.
        path: PathBuf,
        /// Which rule and why.
        source: RuleError,
    },
}

/// Parses the text of a rules file (`path` is for messages) and checks every rule.
pub fn parse(text: &str, path: &Path) -> Result<RuleSpec, ConfigError> {
    let spec: RuleSpec = toml::from_str(text).map_err(|e| ConfigError::Parse {
        path: path.to_path_buf(),
        message: e.to_string().trim_end().to_string(),
    })?;
    Rules::compile(&spec).map_err(|source| ConfigError::Rule {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(spec)
}

/// The rules in the `harp.toml` in the folder of `path` (a HAR, zip or collection), if
/// there is one.
pub fn load_beside(path: &Path) -> Result<Option<(PathBuf, RuleSpec)>, ConfigError> {
    let file = match path.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(folder) => folder.join(CONFIG_FILE),
        None => PathBuf::from(CONFIG_FILE),
    };
    if !file.exists() {
        return Ok(None);
    }
    let bytes = crate::input::read_regular_file(&file, MAX_CONFIG_BYTES).map_err(|source| {
        ConfigError::Read {
            path: file.clone(),
            source,
        }
    })?;
    let text = String::from_utf8_lossy(&bytes);
    parse(&text, &file).map(|spec| Some((file, spec)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_both_sections() {
        let spec = parse(
            "[match]\nignore-query = [\"t\"]\nignore-json = [\"$.id\"]\n[redact]\nquery = [\"k\"]\nheader = [\"x-key\"]\n",
            Path::new("harp.toml"),
        )
        .unwrap();
        assert_eq!(spec.matching.ignore_query, ["t"]);
        assert_eq!(spec.matching.ignore_json, ["$.id"]);
        assert_eq!(spec.redact.query, ["k"]);
        assert_eq!(spec.redact.header, ["x-key"]);
        assert!(parse("", Path::new("harp.toml")).unwrap().is_empty());
    }

    #[test]
    fn unknown_keys_and_bad_rules_name_the_file_and_place() {
        let err = parse(
            "[match]\nignore-querys = [\"t\"]\n",
            Path::new("hars/harp.toml"),
        )
        .unwrap_err()
        .to_string();
        assert!(err.starts_with("hars/harp.toml:"), "{err}");
        assert!(
            err.contains("ignore-querys") && err.contains("line 2"),
            "{err}"
        );
        let err = parse("[match]\nignore-json = [\"id\"]\n", Path::new("harp.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("\"id\""), "{err}");
    }

    #[test]
    fn finds_the_file_beside_the_har() {
        let dir = tempfile::tempdir().unwrap();
        let har = dir.path().join("a.har");
        assert!(load_beside(&har).unwrap().is_none());
        std::fs::write(
            dir.path().join(CONFIG_FILE),
            "[match]\nignore-query = [\"t\"]\n",
        )
        .unwrap();
        let (file, spec) = load_beside(&har).unwrap().unwrap();
        assert_eq!(file, dir.path().join(CONFIG_FILE));
        assert_eq!(spec.matching.ignore_query, ["t"]);
    }
}
