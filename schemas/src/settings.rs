//! Which `SDGX_*` environment variables are settings.
//!
//! Both programs read their settings from a TOML file and then from `SDGX_*` variables
//! (`SDGX_FLIGHT_ADDR`, `SDGX_SECURITY__TLS__CERT`). Other variables that happen to share the
//! prefix (`SDGX_CONFIG`, which names the file itself, or a deployment's own) are not settings
//! and must not make the configuration invalid: only variables whose first key is a setting of
//! the program are passed on.

use std::collections::HashMap;

/// The prefix of settings variables.
pub const PREFIX: &str = "SDGX_";

/// The variable that names the configuration file itself (the coordinator's `--config`): neither
/// a setting nor a variable to warn of.
pub const CONFIG_FILE: &str = "SDGX_CONFIG";

/// The variable that chooses the log format of both programs (their `--log-format`): not a
/// setting either.
pub const LOG_FORMAT: &str = "SDGX_LOG_FORMAT";

/// From `vars`, the settings variables of a program whose settings serialise as `defaults`
/// (a struct: its field names are the first keys), and the names of the variables left out
/// ([`CONFIG_FILE`] and [`LOG_FORMAT`] are in neither).
pub fn environment<T: serde::Serialize>(defaults: &T, vars: impl IntoIterator<Item = (String, String)>) -> (HashMap<String, String>, Vec<String>) {
    let known: Vec<String> = match serde_json::to_value(defaults) {
        Ok(serde_json::Value::Object(m)) => m.keys().cloned().collect(),
        _ => Vec::new(),
    };
    let (mut kept, mut left) = (HashMap::new(), Vec::new());
    for (name, value) in vars {
        let Some(rest) = name.strip_prefix(PREFIX).filter(|_| name != CONFIG_FILE && name != LOG_FORMAT) else { continue };
        let first = rest.split("__").next().unwrap_or_default().to_ascii_lowercase();
        if known.contains(&first) {
            kept.insert(name, value);
        } else {
            left.push(name);
        }
    }
    left.sort();
    (kept, left)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Serialize)]
    struct S {
        flight_addr: String,
        security: Option<u8>,
    }

    #[test]
    fn only_settings_pass() {
        let vars = [("SDGX_FLIGHT_ADDR", "x"), ("SDGX_SECURITY__TLS__CERT", "c"), ("SDGX_CONFIG", "f"), ("SDGX_LOG_FORMAT", "json"), ("SDGX_BENCH_X", "1"), ("PATH", "/bin")]
            .map(|(a, b)| (a.to_owned(), b.to_owned()));
        let (kept, left) = environment(&S { flight_addr: String::new(), security: None }, vars);
        assert_eq!(kept.len(), 2);
        assert!(kept.contains_key("SDGX_FLIGHT_ADDR") && kept.contains_key("SDGX_SECURITY__TLS__CERT"));
        assert_eq!(left, ["SDGX_BENCH_X"]);
    }
}
