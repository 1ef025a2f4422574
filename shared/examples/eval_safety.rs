//! `scripts/eval-safety`: scores the output checks against labelled corpora and times them.
//!
//! ```text
//! eval_safety [--mistakes] CORPUS.jsonl...   per-code precision/recall, false positives, timing
//! eval_safety --check TEXT [CLIENT_JSON]      the findings for one text
//! ```
//!
//! Deterministic: the same corpus gives the same figures on every machine; only the
//! timings vary.

use nutripro_shared::domain::content::SYSTEM_PROMPT;
use nutripro_shared::domain::safety::eval::{evaluate, EvalCase, EvalReport};
use nutripro_shared::domain::safety::{check_output, ClientProfile, SafetyThresholds};
use std::hint::black_box;
use std::process::ExitCode;
use std::time::Instant;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("--check") => check(&args[1..]),
        Some("-h" | "--help") | None => {
            eprintln!(
                "usage: eval_safety [--mistakes] CORPUS.jsonl... | --check TEXT [CLIENT_JSON]"
            );
            ExitCode::from(2)
        }
        Some(_) => {
            let mistakes = args.iter().any(|a| a == "--mistakes");
            let files: Vec<&String> = args.iter().filter(|a| !a.starts_with("--")).collect();
            let mut all = Vec::new();
            for file in files {
                match load(file) {
                    Ok(cases) => {
                        report(file, &cases, mistakes);
                        all.extend(cases);
                    }
                    Err(error) => {
                        eprintln!("{file}: {error}");
                        return ExitCode::FAILURE;
                    }
                }
            }
            timing(&all);
            ExitCode::SUCCESS
        }
    }
}

fn load(path: &str) -> Result<Vec<EvalCase>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(n, line)| serde_json::from_str(line).map_err(|e| format!("line {}: {e}", n + 1)))
        .collect()
}

fn check(args: &[String]) -> ExitCode {
    let Some(text) = args.first() else {
        eprintln!("--check needs a text");
        return ExitCode::from(2);
    };
    let client: ClientProfile = match args.get(1).map(|json| serde_json::from_str(json)) {
        None => ClientProfile::default(),
        Some(Ok(client)) => client,
        Some(Err(error)) => {
            eprintln!("client: {error}");
            return ExitCode::from(2);
        }
    };
    let findings = check_output(text, &client, &SafetyThresholds::default(), SYSTEM_PROMPT);
    println!(
        "{}",
        serde_json::to_string_pretty(&findings).expect("findings serialize")
    );
    ExitCode::SUCCESS
}

fn report(name: &str, cases: &[EvalCase], show_mistakes: bool) {
    let result: EvalReport = evaluate(cases, &SafetyThresholds::default(), SYSTEM_PROMPT);
    println!(
        "{name}: {} texts ({} labelled unsafe, {} safe)",
        result.cases,
        result.cases - result.safe_texts as usize,
        result.safe_texts
    );
    println!(
        "  {:<24} {:>9} {:>9} {:>6} {:>6} {:>6}",
        "code", "precision", "recall", "tp", "fp", "fn"
    );
    for (code, score) in &result.per_code {
        println!(
            "  {:<24} {:>9.3} {:>9.3} {:>6} {:>6} {:>6}",
            code.as_str(),
            score.precision(),
            score.recall(),
            score.true_positives,
            score.false_positives,
            score.false_negatives
        );
    }
    println!(
        "  false positives on safe texts: {}/{} = {:.1}%",
        result.safe_flagged,
        result.safe_texts,
        result.false_positive_rate() * 100.0
    );
    println!("  texts not labelled as found: {}", result.mistakes.len());
    if show_mistakes {
        for (text, expected, found) in &result.mistakes {
            println!("    expected {expected:?}, found {found:?}: {text}");
        }
    }
}

/// The cost of the checks per generation, for a ~2,000-token text (1,500 words: a long
/// meal plan) with a full client profile, built two ways from the corpus's own
/// sentences: *typical* from the safe texts only (what most generations look like), and
/// *dense* from every text (most sentences hold a finding, so every check does its most
/// work: the worst case). Then the corpus's short texts one by one.
fn timing(cases: &[EvalCase]) {
    if cases.is_empty() {
        return;
    }
    let client: ClientProfile = serde_json::from_value(serde_json::json!({
        "age_years": 34, "allergies": ["peanuts", "tree_nuts", "milk", "gluten", "sesame"],
        "calorie_target_kcal": 1800, "weekly_weight_change_kg": -0.5, "diet_pattern": "vegetarian"
    }))
    .expect("a valid profile");
    let thresholds = SafetyThresholds::default();
    let safe: Vec<&EvalCase> = cases.iter().filter(|c| c.expect.is_empty()).collect();
    let all: Vec<&EvalCase> = cases.iter().collect();
    for (name, pool) in [("typical", safe), ("dense", all)] {
        if pool.is_empty() {
            continue;
        }
        let mut long = String::new();
        for case in pool.iter().cycle() {
            if long.split_whitespace().count() >= 1_500 {
                break;
            }
            long.push_str(&case.text);
            long.push(' ');
        }
        let words = long.split_whitespace().count();
        let findings = check_output(&long, &client, &thresholds, SYSTEM_PROMPT).len();
        let rounds = 300;
        let mut samples = Vec::with_capacity(rounds);
        for _ in 0..rounds {
            let started = Instant::now();
            black_box(check_output(
                black_box(&long),
                &client,
                &thresholds,
                SYSTEM_PROMPT,
            ));
            samples.push(started.elapsed().as_secs_f64() * 1e3);
        }
        samples.sort_by(f64::total_cmp);
        let at = |q: f64| samples[((samples.len() - 1) as f64 * q) as usize];
        println!(
            "timing, {name}: {words} words ({} bytes, ~{} tokens, {findings} findings), {rounds} runs: p50 {:.3} ms, p95 {:.3} ms, max {:.3} ms",
            long.len(),
            long.len() / 4,
            at(0.5),
            at(0.95),
            at(1.0)
        );
    }
    let started = Instant::now();
    for case in cases {
        black_box(check_output(
            black_box(&case.text),
            &case.client,
            &thresholds,
            SYSTEM_PROMPT,
        ));
    }
    let total = started.elapsed().as_secs_f64() * 1e6;
    println!(
        "timing, short texts: {} in {:.0} µs ({:.1} µs each)",
        cases.len(),
        total,
        total / cases.len() as f64
    );
}
