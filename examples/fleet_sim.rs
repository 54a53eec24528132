//! A fleet in an outage, measured: N clients against one server with a capacity, a 60-second
//! outage, every jitter shape alone, with the retry budget, with the circuit breaker, with
//! both; open and closed loop; averaged over seeds. Then AWS's contention experiment as a
//! check of the simulator. Deterministic, virtual time.
//!
//! ```text
//! cargo run --release --example fleet_sim                     # N = 1000, 5 seeds, tables
//! cargo run --release --example fleet_sim -- --plots docs/fleet # and the SVG plots
//! cargo run --release --example fleet_sim -- --clients 100 --seeds 1   # quick
//! cargo run --release --example fleet_sim -- --grid --plots docs/fleet # the scenario grid
//! ```
//!
//! `--grid` runs the tuning cells and the held-out cells (fixed in `support/fleet.rs` before
//! any tuning) for every policy of the field, and says per cell which meet the bar.

#[path = "support/fleet.rs"]
mod fleet;
#[path = "support/svg.rs"]
mod svg;

use fleet::{policies, run, Report, Setup, Workload};

const USAGE: &str = "usage: fleet_sim [--clients N] [--seeds S] [--plots DIR]
       fleet_sim --grid [--tuning | --held-out] [--jobs J] [--plots DIR]";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--grid") {
        grid::main(&args);
        return;
    }
    let mut args = args.into_iter();
    let (mut clients, mut seeds, mut plots) = (1000usize, 5u64, None::<String>);
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next()) {
            ("--clients", Some(n)) => clients = n.parse().expect("a number of clients"),
            ("--seeds", Some(n)) => seeds = n.parse().expect("a number of seeds"),
            ("--plots", Some(dir)) => plots = Some(dir),
            _ => {
                eprintln!("{USAGE}");
                std::process::exit(2);
            }
        }
    }
    let all = policies();
    let mut open_rows = Vec::new();
    for workload in [Workload::Open, Workload::Closed] {
        println!(
            "\n{workload:?} loop, N = {clients}, one request per client every 2 s, capacity {clients}/s, outage 60-120 s, mean of {seeds} seeds\n"
        );
        println!("| policy | calls in the outage | calls after, until drained | drain after recovery | peak calls/s | failed for good | overloaded |");
        println!("|---|---|---|---|---|---|---|");
        for fleet in &all {
            let reports: Vec<Report> =
                (0..seeds).map(|seed| run(&Setup::default_for(clients, workload, seed), fleet)).collect();
            let mean = |f: &dyn Fn(&Report) -> f64| reports.iter().map(f).sum::<f64>() / reports.len() as f64;
            let row = Row {
                name: fleet.name,
                outage: mean(&|r| r.calls_in_outage as f64),
                after: mean(&|r| r.calls_after as f64),
                drain_s: mean(&|r| r.drain_ms as f64 / 1000.0),
                peak: mean(&|r| f64::from(r.peak_per_s)),
                failed: mean(&|r| r.failed as f64),
                overloaded: mean(&|r| r.overloaded as f64),
            };
            println!(
                "| {} | {} | {} | {:.1} s | {} | {} | {} |",
                row.name,
                thousands(row.outage),
                thousands(row.after),
                row.drain_s,
                thousands(row.peak),
                thousands(row.failed),
                thousands(row.overloaded)
            );
            if workload == Workload::Open {
                open_rows.push(row);
            }
        }
    }
    verdict(&open_rows);

    println!("\nAWS's contention experiment: clients contending for one resource from t = 0, base 10 ms, cap 5 s (mean of 5 seeds): calls, and time until the last client succeeded\n");
    println!("| clients | no jitter | additive (jitter up to one base) | full | equal | decorrelated |");
    println!("|---|---|---|---|---|---|");
    let mut aws = Vec::new();
    for n in [10usize, 25, 50, 75, 100] {
        let mut line = format!("| {n} |");
        let mut row = Vec::new();
        for (_, jitter) in fleet::jitters() {
            let (calls, ms): (Vec<u64>, Vec<u64>) = (0..5).map(|s| fleet::contention(n, jitter, s)).unzip();
            let calls = calls.iter().sum::<u64>() as f64 / 5.0;
            let ms = ms.iter().sum::<u64>() as f64 / 5.0;
            line.push_str(&format!(" {} / {} ms |", thousands(calls), thousands(ms)));
            row.push((calls, ms));
        }
        println!("{line}");
        aws.push((n, row));
    }

    if let Some(dir) = plots {
        std::fs::create_dir_all(&dir).expect("the plots folder");
        let chosen = [
            ("preset (additive)", "preset"),
            ("preset (additive) + budget", "+ budget"),
            ("preset (additive) + breaker", "+ API_CLIENT breaker"),
            ("preset (additive) + FLEET breaker", "+ FLEET breaker"),
            ("full", "full jitter"),
        ];
        let mut series = Vec::new();
        for (name, label) in chosen {
            let fleet = all.iter().find(|p| p.name == name).expect("a policy of the comparison");
            let r = run(&Setup::default_for(clients, Workload::Open, 0), fleet);
            let points: Vec<(f64, f64)> =
                r.per_second.iter().enumerate().take(300).map(|(s, &c)| (s as f64, f64::from(c))).collect();
            series.push((format!("{label}: {} failed", thousands(r.failed as f64)), points));
        }
        let calls = svg::lines(
            &format!("Calls per second, N = {clients}, outage from 60 s to 120 s (open loop, seed 0)"),
            "time (s)",
            "calls per second",
            &series,
        );
        std::fs::write(format!("{dir}/calls-per-second.svg"), calls).expect("write the plot");
        let names: Vec<String> = open_rows.iter().map(|r| r.name.to_owned()).collect();
        let saved = svg::bars(
            &format!("Every policy in one outage, N = {clients} (open loop, mean of {seeds} seeds)"),
            &names,
            &[
                (
                    "calls during the outage (thousands)".to_owned(),
                    SAVED,
                    open_rows.iter().map(|r| r.outage / 1000.0).collect(),
                ),
                ("drain after recovery (s)".to_owned(), DRAIN, open_rows.iter().map(|r| r.drain_s).collect()),
                ("requests failed for good".to_owned(), FAILED, open_rows.iter().map(|r| r.failed).collect()),
            ],
        );
        std::fs::write(format!("{dir}/one-outage.svg"), saved).expect("write the plot");
        let aws_series: Vec<(String, Vec<(f64, f64)>)> = fleet::jitters()
            .iter()
            .enumerate()
            .map(|(i, (name, _))| {
                (name.to_string(), aws.iter().map(|(n, row)| (*n as f64, row[i].0)).collect())
            })
            .collect();
        let aws_plot = svg::lines(
            "AWS's experiment: calls until every client succeeds (none fails for good)",
            "contending clients",
            "calls",
            &aws_series,
        );
        std::fs::write(format!("{dir}/aws-contention.svg"), aws_plot).expect("write the plot");
        println!("\nplots written to {dir}/");
    }
}

