//! The style profile, score and composer against the committed corpus of six fictional
//! dietitians (`tests/eval/style/`, written for this product). The targets of issue 15
//! for the offline composer: attribution ≥ 0.9 (each text's features are nearest its own
//! dietitian's profile) and separation ≥ 0.9 (its score against its own profile is above
//! every other dietitian's). The dietitians' own samples, each left out of its own
//! profile, must be told apart just as well: the profile measures people, not templates.
//! `scripts/eval-style` prints the same figures (and, with a key, a real model's).

use nutripro_shared::domain::style::eval::{
    composed, leave_one_out, written, CorpusDietitian, EvalBrief,
};
use nutripro_shared::domain::style::WarningCode;

fn load<T: serde::de::DeserializeOwned>(name: &str) -> T {
    let path = format!("{}/../tests/eval/style/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap())
        .unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn corpus() -> (Vec<CorpusDietitian>, Vec<EvalBrief>) {
    (load("dietitians.json"), load("briefs.json"))
}

#[test]
fn the_corpus_has_six_distinct_dietitians_with_five_samples_each() {
    let (dietitians, briefs) = corpus();
    assert!(dietitians.len() >= 6);
    assert!(dietitians.iter().all(|d| d.samples.len() >= 5));
    assert!(briefs.len() >= 8);
    // Written by people (here): no sample looks machine-written or out of place.
    for d in &dietitians {
        let style = d.style(None);
        let odd: Vec<_> = style
            .warnings
            .iter()
            .filter(|w| matches!(w.code, WarningCode::MachineWritten | WarningCode::Outlier))
            .collect();
        assert!(odd.is_empty(), "{}: {odd:?}", d.id);
    }
}

#[test]
fn each_dietitians_own_samples_are_attributed_to_them() {
    let (dietitians, _) = corpus();
    let result = leave_one_out(&dietitians);
    assert!(result.accuracy() >= 0.9, "{result:?}");
    assert!(result.separation() >= 0.9, "{result:?}");
}

#[test]
fn the_composer_writes_in_each_dietitians_voice() {
    let (dietitians, briefs) = corpus();
    let (result, _) = written(&dietitians, &briefs, |_, style, brief| {
        composed(style, brief, 2_400)
    });
    assert_eq!(result.texts, dietitians.len() * briefs.len());
    assert!(
        result.accuracy() >= 0.9,
        "attribution {:.3}: {:?}",
        result.accuracy(),
        result.misses
    );
    assert!(
        result.separation() >= 0.9,
        "separation {:.3}: {:?}",
        result.separation(),
        result.misses
    );
}
