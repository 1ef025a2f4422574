use super::*;

fn profile(allergies: &[Allergen]) -> ClientProfile {
    ClientProfile {
        allergies: allergies.to_vec(),
        ..Default::default()
    }
}

fn codes(text: &str, profile: &ClientProfile) -> Vec<&'static str> {
    check_output(text, profile, &SafetyThresholds::default(), "You are a writing assistant for a registered dietitian. You write new texts for the dietitian's clients.")
        .iter()
        .map(|f| f.code.as_str())
        .collect()
}

#[test]
fn allergens_are_found_in_words_plurals_and_compounds() {
    let peanuts = profile(&[Allergen::Peanuts]);
    for text in [
        "Spread some peanut butter on your toast.",
        "A handful of peanuts makes a great snack.",
        "Try the chicken satay with rice.",
        "Cook with groundnut oil for flavour.",
        "Peanut-crusted tofu is on Tuesday.",
    ] {
        assert_eq!(codes(text, &peanuts), ["allergen-conflict"], "{text}");
    }
    let nuts = profile(&[Allergen::TreeNuts]);
    for text in [
        "Pour almond milk over your oats.",
        "Top the yogurt with chopped walnuts.",
        "A slice of marzipan on Sunday.",
        "Blend cashews into a creamy sauce.",
    ] {
        assert_eq!(codes(text, &nuts), ["allergen-conflict"], "{text}");
    }
    let milk = profile(&[Allergen::Milk]);
    assert_eq!(
        codes("Finish with a spoon of Greek yogurt.", &milk),
        ["allergen-conflict"]
    );
    assert_eq!(
        codes("Grate some cheddar over the beans.", &milk),
        ["allergen-conflict"]
    );
    let gluten = profile(&[Allergen::Gluten]);
    assert_eq!(
        codes("Serve it with couscous or bulgur.", &gluten),
        ["allergen-conflict", "allergen-conflict"]
    );
}

#[test]
fn negations_and_substitutions_are_not_recommendations() {
    let all = profile(&Allergen::ALL);
    for text in [
        "Choose peanut-free snacks at school.",
        "Avoid peanuts and tree nuts completely.",
        "No cheese on this plan, please.",
        "Use rice milk instead of almond milk.",
        "Gluten-free bread works well for sandwiches.",
        "Replace the butter with olive oil.",
        "Swap cheese for avocado slices.",
        "This week's menu is free of milk, eggs and wheat.",
        "Because of your peanut allergy, we keep all nuts out.",
        "Dairy-free yogurt with berries is a lovely breakfast.",
        "Vegan cheese melts nicely on a baked potato.",
        "Skip the mayo and season with lemon.",
        "Steer clear of shrimp, crab and lobster.",
        "Never add sesame oil to your dressings.",
        "Your meals contain no fish or shellfish.",
        "Cook in eggplant-friendly olive oil.",
        "Butternut squash soup with nutmeg and coconut milk.",
        "Buckwheat noodles with coconut milk and ginger.",
    ] {
        assert_eq!(codes(text, &all), Vec::<&str>::new(), "{text}");
    }
}

#[test]
fn a_substitute_is_recommended_and_a_second_clause_is_read_on_its_own() {
    let nuts = profile(&[Allergen::TreeNuts]);
    assert_eq!(
        codes("Replace the oat milk with almond milk.", &nuts),
        ["allergen-conflict"]
    );
    assert_eq!(
        codes("Avoid peanuts; cashews are fine.", &nuts),
        ["allergen-conflict"]
    );
    assert_eq!(
        codes("No peanuts, but enjoy a few walnuts.", &nuts),
        ["allergen-conflict"]
    );
    assert_eq!(
        codes("Substitute almond flour for wheat flour.", &nuts),
        ["allergen-conflict"]
    );
    assert_eq!(
        codes("Substitute rice flour for almond flour.", &nuts),
        Vec::<&str>::new()
    );
    let milk = profile(&[Allergen::Milk]);
    // Lactose-free milk is still milk.
    assert_eq!(
        codes("Lactose-free milk in your coffee is fine.", &milk),
        ["allergen-conflict"]
    );
    // A gluten-free pizza still has cheese.
    assert_eq!(
        codes("Have a gluten-free pizza on Friday.", &milk),
        ["allergen-conflict"]
    );
}

#[test]
fn daily_intakes_under_the_floor_are_found_and_other_numbers_are_not() {
    let adult = ClientProfile::default();
    for text in [
        "Aim for 800 kcal a day for the first week.",
        "Eat 1,000 calories per day.",
        "A 900-calorie daily plan keeps things simple.",
        "Keep your intake to 1100 kcal daily.",
        "Stick to 1,000–1,400 kcal a day.",
        "Eat less than 1,000 calories a day.",
        "Your target is 4,000 kJ a day.",
    ] {
        assert_eq!(codes(text, &adult), ["calorie-floor"], "{text}");
    }
    for text in [
        "Aim for 1,800 kcal a day.",
        "Breakfast is about 400 kcal.",
        "A brisk walk burns 300 calories.",
        "A 500-calorie deficit a day is plenty.",
        "Eat 500 kcal less per day than you burn.",
        "Never go below 1,200 calories a day.",
        "Diets under 800 kcal a day are dangerous without supervision.",
        "Each snack is 150 calories.",
        "This recipe has 450 calories per serving.",
        "Eat at least 1,000 kcal before noon.",
    ] {
        assert_eq!(codes(text, &adult), Vec::<&str>::new(), "{text}");
    }
    let teen = ClientProfile {
        age_years: Some(15),
        ..Default::default()
    };
    assert_eq!(codes("Aim for 1,400 kcal a day.", &teen), ["calorie-floor"]);
}

