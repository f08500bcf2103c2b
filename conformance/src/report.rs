//! Result records, text lines, the JSON report and expected-failure files.

use serde_json::json;
use std::collections::BTreeMap;
use std::path::Path;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Pass,
    Fail,
    Skip,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Pass => "PASS",
            Outcome::Fail => "FAIL",
            Outcome::Skip => "SKIP",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Record {
    pub name: String,
    pub outcome: Outcome,
    pub reason: String,
    pub secs: f64,
}

impl Record {
    /// `PASS|FAIL|SKIP name [# reason]`
    pub fn line(&self) -> String {
        if self.reason.is_empty() {
            format!("{} {}", self.outcome.as_str(), self.name)
        } else {
            format!(
                "{} {} # {}",
                self.outcome.as_str(),
                self.name,
                self.reason.replace('\n', " ")
            )
        }
    }
}

#[derive(Debug, Default)]
pub struct Summary {
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
}

impl Summary {
    pub fn of(recs: &[Record]) -> Summary {
        let mut s = Summary::default();
        for r in recs {
            match r.outcome {
                Outcome::Pass => s.passed += 1,
                Outcome::Fail => s.failed += 1,
                Outcome::Skip => s.skipped += 1,
            }
        }
        s
    }
}

/// `test-name # reason` lines; blank lines and lines starting with '#' ignored.
pub fn parse_expected(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| match l.split_once('#') {
            Some((n, r)) => (n.trim().to_string(), r.trim().to_string()),
            None => (l.to_string(), String::new()),
        })
        .collect()
}

#[derive(Debug, Default)]
pub struct ExpectedCheck {
    /// Failed but not listed.
    pub unexpected_fail: Vec<String>,
    /// Listed, ran, and passed.
    pub unexpected_pass: Vec<String>,
}

impl ExpectedCheck {
    pub fn matches(&self) -> bool {
        self.unexpected_fail.is_empty() && self.unexpected_pass.is_empty()
    }
}

/// Compare the tests that ran with the expected failures (listed tests that
/// were filtered out or skipped are not held against the run). A listed test
/// whose reason starts with "flaky" may pass or fail (a race in the runtime).
pub fn compare_expected(recs: &[Record], exp: &BTreeMap<String, String>) -> ExpectedCheck {
    let mut c = ExpectedCheck::default();
    for r in recs {
        let listed = exp.contains_key(&r.name);
        let flaky = exp
            .get(&r.name)
            .map(|why| why.to_ascii_lowercase().starts_with("flaky"))
            == Some(true);
        match r.outcome {
            Outcome::Fail if !listed => c.unexpected_fail.push(r.name.clone()),
            Outcome::Pass if listed && !flaky => c.unexpected_pass.push(r.name.clone()),
            _ => {}
        }
    }
    c
}

/// Per-area counts: the area is the name up to its last '/'.
pub fn by_area(recs: &[Record]) -> BTreeMap<String, Summary> {
    let mut m: BTreeMap<String, Summary> = BTreeMap::new();
    for r in recs {
        let area = r
            .name
            .rsplit_once('/')
            .map(|(a, _)| a)
            .unwrap_or(&r.name)
            .to_string();
        let s = m.entry(area).or_default();
        match r.outcome {
            Outcome::Pass => s.passed += 1,
            Outcome::Fail => s.failed += 1,
            Outcome::Skip => s.skipped += 1,
        }
    }
    m
}

pub fn json(
    runtime: &Path,
    recs: &[Record],
    s: &Summary,
    exp: Option<&ExpectedCheck>,
    secs: f64,
) -> String {
    let tests: Vec<_> = recs
        .iter()
        .map(|r| json!({"name": r.name, "result": r.outcome.as_str(), "reason": r.reason, "seconds": (r.secs * 1000.0).round() / 1000.0}))
        .collect();
    let areas: serde_json::Map<String, serde_json::Value> = by_area(recs)
        .into_iter()
        .map(|(a, s)| {
            (
                a,
                json!({"passed": s.passed, "failed": s.failed, "skipped": s.skipped}),
            )
        })
        .collect();
    let mut v = json!({
        "runtime": runtime.to_string_lossy(),
        "summary": {"passed": s.passed, "failed": s.failed, "skipped": s.skipped},
        "areas": areas,
        "seconds": (secs * 10.0).round() / 10.0,
        "tests": tests,
    });
    if let Some(e) = exp {
        v["expected"] = json!({
            "matches": e.matches(),
            "unexpected_fail": e.unexpected_fail,
            "unexpected_pass": e.unexpected_pass,
        });
    }
    serde_json::to_string_pretty(&v).unwrap()
}