struct Row {
    name: &'static str,
    outage: f64,
    after: f64,
    drain_s: f64,
    peak: f64,
    failed: f64,
    overloaded: f64,
}

/// The bars' colours: work sent, time, work lost.
const SAVED: &str = "#1f77b4";
const DRAIN: &str = "#7f7f7f";
const FAILED: &str = "#d62728";

/// `1 234 567`, rounded.
fn thousands(x: f64) -> String {
    let digits = format!("{:.0}", x.abs());
    let mut out = String::new();
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(' ');
        }
        out.push(d);
    }
    if x < -0.5 {
        out.insert(0, '-');
    }
    out
}

/// The bar (see `--grid`), checked on the open-loop numbers and printed.
fn verdict(rows: &[Row]) {
    let Some(preset) = rows.iter().find(|r| r.name == "preset (additive)") else { return };
    let fastest =
        rows.iter().filter(|r| r.failed <= preset.failed).map(|r| r.drain_s).fold(f64::INFINITY, f64::min);
    println!("\nagainst the bar (open loop): preset sends {} calls in the outage; fastest drain among policies failing no more than it: {fastest:.1} s", thousands(preset.outage));
    for r in rows {
        let third = r.outage <= preset.outage / 3.0;
        let no_more_failed = r.failed <= preset.failed;
        let drains = r.drain_s <= fastest * fleet::DRAIN_SLACK;
        if third && no_more_failed && drains {
            println!(
                "  meets it: {} ({:.1} % of the preset's calls, {:.1} s drain, {:.2}x the fastest)",
                r.name,
                100.0 * r.outage / preset.outage,
                r.drain_s,
                r.drain_s / fastest
            );
        }
    }
}