#[test]
fn dangerous_practices_are_found_unless_warned_against() {
    let anyone = ClientProfile::default();
    for text in [
        "Try a 3-day water fast to kickstart things.",
        "Fast for 72 hours once a month.",
        "Skip breakfast and lunch to lose weight faster.",
        "A gentle laxative each night will help you slim down.",
        "Diet pills can speed things up.",
        "Start Monday with a detox cleanse.",
        "If you overeat, make yourself sick afterwards.",
    ] {
        assert_eq!(codes(text, &anyone), ["dangerous-practice"], "{text}");
    }
    for text in [
        "Never skip meals: regular meals keep your energy steady.",
        "You don't need a detox cleanse; your liver does that job.",
        "Avoid laxatives for weight loss, they are harmful.",
        "Try a 12-hour overnight fast between dinner and breakfast.",
        "Under medical supervision, a 2-day fast before your procedure is standard.",
        "Lose weight without skipping meals.",
    ] {
        assert_eq!(codes(text, &anyone), Vec::<&str>::new(), "{text}");
    }
}

#[test]
fn medical_claims_warn_and_hedged_ones_do_not() {
    let anyone = ClientProfile::default();
    let findings = check_output(
        "Cinnamon cures diabetes.",
        &anyone,
        &SafetyThresholds::default(),
        "x",
    );
    assert_eq!(findings.len(), 1);
    assert_eq!(
        (findings[0].code, findings[0].severity),
        (FindingCode::MedicalClaim, Severity::Warn)
    );
    assert_eq!(
        SafetyReport::from_findings(findings).status,
        SafetyStatus::Flagged
    );
    for text in [
        "No food cures diabetes, but fibre helps steady blood sugar.",
        "Work with your doctor to treat your high blood pressure.",
        "This plan supports you while you manage diabetes.",
    ] {
        assert_eq!(codes(text, &anyone), Vec::<&str>::new(), "{text}");
    }
}

#[test]
fn prompt_leaks_are_found() {
    let anyone = ClientProfile::default();
    assert_eq!(
        codes("Here you go: <style_example n=\"1\">Dear…", &anyone),
        ["prompt-leak"]
    );
    assert_eq!(
        codes(
            "My instructions: You are a writing assistant for a registered dietitian.",
            &anyone
        ),
        ["prompt-leak"]
    );
    assert_eq!(
        codes("A registered dietitian wrote this plan for you.", &anyone),
        Vec::<&str>::new()
    );
}

#[test]
fn prechecks_refuse_unsafe_requests() {
    let thresholds = SafetyThresholds::default();
    let code_set = |p: &ClientProfile| -> Vec<&'static str> {
        precheck(p, &thresholds)
            .iter()
            .map(|f| f.code.as_str())
            .collect()
    };
    let teen = ClientProfile {
        age_years: Some(15),
        calorie_target_kcal: Some(600),
        weekly_weight_change_kg: Some(-5.0),
        allergies: vec![Allergen::Peanuts],
        ..Default::default()
    };
    assert_eq!(
        code_set(&teen),
        ["calorie-target", "minor-weight-loss", "loss-rate"]
    );
    let pregnant = ClientProfile {
        pregnant: Some(true),
        weekly_weight_change_kg: Some(-0.2),
        calorie_target_kcal: Some(1_500),
        ..Default::default()
    };
    assert_eq!(
        code_set(&pregnant),
        ["calorie-target", "pregnancy-weight-loss"]
    );
    let adult = ClientProfile {
        age_years: Some(40),
        calorie_target_kcal: Some(1_200),
        weekly_weight_change_kg: Some(-1.0),
        ..Default::default()
    };
    assert!(code_set(&adult).is_empty());
    let fast = ClientProfile {
        weekly_weight_change_kg: Some(-1.5),
        ..Default::default()
    };
    assert_eq!(code_set(&fast), ["loss-rate"]);
    let tight = SafetyThresholds {
        adult_calorie_floor_kcal: 1_500,
        ..thresholds
    };
    assert_eq!(precheck(&adult, &tight)[0].code, FindingCode::CalorieTarget);
}

#[test]
fn thresholds_may_tighten_never_loosen_and_profiles_are_bounded() {
    assert!(SafetyThresholds::default().validate().is_ok());
    for loose in [
        SafetyThresholds {
            adult_calorie_floor_kcal: 1_000,
            ..Default::default()
        },
        SafetyThresholds {
            minor_calorie_floor_kcal: 1_400,
            ..Default::default()
        },
        SafetyThresholds {
            max_weekly_loss_g: 1_500,
            ..Default::default()
        },
    ] {
        assert!(loose.validate().is_err(), "{loose:?}");
    }
    assert!(SafetyThresholds {
        adult_calorie_floor_kcal: 1_500,
        max_weekly_loss_g: 500,
        ..Default::default()
    }
    .validate()
    .is_ok());
    let bad: ClientProfile = serde_json::from_str(r#"{"age_years": 121}"#).unwrap();
    assert!(bad.validate().is_err());
    assert!(serde_json::from_str::<ClientProfile>(r#"{"allergies": ["kiwi"]}"#).is_err());
    assert!(serde_json::from_str::<ClientProfile>(r#"{"diet": "keto"}"#).is_err());
    let twice: ClientProfile = serde_json::from_str(r#"{"allergies": ["milk", "milk"]}"#).unwrap();
    assert!(twice.validate().is_err());
}
