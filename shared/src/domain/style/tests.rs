use super::compose::{compose, Brief, COMPOSER_MODEL};
use super::*;
use crate::domain::content::{ContentKind, DietitianId, Sample, SampleId};
use crate::domain::safety::ClientProfile;
use crate::domain::{TenantId, Timestamp};

fn sample(n: u32, kind: ContentKind, content: &str) -> Sample {
    let mut s = Sample::new(
        TenantId::new("t"),
        DietitianId::parse("dr-a").unwrap(),
        kind,
        None,
        content,
        Timestamp::from_millis(1_800_000_000_000),
    )
    .unwrap();
    s.id = SampleId::new(format!("{n:032x}"));
    s
}

const ANNA: [&str; 3] = [
    "Dear friend,\n\nWelcome to your plan! We'll take small, steady steps together. Let's start with breakfast!\n\nYou've got this 🌱\n\n— Anna",
    "Dear friend,\n\nSnacks aren't the enemy! We'll make them work for you. Small, steady steps.\n\nBe kind to yourself 🌱\n\n— Anna",
    "Dear friend,\n\nEating out is a joy! We'll keep it that way. Choose a dish you love, and share a dessert.\n\n— Anna",
];

#[test]
fn features_are_measured_on_the_body_of_a_known_text() {
    let f = TextFeatures::of(
        "Dear friend,\n\nWe will start today! Do you have oats? I think so; we'll see.\n\n\u{2013} Oats\n\u{2013} Milk\n\nSee you soon \u{2014} really... GREAT work.\n\nCheers,\nTom",
    );
    assert_eq!(f.opening.as_deref(), Some("Dear friend,"));
    assert_eq!(f.sign_off.as_deref(), Some("Cheers,\nTom"));
    // Body sentences: "We will start today!", "Do you have oats?", "I think so; we'll
    // see.", "Oats", "Milk", "See you soon — really...", "GREAT work."
    assert_eq!(f.sentences, 7);
    assert_eq!(f.value("exclamations"), round(1.0 / 7.0));
    assert_eq!(f.value("questions"), round(1.0 / 7.0));
    assert_eq!(f.value("semicolons"), round(1.0 / 7.0));
    assert_eq!(
        f.value("dashes"),
        round(1.0 / 7.0),
        "the em dash, not the list dashes"
    );
    assert_eq!(f.value("ellipses"), round(1.0 / 7.0));
    assert_eq!(f.value("list_lines"), 0.5, "2 of 4 lines");
    assert_eq!(f.words, 21);
    let per_100 = |n: f64| round(n * 100.0 / 21.0);
    assert_eq!(f.value("contractions_per_100_words"), per_100(1.0), "we'll");
    assert_eq!(f.value("capitals_per_100_words"), per_100(1.0), "GREAT");
    assert_eq!(f.value("first_singular_per_100_words"), per_100(1.0), "I");
    assert_eq!(
        f.value("first_plural_per_100_words"),
        per_100(2.0),
        "We, we'll"
    );
    assert_eq!(
        f.value("second_person_per_100_words"),
        per_100(2.0),
        "you, you"
    );
    assert_eq!(f.function_words["we"], 48.0, "1 of 21 words, per thousand");
}

