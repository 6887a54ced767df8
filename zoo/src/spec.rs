//! `name[@version]` as typed by users and by `infer`/`train` configuration.

use std::fmt;
use std::str::FromStr;

use semver::Version;

use crate::error::{Result, ZooError};

/// A model name plus an optional exact semver version (`dream-rnn`, `dream-rnn@0.1.0`).
/// Without a version the registry's default (normally the newest) is meant.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ModelSpec {
    pub name: String,
    pub version: Option<Version>,
}

impl ModelSpec {
    pub fn parse(s: &str) -> Result<ModelSpec> {
        let invalid = |reason: String| ZooError::InvalidSpec {
            spec: s.to_string(),
            reason,
        };
        let (name, version) = match s.split_once('@') {
            None => (s, None),
            Some((name, v)) => {
                let v = v.strip_prefix('v').unwrap_or(v);
                let version = Version::parse(v).map_err(|e| {
                    invalid(format!("version {v:?} is not semver (e.g. 0.1.0): {e}"))
                })?;
                (name, Some(version))
            }
        };
        validate_name(name).map_err(invalid)?;
        Ok(ModelSpec {
            name: name.to_string(),
            version,
        })
    }

    pub fn new(name: &str, version: Option<Version>) -> Result<ModelSpec> {
        validate_name(name).map_err(|reason| ZooError::InvalidSpec {
            spec: name.to_string(),
            reason,
        })?;
        Ok(ModelSpec {
            name: name.to_string(),
            version,
        })
    }
}

impl FromStr for ModelSpec {
    type Err = ZooError;
    fn from_str(s: &str) -> Result<Self> {
        ModelSpec::parse(s)
    }
}

impl fmt::Display for ModelSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.version {
            Some(v) => write!(f, "{}@{}", self.name, v),
            None => f.write_str(&self.name),
        }
    }
}

/// Model names become directory names and URL segments, so they are restricted to a
/// portable alphabet: ASCII letters, digits, `.`, `_`, `-`, starting with a letter or
/// digit (which also rules out `.`/`..`).
pub fn validate_name(name: &str) -> std::result::Result<(), String> {
    if name.is_empty() {
        return Err("model name is empty".into());
    }
    if name.len() > 128 {
        return Err("model name is longer than 128 characters".into());
    }
    if !name.as_bytes()[0].is_ascii_alphanumeric() {
        return Err("model name must start with a letter or digit".into());
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return Err(format!(
            "model name contains {c:?}; allowed: letters, digits, '.', '_', '-'"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_name_only() {
        let s = ModelSpec::parse("dream-rnn").unwrap();
        assert_eq!(s.name, "dream-rnn");
        assert_eq!(s.version, None);
        assert_eq!(s.to_string(), "dream-rnn");
    }

    #[test]
    fn parses_name_and_version() {
        let s = ModelSpec::parse("dream-rnn@0.1.0").unwrap();
        assert_eq!(s.version, Some(Version::new(0, 1, 0)));
        assert_eq!(s.to_string(), "dream-rnn@0.1.0");
        let s = ModelSpec::parse("dream_cnn@v1.2.3-rc.1").unwrap();
        assert_eq!(s.version.unwrap().to_string(), "1.2.3-rc.1");
    }

    #[test]
    fn rejects_bad_specs() {
        for bad in ["", "@0.1.0", "dream-rnn@", "dream-rnn@0.1", "../x", "a/b", ".hidden", "x@1.0.0@2.0.0", "a b"] {
            let err = ModelSpec::parse(bad).unwrap_err();
            assert!(matches!(err, ZooError::InvalidSpec { .. }), "{bad}: {err}");
            assert!(err.is_usage());
        }
    }
}
