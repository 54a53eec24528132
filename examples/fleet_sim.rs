//! A fleet in an outage, measured: N clients against one server with a capacity, a 60-second
//! outage, every jitter shape alone, with the retry budget, with the circuit breaker, with
//! both; open and closed loop; averaged over seeds. Then AWS's contention experiment as a
//! check of the simulator. Deterministic, virtual time.
//!
//! ```text
//! cargo run --release --example fleet_sim                     # N = 1000, 3 seeds, tables
//! cargo run --release --example fleet_sim -- --plots docs/fleet # and the SVG plots
//! cargo run --release --example fleet_sim -- --clients 100 --seeds 1   # quick
//! ```

#[path = "support/fleet.rs"]
mod fleet;
#[path = "support/svg.rs"]
mod svg;

use fleet::{policies, run, Report, Setup, Workload};

fn main() {
    let mut args = std::env::args().skip(1);
    let (mut clients, mut seeds, mut plots) = (1000usize, 3u64, None::<String>);
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next()) {
            ("--clients", Some(n)) => clients = n.parse().expect("a number of clients"),
            ("--seeds", Some(n)) => seeds = n.parse().expect("a number of seeds"),
            ("--plots", Some(dir)) => plots = Some(dir),
            _ => {
                eprintln!("usage: fleet_sim [--clients N] [--seeds S] [--plots DIR]");
                std::process::exit(2);
            }
        }
    }
    let all = policies();
    let mut open_rows = Vec::new();
    for workload in [Workload::Open, Workload::Closed] {
        println!(
            "\n{workload:?} loop, N = {clients}, one request per client every 2 s, capacity {clients}/s, outage 60-120 s, mean of {seeds} seeds"
        );
        println!(
            "{:<34} {:>12} {:>11} {:>9} {:>8} {:>8} {:>10}",
            "policy", "outage calls", "after calls", "drain s", "peak/s", "failed", "overloaded"
        );
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
                "{:<34} {:>12.0} {:>11.0} {:>9.1} {:>8.0} {:>8.1} {:>10.0}",
                row.name, row.outage, row.after, row.drain_s, row.peak, row.failed, row.overloaded
            );
            if workload == Workload::Open {
                open_rows.push(row);
            }
        }
    }
    verdict(&open_rows);

    println!("\nAWS's contention experiment: clients contending for one resource from t = 0, base 10 ms, cap 5 s (mean of 5 seeds)");
    println!("calls / time until the last client succeeded");
    println!(
        "{:<10} {:>18} {:>18} {:>18} {:>18} {:>18}",
        "clients", "no jitter", "additive", "full", "equal", "decorrelated"
    );
    let mut aws = Vec::new();
    for n in [10usize, 25, 50, 75, 100] {
        let mut line = format!("{n:<10}");
        let mut row = Vec::new();
        for (_, jitter) in fleet::jitters() {
            let (calls, ms): (Vec<u64>, Vec<u64>) = (0..5).map(|s| fleet::contention(n, jitter, s)).unzip();
            let calls = calls.iter().sum::<u64>() as f64 / 5.0;
            let ms = ms.iter().sum::<u64>() as f64 / 5.0;
            line.push_str(&format!(" {calls:>7.0} / {ms:>6.0} ms"));
            row.push((calls, ms));
        }
        println!("{line}");
        aws.push((n, row));
    }

    if let Some(dir) = plots {
        std::fs::create_dir_all(&dir).expect("the plots folder");
        let chosen = [
            "preset (additive)",
            "preset (additive) + budget",
            "preset (additive) + breaker",
            "full",
            "no jitter",
        ];
        let mut series = Vec::new();
        for name in chosen {
            let fleet = all.iter().find(|p| p.name == name).expect("a policy of the comparison");
            let r = run(&Setup::default_for(clients, Workload::Open, 0), fleet);
            let points: Vec<(f64, f64)> =
                r.per_second.iter().enumerate().take(300).map(|(s, &c)| (s as f64, f64::from(c))).collect();
            series.push((name.to_owned(), points));
        }
        let calls = svg::lines(
            &format!("Calls per second, N = {clients}, outage from 60 s to 120 s (open loop, seed 0)"),
            "time (s)",
            "calls per second",
            &series,
        );
        std::fs::write(format!("{dir}/calls-per-second.svg"), calls).expect("write the plot");
        let points: Vec<(String, f64, f64)> =
            open_rows.iter().map(|r| (r.name.to_owned(), r.outage + r.after, r.drain_s)).collect();
        let scatter = svg::scatter(
            &format!("Work and completion for every policy, N = {clients} (open loop)"),
            "calls during the outage and until drained",
            "drain time after recovery (s)",
            &points,
        );
        std::fs::write(format!("{dir}/work-vs-completion.svg"), scatter).expect("write the plot");
        let aws_series: Vec<(String, Vec<(f64, f64)>)> = fleet::jitters()
            .iter()
            .enumerate()
            .map(|(i, (name, _))| {
                (name.to_string(), aws.iter().map(|(n, row)| (*n as f64, row[i].0)).collect())
            })
            .collect();
        let aws_plot = svg::lines(
            "AWS's experiment: calls until every client succeeds",
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

/// The issue's bar, checked on the open-loop numbers and printed.
fn verdict(rows: &[Row]) {
    let Some(preset) = rows.iter().find(|r| r.name == "preset (additive)") else { return };
    let fastest = rows.iter().filter(|r| r.failed == 0.0).map(|r| r.drain_s).fold(f64::INFINITY, f64::min);
    println!("\nagainst the bar (open loop): preset sends {:.0} calls in the outage; fastest drain among policies failing nothing: {fastest:.1} s", preset.outage);
    for r in rows {
        let third = r.outage <= preset.outage / 3.0;
        let none_failed = r.failed <= preset.failed;
        let drains = r.drain_s <= fastest * 1.1;
        if third && none_failed && drains {
            println!(
                "  meets it: {} ({:.0} calls = {:.0} % of the preset's, {:.1} s drain)",
                r.name,
                r.outage,
                100.0 * r.outage / preset.outage,
                r.drain_s
            );
        }
    }
}
