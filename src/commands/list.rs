//! `list`: every container under the root, as runc's table or JSON.

use crate::cli::ListFormat;
use crate::state::Container;
use anyhow::Result;
use std::collections::HashMap;
use std::path::Path;

pub fn list(root: &Path, quiet: bool, format: ListFormat) -> Result<()> {
    let mut entries = Vec::new();
    if let Ok(dir) = std::fs::read_dir(root) {
        // file_type() comes from the directory entry, no stat per container.
        let mut ids: Vec<String> = dir
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .filter_map(|e| e.file_name().into_string().ok())
            .collect();
        ids.sort();
        let mut owners = HashMap::new();
        for id in ids {
            let Ok(c) = Container::peek(root, &id) else {
                continue;
            };
            let owner = owner_of(&c.dir, &mut owners);
            entries.push(c.list_entry(owner));
        }
    }
    if quiet {
        for e in &entries {
            crate::outln!("{}", e.id);
        }
        return Ok(());
    }
    match format {
        ListFormat::Json => {
            // runc prints `null` for no containers.
            if entries.is_empty() {
                crate::outln!("null");
            } else {
                crate::outln!("{}", serde_json::to_string(&entries)?);
            }
        }
        ListFormat::Table => {
            let mut rows = vec![["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]
                .map(String::from)
                .to_vec()];
            for e in &entries {
                rows.push(vec![
                    e.id.clone(),
                    e.pid.to_string(),
                    e.status.clone(),
                    e.bundle.clone(),
                    e.created.clone(),
                    e.owner.clone(),
                ]);
            }
            use std::io::Write;
            let _ = write!(std::io::stdout(), "{}", table(&rows));
        }
    }
    Ok(())
}

/// runc's owner column: the user owning the container's state directory
/// (looked up here, not on create's hot path; /etc/passwd once per uid).
fn owner_of(dir: &Path, names: &mut HashMap<u32, String>) -> String {
    use std::os::unix::fs::MetadataExt;
    let Ok(uid) = std::fs::metadata(dir).map(|m| m.uid()) else {
        return String::new();
    };
    names
        .entry(uid)
        .or_insert_with(|| crate::passwd::by_uid(uid).map_or_else(|| uid.to_string(), |e| e.name))
        .clone()
}

/// Go's tabwriter(minwidth 12, padding 3) as runc uses it.
fn table(rows: &[Vec<String>]) -> String {
    let cols = rows[0].len();
    let widths: Vec<usize> = (0..cols)
        .map(|i| {
            rows.iter()
                .map(|r| r[i].len() + 3)
                .max()
                .unwrap_or(0)
                .max(12)
        })
        .collect();
    let mut out = String::new();
    for r in rows {
        for (i, cell) in r.iter().enumerate() {
            if i + 1 == cols {
                out.push_str(cell);
            } else {
                out.push_str(&format!("{cell:<w$}", w = widths[i]));
            }
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn table_matches_runc_header() {
        let rows = vec![["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]
            .map(String::from)
            .to_vec()];
        assert_eq!(
            super::table(&rows),
            "ID          PID         STATUS      BUNDLE      CREATED     OWNER\n"
        );
    }
}