fn round(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

#[test]
fn a_profile_keeps_recurring_openings_sign_offs_and_phrases() {
    let samples: Vec<Sample> = ANNA
        .iter()
        .enumerate()
        .map(|(i, c)| sample(i as u32 + 1, ContentKind::NutritionTips, c))
        .collect();
    let style = DietitianStyle::from_samples(&samples).unwrap();
    let p = &style.overall;
    assert_eq!(p.samples, 3);
    assert_eq!(p.openings[0].text, "Dear friend,");
    assert_eq!(p.openings[0].samples, 3);
    assert_eq!(p.sign_offs[0].text, "— Anna");
    assert!(
        p.phrases.iter().any(|r| r.text == "Small, steady steps"),
        "{:?}",
        p.phrases
    );
    assert_eq!(p.emoji, ["🌱"]);
    assert!(p.feature("exclamations") > 0.3);
    let guidance = p.guidance();
    for expected in [
        "Opens with \"Dear friend,\"",
        "Signs off \"— Anna\"",
        "writes as \"we\"",
        "exclamation marks often",
        "Uses emoji: 🌱",
        "\"Small, steady steps\"",
    ] {
        assert!(guidance.contains(expected), "{expected}: {guidance}");
    }
    assert_eq!(style.sample_ids.len(), 3);
    assert!(style.is_of(&[
        SampleId::new(format!("{:032x}", 3)),
        SampleId::new(format!("{:032x}", 1)),
        SampleId::new(format!("{:032x}", 2))
    ]));
    assert!(!style.is_of(&[SampleId::new(format!("{:032x}", 1))]));
    assert!(style.warnings.is_empty(), "{:?}", style.warnings);
}

#[test]
fn warnings_name_few_samples_mixed_kinds_machine_text_and_outliers() {
    let few =
        DietitianStyle::from_samples(&[sample(1, ContentKind::NutritionTips, ANNA[0])]).unwrap();
    assert_eq!(few.warnings[0].code, WarningCode::TooFewSamples);

    let machine = "Certainly! Here's a comprehensive plan. It's important to note that a holistic approach is a testament to your commitment. I hope this helps!";
    let mut samples: Vec<Sample> = ANNA
        .iter()
        .enumerate()
        .map(|(i, c)| sample(i as u32 + 1, ContentKind::NutritionTips, c))
        .collect();
    samples.push(sample(4, ContentKind::DietIntroduction, ANNA[0]));
    samples.push(sample(5, ContentKind::NutritionTips, machine));
    let style = DietitianStyle::from_samples(&samples).unwrap();
    let codes: Vec<(WarningCode, Option<&str>)> = style
        .warnings
        .iter()
        .map(|w| (w.code, w.sample_id.as_deref()))
        .collect();
    let fifth = format!("{:032x}", 5);
    assert!(
        codes.contains(&(WarningCode::MixedKinds, None)),
        "{codes:?}"
    );
    assert!(
        codes.contains(&(WarningCode::MachineWritten, Some(fifth.as_str()))),
        "{codes:?}"
    );
    assert!(
        codes.contains(&(WarningCode::Outlier, Some(fifth.as_str()))),
        "{codes:?}"
    );
    assert_eq!(
        codes
            .iter()
            .filter(|(c, _)| *c == WarningCode::Outlier)
            .count(),
        1,
        "only the odd one out: {codes:?}"
    );
}

#[test]
fn a_kind_with_enough_samples_has_its_own_profile() {
    let mut samples: Vec<Sample> = ANNA
        .iter()
        .enumerate()
        .map(|(i, c)| sample(i as u32 + 1, ContentKind::NutritionTips, c))
        .collect();
    samples.push(sample(
        9,
        ContentKind::MealPlanSummary,
        "Monday: soup. Tuesday: fish.",
    ));
    let style = DietitianStyle::from_samples(&samples).unwrap();
    assert_eq!(style.for_kind(ContentKind::NutritionTips).samples, 3);
    assert_eq!(
        style.for_kind(ContentKind::MealPlanSummary).samples,
        4,
        "overall"
    );
}

fn anna() -> DietitianStyle {
    let samples: Vec<Sample> = ANNA
        .iter()
        .enumerate()
        .map(|(i, c)| sample(i as u32 + 1, ContentKind::DietIntroduction, c))
        .collect();
    DietitianStyle::from_samples(&samples).unwrap()
}

#[test]
fn the_composer_is_deterministic_and_writes_the_facts_in_the_voice() {
    let style = anna();
    let input: serde_json::Map<String, serde_json::Value> = serde_json::from_str(
        r#"{"client":"Ruth","goal":"more energy","breakfast":"oats with pear"}"#,
    )
    .unwrap();
    let client: ClientProfile =
        serde_json::from_str(r#"{"allergies":["peanuts","sesame"],"diet_pattern":"vegan"}"#)
            .unwrap();
    let brief = Brief {
        kind: ContentKind::MealPlanSummary,
        input: &input,
        client: Some(&client),
        profile: Some(style.for_kind(ContentKind::MealPlanSummary)),
    };
    let text = compose(&brief, 4_000);
    assert_eq!(text, compose(&brief, 4_000), "deterministic");
    assert!(text.starts_with("Dear friend,\n\n"), "{text}");
    assert!(text.ends_with("\n\n— Anna"), "{text}");
    for fact in [
        "Ruth",
        "more energy",
        "oats with pear",
        "free of peanuts and sesame",
        "vegan",
    ] {
        assert!(text.contains(fact), "{fact}: {text}");
    }
    assert!(text.contains("🌱"));
    assert!(text.contains("we'll") || text.contains("We'll"), "{text}");
    assert!(text.contains('!'), "{text}");
    assert!(
        style_score(&text, style.for_kind(ContentKind::MealPlanSummary)) > 0.6,
        "{text}"
    );
    assert_eq!(COMPOSER_MODEL, "offline-style-composer (no LLM was called)");
    // Within max_tokens: whole paragraphs go first, the sign-off stays.
    let short = compose(&brief, 200);
    assert!(short.chars().count() <= 200, "{short}");
    assert!(short.ends_with("— Anna"), "{short}");
    // Without a profile: a neutral voice, still the facts.
    let neutral = compose(
        &Brief {
            profile: None,
            ..brief
        },
        4_000,
    );
    assert!(
        neutral.contains("Ruth") && neutral.contains("oats with pear"),
        "{neutral}"
    );
}

#[test]
fn a_text_by_its_author_scores_above_one_by_somebody_else() {
    let style = anna();
    let profile = style.for_kind(ContentKind::DietIntroduction);
    let hers = "Dear friend,\n\nLet's talk water! We'll keep a glass by the sink. Small, steady steps, remember?\n\nYou've got this 🌱\n\n— Anna";
    let his = "Dear patient,\n\nAn adequate intake of fluid is associated with improved concentration; it is recommended that approximately two litres are consumed daily.\n\nKind regards,\nDr. M. Lee, RD";
    let (a, b) = (style_score(hers, profile), style_score(his, profile));
    assert!(a > 0.6 && b < 0.4 && a > b, "hers {a}, his {b}");
    assert!((0.0..=1.0).contains(&a) && (0.0..=1.0).contains(&b));
    assert_eq!(StyleScore::of(hers, None), StyleScore::NONE);
    assert_eq!(StyleScore::of(hers, Some(profile)).profile_samples, 3);
}
