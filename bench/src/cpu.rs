//! CPU time by process, from `/proc` (Linux): the service, PostgreSQL's processes and the load
//! generator itself. On a machine shared with other work, throughput and latency move by tens of
//! percent from one minute to the next; the CPU each action costs moves much less, so the report
//! gives both.

/// CPU seconds (user + system) of the three parties, read at one moment.
#[derive(Debug, Clone, Copy, Default)]
pub struct Reading {
    pub service: f64,
    pub postgres: f64,
    pub generator: f64,
    /// All CPUs' busy time (user, nice, system, irq, softirq, steal), from `/proc/stat`.
    pub machine_busy: f64,
    pub machine_total: f64,
}

fn ticks_per_second() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as f64
    } else {
        100.0
    }
}

/// (comm, utime + stime in seconds) of one process.
fn process(pid: &str) -> Option<(String, f64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // "pid (comm) state ppid …": comm may hold spaces, so split after its closing parenthesis.
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let comm = stat[open + 1..close].to_string();
    let fields: Vec<&str> = stat[close + 2..].split_whitespace().collect();
    // Fields 14 and 15 of the line (utime, stime) are the 12th and 13th after the comm.
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((comm, (utime + stime) / ticks_per_second()))
}

/// CPU seconds of every process named `postgres` (the server and all its backends, where the
/// server runs on this machine; exited backends are not counted, so the benchmark keeps its
/// connections open across a point).
fn postgres() -> f64 {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return 0.0;
    };
    dir.filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|name| name.bytes().all(|b| b.is_ascii_digit()))
        .filter_map(|pid| process(&pid))
        .filter(|(comm, _)| comm == "postgres")
        .map(|(_, secs)| secs)
        .sum()
}

fn machine() -> (f64, f64) {
    let Ok(stat) = std::fs::read_to_string("/proc/stat") else {
        return (0.0, 0.0);
    };
    let Some(cpu) = stat.lines().next() else {
        return (0.0, 0.0);
    };
    let v: Vec<f64> = cpu
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    let total: f64 = v.iter().take(8).sum();
    let idle = v.get(3).copied().unwrap_or(0.0) + v.get(4).copied().unwrap_or(0.0);
    let hz = ticks_per_second();
    ((total - idle) / hz, total / hz)
}

pub fn read(service_pid: Option<u32>) -> Reading {
    let (machine_busy, machine_total) = machine();
    Reading {
        service: service_pid
            .and_then(|pid| process(&pid.to_string()))
            .map_or(0.0, |(_, s)| s),
        postgres: postgres(),
        generator: process("self").map_or(0.0, |(_, s)| s),
        machine_busy,
        machine_total,
    }
}

/// CPU per action over a point, in milliseconds, and how busy the machine was.
#[derive(Debug, Clone, Copy, Default)]
pub struct PerAction {
    pub service_ms: f64,
    pub postgres_ms: f64,
    pub generator_ms: f64,
    pub busy_percent: f64,
}

pub fn per_action(before: Reading, after: Reading, actions: usize) -> PerAction {
    let n = actions.max(1) as f64;
    let total = (after.machine_total - before.machine_total).max(f64::EPSILON);
    PerAction {
        service_ms: 1000.0 * (after.service - before.service) / n,
        postgres_ms: 1000.0 * (after.postgres - before.postgres) / n,
        generator_ms: 1000.0 * (after.generator - before.generator) / n,
        busy_percent: 100.0 * (after.machine_busy - before.machine_busy) / total,
    }
}
