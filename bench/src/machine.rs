//! What a report must say about where it was measured: the machine (cores, CPU model), how busy it
//! already was (the load average), the PostgreSQL server and the build under test.

/// The first `model name` of `/proc/cpuinfo` (Linux), or `unknown`.
pub fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| model_name(&text))
        .unwrap_or_else(|| "unknown".into())
}

fn model_name(cpuinfo: &str) -> Option<String> {
    cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, model)| model.trim().to_string())
}

/// Logical CPUs this process may run on.
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The 1-, 5- and 15-minute load averages (`/proc/loadavg`), as printed by `uptime`.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|text| {
            text.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_else(|| "n/a".into())
}

/// The 1-minute load average alone, for the JSON results.
pub fn load_1m() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// The command the run was started with: the script's, when a script started it
/// (`EHEALTH_BENCH_COMMAND`), else this program's own command line.
pub fn command_line() -> String {
    std::env::var("EHEALTH_BENCH_COMMAND")
        .ok()
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| std::env::args().collect::<Vec<_>>().join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_model_is_the_first_model_name_line() {
        let text = "processor\t: 0\nmodel name\t: AMD EPYC 7B13\nprocessor\t: 1\nmodel name\t: AMD EPYC 7B13\n";
        assert_eq!(model_name(text).as_deref(), Some("AMD EPYC 7B13"));
        assert_eq!(model_name("processor : 0\n"), None);
    }
}
