//! Command-line overrides of any pipeline setting: `--set SECTION.KEY=VALUE`
//! (e.g. `--set decode.beam=16`, `--set tri.enabled=false`,
//! `--set lm.arpa=other/lm.arpa`), applied as a TOML overlay on the pipeline
//! table before it is parsed, so every recogniser gets them through one
//! mechanism and an unknown key is the same error as in the file. The value
//! is read as a TOML value (`16`, `0.5`, `true`, `[1, 2]`, `"text"`); a
//! value that is not valid TOML is taken as a string (`lm.arpa=x/lm.arpa`).
use crate::error::{Error, Result};

/// One `KEY=VALUE` override, the key split at dots.
#[derive(Debug, Clone, PartialEq)]
pub struct Setting {
    pub key: Vec<String>,
    pub value: toml::Value,
    /// As given on the command line.
    pub text: String,
}

/// An ordered list of overrides; later ones win.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Overlay {
    pub settings: Vec<Setting>,
}

impl Overlay {
    /// Parse `KEY=VALUE` strings (as from repeated `--set`).
    pub fn parse<S: AsRef<str>>(items: &[S]) -> Result<Self> {
        let mut settings = Vec::new();
        for item in items {
            let text = item.as_ref();
            let (key, value) = text.split_once('=').ok_or_else(|| {
                Error::Config(format!(
                    "--set {text:?}: expected KEY=VALUE, e.g. decode.beam=16"
                ))
            })?;
            let key: Vec<String> = key
                .trim()
                .split('.')
                .map(|k| k.trim().to_string())
                .collect();
            if key.iter().any(|k| k.is_empty()) {
                return Err(Error::Config(format!(
                    "--set {text:?}: empty key part (keys look like decode.beam)"
                )));
            }
            if key.len() == 1 && key[0] == "kind" {
                return Err(Error::Config(
                    "--set kind=...: the recogniser kind cannot be overridden; use another pipeline file".into(),
                ));
            }
            let value = parse_value(value.trim());
            settings.push(Setting {
                key,
                value,
                text: text.to_string(),
            });
        }
        Ok(Overlay { settings })
    }

    pub fn is_empty(&self) -> bool {
        self.settings.is_empty()
    }

    /// Apply every setting to `table`, creating sub-tables as needed.
    pub fn apply(&self, table: &mut toml::Table) -> Result<()> {
        for s in &self.settings {
            set(table, &s.key, s.value.clone())
                .map_err(|why| Error::Config(format!("--set {}: {why}", s.text)))?;
        }
        Ok(())
    }

    /// The settings under `section` (e.g. "decode"), with that prefix removed.
    pub fn section(&self, section: &str) -> Overlay {
        Overlay {
            settings: self
                .settings
                .iter()
                .filter(|s| s.key.len() > 1 && s.key[0] == section)
                .map(|s| Setting {
                    key: s.key[1..].to_vec(),
                    ..s.clone()
                })
                .collect(),
        }
    }

    /// The overrides as given, one per line (recorded in model folders).
    pub fn describe(&self) -> String {
        self.settings
            .iter()
            .map(|s| format!("{}\n", s.text))
            .collect()
    }
}

fn parse_value(text: &str) -> toml::Value {
    match format!("v = {text}").parse::<toml::Table>() {
        Ok(mut t) => t.remove("v").expect("parsed key"),
        Err(_) => toml::Value::String(text.to_string()),
    }
}

fn set(
    table: &mut toml::Table,
    key: &[String],
    value: toml::Value,
) -> std::result::Result<(), String> {
    let (last, parents) = key.split_last().expect("non-empty key");
    let mut t = table;
    for (i, k) in parents.iter().enumerate() {
        let entry = t
            .entry(k.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        t = entry
            .as_table_mut()
            .ok_or_else(|| format!("{} is a value, not a section", key[..=i].join(".")))?;
    }
    t.insert(last.clone(), value);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_typed_and_sections_created() {
        let o = Overlay::parse(&[
            "decode.beam=16",
            "tri.enabled=false",
            "lm.arpa=other/lm.arpa",
            "tune.lm_weights=[8, 10.5]",
            "decode.beam=18",
        ])
        .unwrap();
        let mut t: toml::Table = "kind = \"classical\"\n[decode]\nbeam = 13.0\n"
            .parse()
            .unwrap();
        o.apply(&mut t).unwrap();
        assert_eq!(
            t["decode"]["beam"].as_integer(),
            Some(18),
            "the later one wins"
        );
        assert_eq!(t["tri"]["enabled"].as_bool(), Some(false));
        assert_eq!(t["lm"]["arpa"].as_str(), Some("other/lm.arpa"));
        assert_eq!(t["tune"]["lm_weights"].as_array().unwrap().len(), 2);
        assert_eq!(o.section("decode").settings.len(), 2);
        assert_eq!(o.section("decode").settings[0].key, vec!["beam"]);
    }

    #[test]
    fn bad_settings_are_named() {
        assert!(Overlay::parse(&["decode.beam"])
            .unwrap_err()
            .to_string()
            .contains("KEY=VALUE"));
        assert!(Overlay::parse(&["decode..beam=1"]).is_err());
        assert!(Overlay::parse(&["kind=char-ctc"]).is_err());
        let o = Overlay::parse(&["norm_vars.x=1"]).unwrap();
        let mut t: toml::Table = "norm_vars = true\n".parse().unwrap();
        let e = o.apply(&mut t).unwrap_err().to_string();
        assert!(
            e.contains("norm_vars.x=1") && e.contains("not a section"),
            "{e}"
        );
    }
}
