//! The summary of an A/B comparison (scripts/bench-ab.sh): the JSON results of alternated runs of
//! two builds, `A-1.json`, `B-1.json`, `A-2.json`, … in one folder, printed run by run with each
//! run's own pgbench figure, then the spread of each side: min–max and median of the throughput,
//! the ratio to pgbench and the p99.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

/// One point of one run of one side.
#[derive(Debug, Clone)]
struct Sample {
    run: usize,
    side: String,
    load: Option<f64>,
    pgbench: Option<f64>,
    actions: f64,
    ratio: Option<f64>,
    p99: f64,
    errors: u64,
}

/// "min–max (median)" of `values`, formatted with `decimals`.
fn spread(mut values: Vec<f64>, decimals: usize) -> String {
    if values.is_empty() {
        return "n/a".into();
    }
    values.sort_by(f64::total_cmp);
    let n = values.len();
    let median = if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    };
    format!(
        "{:.d$}–{:.d$} ({:.d$})",
        values[0],
        values[n - 1],
        median,
        d = decimals
    )
}

/// (side, run) from a file name such as `B-3.json`.
fn side_and_run(name: &str) -> Option<(String, usize)> {
    let stem = name.strip_suffix(".json")?;
    let (side, run) = stem.split_once('-')?;
    Some((side.to_string(), run.parse().ok()?))
}

/// The samples of every result file in `dir`, by (scenario, clients).
fn read(dir: &Path) -> anyhow::Result<BTreeMap<(String, u64), Vec<Sample>>> {
    let mut by_point: BTreeMap<(String, u64), Vec<Sample>> = BTreeMap::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        let Some((side, run)) = side_and_run(name) else {
            continue;
        };
        let result: Value = serde_json::from_slice(&std::fs::read(&path)?)?;
        for p in result["points"].as_array().into_iter().flatten() {
            let key = (
                p["scenario"].as_str().unwrap_or("?").to_string(),
                p["clients"].as_u64().unwrap_or(0),
            );
            by_point.entry(key).or_default().push(Sample {
                run,
                side: side.clone(),
                load: result["load_1m_before"].as_f64(),
                pgbench: p["pgbench_tps"].as_f64(),
                actions: p["actions_per_s"].as_f64().unwrap_or(0.0),
                ratio: p["ratio_to_pgbench"].as_f64(),
                p99: p["p99_ms"].as_f64().unwrap_or(0.0),
                errors: p["errors"].as_u64().unwrap_or(0),
            });
        }
    }
    for samples in by_point.values_mut() {
        samples.sort_by(|a, b| (a.run, &a.side).cmp(&(b.run, &b.side)));
    }
    Ok(by_point)
}

/// The summary in Markdown; `labels` names the sides (`A = 1a2b3c4`).
pub fn summary(dir: &Path, labels: &str) -> anyhow::Result<String> {
    let by_point = read(dir)?;
    anyhow::ensure!(
        !by_point.is_empty(),
        "no A-<n>.json / B-<n>.json results in {}",
        dir.display()
    );
    let mut out = format!("# A/B: {labels}\n");
    for ((scenario, clients), samples) in &by_point {
        out.push_str(&format!(
            "\n## {scenario}, {clients} clients\n\n\
             | run | side | load (1 min) | pgbench inserts/s | actions/s | ratio to pgbench | p99 ms | errors |\n\
             |---|---|---|---|---|---|---|---|\n"
        ));
        for s in samples {
            out.push_str(&format!(
                "| {} | {} | {} | {} | {:.0} | {} | {:.2} | {} |\n",
                s.run,
                s.side,
                s.load.map_or("n/a".into(), |l| format!("{l:.2}")),
                s.pgbench.map_or("n/a".into(), |t| format!("{t:.0}")),
                s.actions,
                s.ratio
                    .map_or("n/a".into(), |r| format!("{:.0} %", 100.0 * r)),
                s.p99,
                s.errors
            ));
        }
        out.push_str(
            "\n| side | runs | actions/s min–max (median) | ratio to pgbench, % | p99 ms | pgbench inserts/s |\n\
             |---|---|---|---|---|---|\n",
        );
        let mut sides: Vec<&str> = samples.iter().map(|s| s.side.as_str()).collect();
        sides.dedup();
        sides.sort_unstable();
        sides.dedup();
        for side in sides {
            let mine: Vec<&Sample> = samples.iter().filter(|s| s.side == side).collect();
            out.push_str(&format!(
                "| {side} | {} | {} | {} | {} | {} |\n",
                mine.len(),
                spread(mine.iter().map(|s| s.actions).collect(), 0),
                spread(
                    mine.iter()
                        .filter_map(|s| s.ratio.map(|r| 100.0 * r))
                        .collect(),
                    1
                ),
                spread(mine.iter().map(|s| s.p99).collect(), 2),
                spread(mine.iter().filter_map(|s| s.pgbench).collect(), 0),
            ));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spread_gives_the_extremes_and_the_median() {
        assert_eq!(spread(vec![3.0, 1.0, 2.0], 0), "1–3 (2)");
        assert_eq!(spread(vec![4.0, 1.0, 2.0, 3.0], 1), "1.0–4.0 (2.5)");
        assert_eq!(spread(Vec::new(), 0), "n/a");
    }

    #[test]
    fn result_files_are_named_by_side_and_run() {
        assert_eq!(side_and_run("B-12.json"), Some(("B".into(), 12)));
        assert_eq!(side_and_run("A-x.json"), None);
        assert_eq!(side_and_run("labels.txt"), None);
    }

    #[test]
    fn runs_of_both_sides_are_summarized_per_point() {
        let dir = std::env::temp_dir().join(format!("ehealth-bench-ab-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for (file, actions, p99) in [
            ("A-1.json", 100.0, 9.0),
            ("B-1.json", 120.0, 8.0),
            ("A-2.json", 110.0, 10.0),
            ("B-2.json", 130.0, 7.0),
        ] {
            let result = serde_json::json!({ "load_1m_before": 0.5, "points": [
                { "scenario": "release", "clients": 64, "pgbench_tps": 1000.0, "actions_per_s": actions,
                  "ratio_to_pgbench": actions / 1000.0, "p99_ms": p99, "errors": 0 } ] });
            std::fs::write(dir.join(file), result.to_string()).unwrap();
        }
        let text = summary(&dir, "A = a, B = b").unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(text.contains("## release, 64 clients"), "{text}");
        assert!(text.contains("| A | 2 | 100–110 (105) | 10.0–11.0 (10.5) | 9.00–10.00 (9.50) | 1000–1000 (1000) |"), "{text}");
        assert!(text.contains("| B | 2 | 120–130 (125) |"), "{text}");
        let order: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("| 1 |") || l.starts_with("| 2 |"))
            .collect();
        assert_eq!(order.len(), 4);
        assert!(
            order[0].starts_with("| 1 | A") && order[1].starts_with("| 1 | B"),
            "{order:?}"
        );
    }
}