/// The scenario grid: tuning and held-out cells, every policy of the field, the bar.
mod grid {
    use std::time::Instant;

    use super::fleet::{self, bar, grid_policies, run_cells, Cell, Figures, FleetPolicy, Release};
    use super::svg;
    use backoff_core::BreakerPolicy;

    /// The candidates, fixed here; `FLEET_*` variables override the tuned one's fields.
    pub fn candidates() -> Vec<(&'static str, BreakerPolicy, Release)> {
        let env = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<u32>().ok());
        let mut tuned = BreakerPolicy::API_CLIENT;
        let set = |v: &mut u32, name: &str| {
            if let Some(x) = env(name) {
                *v = x;
            }
        };
        set(&mut tuned.break_ms, "FLEET_BREAK_MS");
        set(&mut tuned.max_break_ms, "FLEET_MAX_BREAK_MS");
        set(&mut tuned.release_spread_ms, "FLEET_RELEASE_MS");
        set(&mut tuned.window_ms, "FLEET_WINDOW_MS");
        if let Some(x) = env("FLEET_CONSECUTIVE") {
            tuned.consecutive_failures = x as u16;
        }
        if let Some(x) = env("FLEET_PERCENT") {
            tuned.failure_percent = x as u8;
        }
        if let Some(x) = env("FLEET_MIN_REQUESTS") {
            tuned.min_requests = x as u16;
        }
        if let Some(x) = env("FLEET_PROBES") {
            tuned.probes = x as u8;
        }
        let release = match env("FLEET_OPEN_PERCENT") {
            Some(percent) => Release::WithOpenTime { percent },
            None => Release::Breaker,
        };
        let mut out = vec![("preset + FLEET", fleet::FLEET, Release::Breaker)];
        if tuned != BreakerPolicy::API_CLIENT || release != Release::Breaker {
            out.push(("preset + tuned breaker", tuned, release));
        }
        out
    }

    pub fn main(args: &[String]) {
        let flag = |f: &str| args.iter().any(|a| a == f);
        let value = |f: &str| args.iter().position(|a| a == f).and_then(|i| args.get(i + 1));
        let jobs = value("--jobs").and_then(|v| v.parse().ok()).unwrap_or(2);
        let field = grid_policies(&candidates());
        let started = Instant::now();
        let mut runs = 0;
        let mut sets = Vec::new();
        if !flag("--held-out") {
            sets.push(("Tuning", fleet::tuning_cells(), fleet::TUNING_SEEDS));
        }
        if !flag("--tuning") {
            sets.push(("Held-out", fleet::held_out_cells(), fleet::HELD_OUT_SEEDS));
        }
        let mut done = Vec::new();
        for (title, cells, seeds) in sets {
            let set_start = Instant::now();
            let (figures, ran) = cached_run(value("--cache"), title, &cells, seeds.clone(), &field, jobs);
            runs += cells.len() * ran * seeds.clone().count();
            println!(
                "\n## {title} cells: {} cells, seeds {}..{} ({:.0} s)\n",
                cells.len(),
                seeds.start,
                seeds.end,
                set_start.elapsed().as_secs_f64()
            );
            summary(&cells, &field, &figures);
            per_cell(&cells, &field, &figures);
            done.push((title, cells, figures));
        }
        println!(
            "\n{runs} runs in {:.0} s on {jobs} threads (deterministic: the figures do not depend on the threads)",
            started.elapsed().as_secs_f64()
        );
        if let Some(dir) = value("--plots") {
            std::fs::create_dir_all(dir).expect("the plots folder");
            std::fs::write(format!("{dir}/grid.svg"), picture(&field, &done)).expect("write the plot");
            std::fs::write(format!("{dir}/saved-and-failed.svg"), saved_and_failed(&field, &done))
                .expect("write the plot");
            println!("plots written to {dir}/");
        }
    }

    type Done = (&'static str, Vec<Cell>, Vec<Vec<Figures>>);

    /// Which cells meet the bar, per breaker policy: a panel each, rows of N × server ×
    /// arrivals, columns of outage × load; in each square the calls during the outage as a
    /// share of the preset's and the requests failed for good.
    fn picture(field: &[FleetPolicy], done: &[Done]) -> String {
        let mut rows = Vec::new();
        for clients in fleet::SIZES {
            for server in fleet::SERVERS {
                for arrivals in fleet::ARRIVALS {
                    rows.push((clients, server, arrivals));
                }
            }
        }
        let mut columns = Vec::new();
        for outage_s in fleet::OUTAGES_S {
            for load in fleet::LOADS_PERCENT {
                columns.push((outage_s, load));
            }
        }
        let mut panels = Vec::new();
        for (p, policy) in field.iter().enumerate().filter(|(_, p)| p.breaker.is_some()) {
            let mut squares: Vec<Vec<Option<svg::Square>>> = vec![vec![None; columns.len()]; rows.len()];
            for (title, cells, figures) in done {
                for (cell, row) in cells.iter().zip(figures) {
                    let r = rows
                        .iter()
                        .position(|&(n, s, a)| n == cell.clients && s == cell.server && a == cell.arrivals);
                    let c = columns.iter().position(|&(o, l)| o == cell.outage_s && l == cell.load_percent);
                    let (Some(r), Some(c)) = (r, c) else { continue };
                    let v = bar(cell, row, &row[p]);
                    let fill = if v.met() {
                        "#7bc67b"
                    } else if !v.fails_no_more || v.a_third_of_the_calls == Some(false) {
                        "#e06666"
                    } else if v.within_spare_capacity {
                        "#f6d16b"
                    } else {
                        "#f0a35e"
                    };
                    squares[r][c] = Some(svg::Square {
                        fill,
                        lines: [format!("{:.0} %", 100.0 * v.calls_ratio), format!("{:.0} ✗", row[p].failed.mean)],
                        title: format!(
                            "{} ({title}): {}; calls in the outage {:.0} % of the preset's, drain {:.2}× the fastest ({} {:.1} s), {:.0} failed for good (preset {:.0})",
                            cell.name(),
                            v.code(),
                            100.0 * v.calls_ratio,
                            v.drain_ratio,
                            v.fastest,
                            v.fastest_s,
                            row[p].failed.mean,
                            row.iter().find(|f| f.name == fleet::PRESET).map_or(0.0, |f| f.failed.mean)
                        ),
                        outlined: *title == "Tuning",
                    });
                }
            }
            panels.push((policy.name.to_owned(), squares));
        }
        let row_names: Vec<String> = rows
            .iter()
            .map(|&(n, s, a)| {
                let cell = Cell { outage_s: 0, load_percent: 0, clients: n, server: s, arrivals: a };
                cell.name()
                    .split_once(' ')
                    .map(|(_, rest)| rest.split_once(' ').map_or("", |x| x.1).to_owned())
                    .unwrap_or_default()
            })
            .collect();
        let column_names: Vec<String> = columns.iter().map(|&(_, l)| format!("{l} %")).collect();
        let groups: Vec<(String, usize)> =
            fleet::OUTAGES_S.iter().map(|o| (format!("outage {o} s"), fleet::LOADS_PERCENT.len())).collect();
        svg::matrix(
            "The bar per cell (columns: outage and load; rows: fleet size, server, arrivals)",
            &panels,
            &row_names,
            &column_names,
            &groups,
            &[
                ("#7bc67b", "meets the bar (in each square: calls during the outage as % of the preset's; requests failed for good ✗)"),
                ("#f6d16b", "misses (c) only, within 1.25× of the spare-capacity drain: the fastest drains sooner by failing requests"),
                ("#f0a35e", "misses (c) only, slower than that too"),
                ("#e06666", "misses (a) fails more than the preset, or (b) over a third of its calls"),
                ("#f4f4f4", "not in the grid (N = 5 000: one factor at a time and the hard corners only); dark border: a tuning cell"),
            ],
        )
    }

    /// What each policy saved beside what it failed, over the held-out cells: calls during the
    /// outage as a share of the preset's (outages of 30 s or more), and requests failed for good.
    fn saved_and_failed(field: &[FleetPolicy], done: &[Done]) -> String {
        let Some((_, cells, figures)) = done.iter().find(|d| d.0 == "Held-out") else {
            return String::new();
        };
        let names: Vec<String> = field.iter().map(|p| p.name.to_owned()).collect();
        let mut calls = Vec::new();
        let mut failed = Vec::new();
        let mut met = Vec::new();
        for p in 0..field.len() {
            let (mut share, mut n, mut lost, mut ok) = (0.0, 0.0, 0.0, 0.0);
            for (cell, row) in cells.iter().zip(figures) {
                let v = bar(cell, row, &row[p]);
                if cell.outage_s >= 30 {
                    share += 100.0 * v.calls_ratio;
                    n += 1.0;
                }
                lost += row[p].failed.mean;
                ok += f64::from(u8::from(v.met()));
            }
            calls.push(share / n);
            failed.push(lost / 1000.0);
            met.push(ok);
        }
        svg::bars(
            &format!("Saved and lost, over the {} held-out cells", cells.len()),
            &names,
            &[
                ("calls during the outage, % of the preset's (mean)".to_owned(), super::SAVED, calls),
                ("requests failed for good (thousands, sum)".to_owned(), super::FAILED, failed),
                ("cells meeting the bar".to_owned(), super::DRAIN, met),
            ],
        )
    }

    /// `run_cells`, taking the figures of any policy but the tuned candidate from `cache` (a
    /// file this writes) when it has them: for tuning, where only the candidate changes.
    fn cached_run(
        cache: Option<&String>,
        title: &str,
        cells: &[Cell],
        seeds: std::ops::Range<u64>,
        field: &[FleetPolicy],
        jobs: usize,
    ) -> (Vec<Vec<Figures>>, usize) {
        let Some(path) = cache else { return (run_cells(cells, seeds, field, jobs), field.len()) };
        let key = |cell: &Cell, policy: &str| format!("{title}|{}|{policy}|{}", cell.name(), seeds.start);
        let mut stored = std::collections::HashMap::new();
        for line in std::fs::read_to_string(path).unwrap_or_default().lines() {
            let mut parts = line.split('\t');
            let (Some(k), Some(v)) = (parts.next(), parts.next()) else { continue };
            let v: Vec<f64> = v.split(' ').filter_map(|x| x.parse().ok()).collect();
            if v.len() == 12 {
                stored.insert(k.to_owned(), v);
            }
        }
        let missing: Vec<FleetPolicy> = field
            .iter()
            .filter(|p| {
                p.name == "preset + tuned breaker"
                    || cells.iter().any(|c| !stored.contains_key(&key(c, p.name)))
            })
            .copied()
            .collect();
        let fresh = run_cells(cells, seeds.clone(), &missing, jobs);
        let spread = |v: &[f64]| fleet::Spread { mean: v[0], min: v[1], max: v[2] };
        let mut out = Vec::new();
        let mut lines = String::new();
        for (c, cell) in cells.iter().enumerate() {
            let mut row = Vec::new();
            for policy in field {
                let figures = match missing.iter().position(|m| m.name == policy.name) {
                    Some(m) => fresh[c][m].clone(),
                    None => {
                        let v = &stored[&key(cell, policy.name)];
                        Figures {
                            name: policy.name,
                            outage: spread(&v[0..3]),
                            drain_s: spread(&v[3..6]),
                            failed: spread(&v[6..9]),
                            after: spread(&v[9..12]),
                        }
                    }
                };
                if policy.name != "preset + tuned breaker" {
                    let f = &figures;
                    let all = [f.outage, f.drain_s, f.failed, f.after];
                    let v: Vec<String> =
                        all.iter().flat_map(|s| [s.mean, s.min, s.max]).map(|x| x.to_string()).collect();
                    lines.push_str(&format!("{}\t{}\n", key(cell, policy.name), v.join(" ")));
                }
                row.push(figures);
            }
            out.push(row);
        }
        let mut old: Vec<String> = std::fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .filter(|l| !l.starts_with(&format!("{title}|")))
            .map(str::to_owned)
            .collect();
        old.push(lines);
        std::fs::write(path, old.join("\n")).expect("write the cache");
        (out, missing.len())
    }

    /// Per policy: the cells that meet the bar, and which part the others miss.
    fn summary(cells: &[Cell], field: &[FleetPolicy], figures: &[Vec<Figures>]) {
        println!("| policy | cells meeting the bar | (a) fails more | (b) over a third of the calls | (c) drains slower than 1.25× | of which within 1.25× of the spare-capacity drain (c*) |");
        println!("|---|---|---|---|---|---|");
        for (p, policy) in field.iter().enumerate() {
            let (mut met, mut a, mut b, mut c, mut star) = (0, 0, 0, 0, 0);
            for (cell, row) in cells.iter().zip(figures) {
                let v = bar(cell, row, &row[p]);
                met += usize::from(v.met());
                a += usize::from(!v.fails_no_more);
                b += usize::from(v.a_third_of_the_calls == Some(false));
                c += usize::from(!v.drains_in_time);
                star += usize::from(!v.drains_in_time && v.within_spare_capacity);
            }
            println!("| {} | {met} of {} | {a} | {b} | {c} | {star} |", policy.name, cells.len());
        }
    }

    /// Per cell: the preset's figures with their spread over the seeds, the fastest drain
    /// allowed, and each breaker policy's figures and bar.
    fn per_cell(cells: &[Cell], field: &[FleetPolicy], figures: &[Vec<Figures>]) {
        let judged: Vec<usize> = (0..field.len()).filter(|&p| field[p].breaker.is_some()).collect();
        let mut header =
            String::from("\n| cell | preset: calls in outage | drain s | failed | fastest failing no more | spare-capacity drain |");
        let mut rule = String::from("|---|---|---|---|---|---|");
        for &p in &judged {
            header.push_str(&format!(" {}: calls, drain ×, failed, bar |", field[p].name));
            rule.push_str("---|");
        }
        println!("{header}\n{rule}");
        for (cell, row) in cells.iter().zip(figures) {
            let preset = row.iter().find(|f| f.name == fleet::PRESET).expect("the preset");
            let v0 = bar(cell, row, preset);
            let mut line = format!(
                "| {} | {:.0} | {:.1} ({:.0}–{:.0}) | {:.0} ({:.0}–{:.0}) | {} {:.1} s | {:.0} s |",
                cell.name(),
                preset.outage.mean,
                preset.drain_s.mean,
                preset.drain_s.min,
                preset.drain_s.max,
                preset.failed.mean,
                preset.failed.min,
                preset.failed.max,
                v0.fastest,
                v0.fastest_s,
                cell.spare_capacity_drain_s()
            );
            for &p in &judged {
                let f = &row[p];
                let v = bar(cell, row, f);
                line.push_str(&format!(
                    " {:.0} %, {:.2}× ({:.0}–{:.0} s), {:.0} ({:.0}–{:.0}), **{}** |",
                    100.0 * v.calls_ratio,
                    v.drain_ratio,
                    f.drain_s.min,
                    f.drain_s.max,
                    f.failed.mean,
                    f.failed.min,
                    f.failed.max,
                    v.code()
                ));
            }
            println!("{line}");
        }
    }
}
