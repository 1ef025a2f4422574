//! `scripts/eval-style`: the style profile, score and composer against the corpus of
//! fictional dietitians in `tests/eval/style/`.
//!
//! ```text
//! eval_style [--show] [--openai]
//! ```
//!
//! Prints, for the dietitians' own samples (each left out of its own profile) and for
//! the composer's texts (every dietitian × every brief): attribution accuracy (the text's
//! features are nearest its own dietitian's profile), separation (its score against its
//! own profile is above every other dietitian's) and the scores' distributions. With
//! `--openai` (and `OPENAI_API_KEY`, optionally `OPENAI_BASE_URL` and `OPENAI_MODEL`) the
//! same for a real model given the product's prompt. `--show` prints the texts.

use nutripro_shared::domain::content::{build_prompt, StylePrompt};
use nutripro_shared::domain::style::eval::{
    composed, leave_one_out, written, Attribution, CorpusDietitian, EvalBrief,
};
use std::process::ExitCode;

fn load<T: serde::de::DeserializeOwned>(name: &str) -> Result<T, String> {
    let path = format!("{}/../tests/eval/style/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
    serde_json::from_str(&text).map_err(|e| format!("{path}: {e}"))
}

fn quantile(values: &[f64], q: f64) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

fn report(name: &str, result: &Attribution) {
    println!("{name}: {} texts", result.texts);
    println!(
        "  attribution (nearest profile is its own): {}/{} = {:.3}",
        result.nearest_own,
        result.texts,
        result.accuracy()
    );
    println!(
        "  separation (own score above every other): {}/{} = {:.3}",
        result.own_above_all,
        result.texts,
        result.separation()
    );
    for (label, scores) in [("own", &result.own_scores), ("other", &result.other_scores)] {
        println!(
            "  {label:>5} scores: min {:.3}  p10 {:.3}  median {:.3}  p90 {:.3}  max {:.3}  (n={})",
            quantile(scores, 0.0),
            quantile(scores, 0.1),
            quantile(scores, 0.5),
            quantile(scores, 0.9),
            quantile(scores, 1.0),
            scores.len()
        );
    }
    for (own, index, nearest, own_score, other) in &result.misses {
        println!("  miss: {own} text {index}: nearest {nearest}; own score {own_score:.3}, best other {other:.3}");
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let show = args.iter().any(|a| a == "--show");
    let (dietitians, briefs): (Vec<CorpusDietitian>, Vec<EvalBrief>) =
        match (load("dietitians.json"), load("briefs.json")) {
            (Ok(d), Ok(b)) => (d, b),
            (Err(e), _) | (_, Err(e)) => {
                eprintln!("{e}");
                return ExitCode::FAILURE;
            }
        };
    println!(
        "corpus: {} dietitians, {} samples, {} briefs",
        dietitians.len(),
        dietitians.iter().map(|d| d.samples.len()).sum::<usize>(),
        briefs.len()
    );
    report(
        "dietitians' own samples (leave one out)",
        &leave_one_out(&dietitians),
    );
    let (result, texts) = written(&dietitians, &briefs, |_, style, brief| {
        composed(style, brief, 2_400)
    });
    report("offline style composer", &result);
    if show {
        for (dietitian, text) in &texts {
            println!("----- {dietitian}\n{text}\n");
        }
    }
    timing(&dietitians, &briefs);
    if let Some(id) = args
        .iter()
        .position(|a| a == "--explain")
        .and_then(|i| args.get(i + 1))
    {
        explain(&dietitians, &briefs, id);
    }
    if args.iter().any(|a| a == "--openai") {
        return openai(&dietitians, &briefs, show);
    }
    // Also show what the prompt's style guidance says for each dietitian.
    if show {
        for d in &dietitians {
            let style = d.style(None);
            let (_, user) = build_prompt(
                briefs[0].kind,
                &serde_json::to_string(&briefs[0].input).unwrap_or_default(),
                "",
                &[],
                Some(&StylePrompt::of(&style, briefs[0].kind)),
            );
            println!("===== prompt for {}\n{user}", d.id);
        }
    }
    ExitCode::SUCCESS
}

/// What the style work costs: a profile from the most samples a dietitian may have (50,
/// built from the corpus's texts, ~6,000 words), the score of a ~2,000-token text, one
/// composed text.
fn timing(dietitians: &[CorpusDietitian], briefs: &[EvalBrief]) {
    use nutripro_shared::domain::content::{DietitianId, Sample, SampleId};
    use nutripro_shared::domain::style::{style_score, DietitianStyle};
    use nutripro_shared::domain::{TenantId, Timestamp};
    use std::hint::black_box;
    use std::time::Instant;
    let texts: Vec<(&str, nutripro_shared::domain::content::ContentKind)> = dietitians
        .iter()
        .flat_map(|d| d.samples.iter().map(|s| (s.content.as_str(), s.kind)))
        .collect();
    let samples: Vec<Sample> = texts
        .iter()
        .cycle()
        .take(50)
        .enumerate()
        .map(|(i, (content, kind))| {
            let mut s = Sample::new(
                TenantId::new("t"),
                DietitianId::new("d"),
                *kind,
                None,
                content,
                Timestamp::from_millis(1_800_000_000_000),
            )
            .expect("valid");
            s.id = SampleId::new(format!("{i:032x}"));
            s
        })
        .collect();
    let words: usize = samples
        .iter()
        .map(|s| s.content.split_whitespace().count())
        .sum();
    let time = |rounds: u32, mut f: Box<dyn FnMut()>| {
        let mut runs: Vec<f64> = (0..rounds)
            .map(|_| {
                let started = Instant::now();
                f();
                started.elapsed().as_secs_f64() * 1e3
            })
            .collect();
        runs.sort_by(f64::total_cmp);
        (runs[runs.len() / 2], runs[runs.len() * 95 / 100])
    };
    let (p50, p95) = time(
        30,
        Box::new(|| {
            black_box(DietitianStyle::from_samples(black_box(&samples)));
        }),
    );
    println!(
        "timing: profile of 50 samples ({words} words), 30 runs: p50 {p50:.2} ms, p95 {p95:.2} ms"
    );
    let style = DietitianStyle::from_samples(&samples).expect("samples");
    let long: String = texts
        .iter()
        .map(|(t, _)| *t)
        .cycle()
        .take(25)
        .collect::<Vec<_>>()
        .join("\n\n");
    let long_words = long.split_whitespace().count();
    let (p50, p95) = time(
        200,
        Box::new(|| {
            black_box(style_score(black_box(&long), &style.overall));
        }),
    );
    println!("timing: style score of a {long_words}-word text, 200 runs: p50 {p50:.3} ms, p95 {p95:.3} ms");
    let (p50, p95) = time(
        200,
        Box::new(|| {
            black_box(composed(&style, &briefs[0], 2_400));
        }),
    );
    println!("timing: one composed text, 200 runs: p50 {p50:.3} ms, p95 {p95:.3} ms");
}

/// For one dietitian: each composed text's features beside the profile's, and the
/// distance to every profile (tuning aid).
fn explain(dietitians: &[CorpusDietitian], briefs: &[EvalBrief], id: &str) {
    use nutripro_shared::domain::style::{distance, TextFeatures, NUMERIC};
    let Some(d) = dietitians.iter().find(|d| d.id == id) else {
        eprintln!("no dietitian {id}");
        return;
    };
    let style = d.style(None);
    for brief in briefs {
        let text = composed(&style, brief, 2_400);
        let features = TextFeatures::of(&text);
        let profile = style.for_kind(brief.kind);
        println!("== {} {}", d.id, brief.kind);
        for (name, unit) in NUMERIC {
            let spread = profile.spread.get(name).copied().unwrap_or(0.0);
            let z = (features.value(name) - profile.feature(name)).abs() / (unit + spread);
            println!(
                "  {name:<32} text {:>7.3}  profile {:>7.3}  z {z:>5.2}",
                features.value(name),
                profile.feature(name)
            );
        }
        for other in dietitians {
            let s = other.style(None);
            println!(
                "  distance to {:<12} {:.3}",
                other.id,
                distance(&features, s.for_kind(brief.kind))
            );
        }
    }
}

/// The same evaluation with a real OpenAI-compatible model and the product's prompt.
fn openai(dietitians: &[CorpusDietitian], briefs: &[EvalBrief], show: bool) -> ExitCode {
    use nutripro_shared::adapters::openai::{OpenAiClient, OpenAiConfig};
    use nutripro_shared::ports::llm::{ChatMessage, CompletionRequest, LlmProvider, Role};
    use nutripro_shared::ports::secrets::{Secret, StaticSecret};
    use std::sync::Arc;
    use std::time::{Duration, Instant};
    let Ok(key) = std::env::var("OPENAI_API_KEY") else {
        eprintln!("--openai needs OPENAI_API_KEY (and optionally OPENAI_BASE_URL, OPENAI_MODEL)");
        return ExitCode::from(2);
    };
    let mut config = OpenAiConfig::default();
    if let Ok(url) = std::env::var("OPENAI_BASE_URL") {
        config.base_url = url;
    }
    let model = std::env::var("OPENAI_MODEL").unwrap_or_else(|_| "gpt-4o-mini".into());
    let client = match OpenAiClient::new(config, Arc::new(StaticSecret::new(Secret::new(&key)))) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("OpenAI client: {e}");
            return ExitCode::FAILURE;
        }
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let mut failures = 0;
    let (result, texts) = written(dietitians, briefs, |dietitian, style, brief| {
        let samples = dietitian.samples_without(None);
        let examples: Vec<_> = samples
            .iter()
            .filter(|s| s.kind == brief.kind)
            .take(3)
            .cloned()
            .collect();
        let (system, user) = build_prompt(
            brief.kind,
            &serde_json::to_string(&brief.input).unwrap_or_default(),
            &brief
                .client
                .as_ref()
                .and_then(|c| serde_json::to_string(c).ok())
                .unwrap_or_default(),
            &examples,
            Some(&StylePrompt::of(style, brief.kind)),
        );
        let request = CompletionRequest {
            model: model.clone(),
            messages: vec![
                ChatMessage::new(Role::System, system),
                ChatMessage::new(Role::User, user),
            ],
            max_tokens: 600,
            brief: None,
        };
        runtime
            .block_on(client.complete(&request, Instant::now() + Duration::from_secs(60)))
            .map(|c| c.content)
            .unwrap_or_else(|e| {
                failures += 1;
                eprintln!("{}: {e}", dietitian.id);
                String::new()
            })
    });
    report(&format!("{model} with the product's prompt"), &result);
    if show {
        for (dietitian, text) in &texts {
            println!("----- {dietitian}\n{text}\n");
        }
    }
    if failures > 0 {
        eprintln!("{failures} model calls failed");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
