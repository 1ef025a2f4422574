//! The style composer: local mode's writer when no model is configured. It writes a real,
//! readable text of each kind from the request's facts (the client, goals, meals,
//! items, the client profile) in the dietitian's measured voice: their opening or
//! lead-in, sign-off, person ("we", "I", or impersonal), register, sentence rhythm,
//! punctuation habits, contractions, capitals, emoji, dash lists and recurring phrases.
//! Deterministic: the same brief and profile give the same text. It never calls a model
//! and says so in the generation's `model`.

use super::profile::StyleProfile;
use crate::domain::content::ContentKind;
use crate::domain::safety::{ClientProfile, DietPattern};
use serde_json::{Map, Value};

pub const COMPOSER_MODEL: &str = "offline-style-composer (no LLM was called)";

/// What to write.
#[derive(Debug, Clone, Copy)]
pub struct Brief<'a> {
    pub kind: ContentKind,
    pub input: &'a Map<String, Value>,
    pub client: Option<&'a ClientProfile>,
    /// The dietitian's profile for this kind; `None`: a neutral, warm voice.
    pub profile: Option<&'a StyleProfile>,
}

/// Who speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Person {
    /// "we", "let's" (and "you").
    We,
    /// "I" (and "you").
    I,
    /// To the reader, in the imperative: "start with breakfast".
    You,
    /// Impersonal and formal: "it is recommended".
    Formal,
}

/// The measured habits the composer imitates.
#[derive(Debug, Clone)]
struct Voice {
    person: Person,
    sentence_words: f64,
    exclamations: f64,
    questions: f64,
    ellipses: f64,
    dashes: f64,
    semicolons: f64,
    parentheses: f64,
    contractions: bool,
    capitals: f64,
    lists: bool,
    emoji: Option<String>,
    opening: Option<String>,
    lead_in: Option<String>,
    sign_off: String,
    phrases: Vec<String>,
}

impl Voice {
    fn of(profile: Option<&StyleProfile>) -> Self {
        let Some(p) = profile else {
            return Self {
                person: Person::We,
                sentence_words: 13.0,
                exclamations: 0.0,
                questions: 0.0,
                ellipses: 0.0,
                dashes: 0.0,
                semicolons: 0.0,
                parentheses: 0.0,
                contractions: true,
                capitals: 0.0,
                lists: false,
                emoji: None,
                opening: Some("Hello,".into()),
                lead_in: None,
                sign_off: "Best wishes,\nYour dietitian".into(),
                phrases: Vec::new(),
            };
        };
        let f = |name: &str| p.feature(name);
        let (singular, plural) = (
            f("first_singular_per_100_words"),
            f("first_plural_per_100_words"),
        );
        // "I" only for a voice that tells its own stories (a few per hundred words).
        let person = if singular >= 3.0 && singular >= plural {
            Person::I
        } else if f("formality") >= 0.6 && f("contractions_per_100_words") < 0.5 {
            Person::Formal
        } else if plural >= 1.5 {
            Person::We
        } else {
            Person::You
        };
        Self {
            person,
            sentence_words: f("sentence_words").max(3.0),
            exclamations: f("exclamations"),
            questions: f("questions"),
            ellipses: f("ellipses"),
            dashes: f("dashes"),
            semicolons: f("semicolons"),
            parentheses: f("parentheses"),
            contractions: f("contractions_per_100_words") >= 1.5,
            capitals: f("capitals_per_100_words"),
            lists: f("list_lines") >= 0.3,
            emoji: p.emoji.first().cloned(),
            opening: p.openings.first().map(|o| o.text.clone()),
            lead_in: if p.openings.is_empty() {
                p.lead_ins.first().map(|l| l.text.clone())
            } else {
                None
            },
            sign_off: p
                .sign_offs
                .first()
                .map(|s| s.text.clone())
                .unwrap_or_else(|| "Best wishes,\nYour dietitian".into()),
            // Phrases that start a sentence in the samples can stand as one here, unless
            // they are the lead-in again or end mid-thought ("Right then, let's").
            phrases: p
                .phrases
                .iter()
                .filter(|r| r.text.starts_with(char::is_uppercase))
                .filter(|r| {
                    let lower = r.text.to_lowercase();
                    !p.lead_ins
                        .iter()
                        .chain(&p.openings)
                        .chain(&p.sign_offs)
                        .any(|l| {
                            let l = l.text.to_lowercase();
                            let l = l.trim_end_matches([',', '!', '.']);
                            lower.starts_with(l) || l.starts_with(lower.as_str())
                        })
                })
                .filter(|r| {
                    let last = r
                        .text
                        .split_whitespace()
                        .last()
                        .unwrap_or("")
                        .to_lowercase();
                    let last = last.trim_matches(|c: char| !c.is_alphanumeric() && c != '\'');
                    !super::FUNCTION_WORDS.contains(&last) && !last.contains('\'')
                })
                .take(2)
                .map(|r| r.text.clone())
                .collect(),
        }
    }
}

/// FNV-1a: a stable choice among variants.
fn hash(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for b in part.bytes().chain([0xff]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

/// The request's facts, read from its `input` (any keys; these are understood).
#[derive(Debug, Default)]
struct Facts {
    name: Option<String>,
    goal: Option<String>,
    plan: Option<String>,
    topic: Option<String>,
    notes: Option<String>,
    budget: Option<String>,
    items: Vec<String>,
    meals: Vec<(String, String)>,
    other: Vec<(String, String)>,
}

fn text_of(value: &Value) -> Option<String> {
    match value {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().filter_map(text_of).collect();
            (!parts.is_empty()).then(|| parts.join(", "))
        }
        _ => None,
    }
}

impl Facts {
    fn of(input: &Map<String, Value>) -> Self {
        let mut facts = Facts::default();
        for (key, value) in input {
            let Some(text) = text_of(value) else { continue };
            let text = text.trim_end_matches(['.', '!']).to_owned();
            match key.to_lowercase().as_str() {
                "client" | "name" | "client_name" => facts.name = Some(text),
                "goal" | "goals" => facts.goal = Some(text),
                "plan" | "diet" => facts.plan = Some(text),
                "topic" | "subject" => facts.topic = Some(text),
                "notes" | "note" | "context" => facts.notes = Some(text),
                "budget" => facts.budget = Some(text),
                "items" | "shopping_list" | "list" => {
                    facts.items = text
                        .split(',')
                        .map(|i| i.trim().to_owned())
                        .filter(|i| !i.is_empty())
                        .collect();
                }
                meal @ ("breakfast" | "lunch" | "dinner" | "supper" | "snack" | "snacks") => {
                    facts.meals.push((meal.to_owned(), text));
                }
                _ => facts.other.push((key.replace('_', " "), text)),
            }
        }
        facts
    }
}

fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Lower-cases the first letter of one of our own sentences continued by another ("I"
/// stays "I").
fn lower_first(text: &str) -> String {
    let first = text.split_whitespace().next().unwrap_or("");
    if first == "I" || first.starts_with("I'") {
        return text.to_owned();
    }
    let mut chars = text.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Lower-cases the first letter of a fact from the input continuing a sentence — but
/// only for a common word: a name or a proper adjective ("Mediterranean", "Ann") keeps
/// its capital.
fn decapitalise(text: &str) -> String {
    const COMMON: &[&str] = &[
        "a",
        "an",
        "the",
        "more",
        "less",
        "lose",
        "losing",
        "eat",
        "eating",
        "drink",
        "drinking",
        "cook",
        "cooking",
        "get",
        "have",
        "improve",
        "improving",
        "lower",
        "reduce",
        "reducing",
        "gain",
        "build",
        "feel",
        "sleep",
        "snacking",
        "fewer",
        "better",
        "three",
        "two",
        "one",
        "four",
        "five",
        "works",
        "forgets",
        "shops",
        "tight",
        "small",
        "this",
        "that",
        "my",
        "our",
        "your",
        "keep",
        "plan",
        "here",
        "let's",
        "every",
        "each",
        "all",
        "no",
        "some",
        "porridge",
        "oats",
        "lentil",
        "baked",
        "vegetarian",
        "vegan",
        "for",
        "with",
        "on",
        "in",
        "at",
        "to",
        "we",
        "you",
        "it",
        "is",
    ];
    let first = text.split([' ', ',']).next().unwrap_or("");
    if !COMMON.contains(&first.to_lowercase().as_str()) {
        return text.to_owned();
    }
    let mut chars = text.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn allergen_list(client: &ClientProfile) -> Option<String> {
    let labels: Vec<&str> = client.allergies.iter().map(|a| a.label()).collect();
    match labels.as_slice() {
        [] => None,
        [one] => Some((*one).to_owned()),
        [init @ .., last] => Some(format!("{} and {last}", init.join(", "))),
    }
}

fn pattern_word(pattern: DietPattern) -> &'static str {
    match pattern {
        DietPattern::Omnivore => "balanced",
        DietPattern::Vegetarian => "vegetarian",
        DietPattern::Vegan => "vegan",
        DietPattern::Pescatarian => "pescatarian",
    }
}

/// One sentence in the making: its words and how it ends.
#[derive(Debug, Clone)]
struct Line {
    text: String,
    /// Part of a dash list rather than prose.
    item: bool,
}

fn say(text: impl Into<String>) -> Line {
    Line {
        text: text.into(),
        item: false,
    }
}

fn item(text: impl Into<String>) -> Line {
    Line {
        text: text.into(),
        item: true,
    }
}

/// Sentences for the brief, in the voice's person, before rhythm and punctuation.
fn content(brief: &Brief<'_>, facts: &Facts, voice: &Voice, seed: u64) -> Vec<Line> {
    let formal = voice.person == Person::Formal;
    let we = match voice.person {
        Person::We => "we",
        Person::I => "I",
        Person::You => "you",
        Person::Formal => "the plan",
    };
    let pick = |options: &[&str], salt: u64| -> String {
        options[((seed ^ salt.wrapping_mul(0x9e37_79b9)) % options.len() as u64) as usize]
            .to_owned()
    };
    let mut lines: Vec<Line> = Vec::new();
    let name = facts.name.clone();
    let for_name = name
        .as_deref()
        .map(|n| format!(", {n}"))
        .unwrap_or_default();
    // The opening sentence: what this text is.
    let intro = match (brief.kind, formal) {
        (ContentKind::DietIntroduction, false) => pick(
            &[
                &format!("Welcome to your new plan{for_name}"),
                &format!("Here is where your new plan begins{for_name}"),
            ],
            1,
        ),
        (ContentKind::DietIntroduction, true) => format!(
            "This letter introduces the dietary programme prepared for you{}",
            name.as_deref()
                .map(|n| format!(", {n}"))
                .unwrap_or_default()
        ),
        (ContentKind::MealPlanSummary, false) => {
            format!("Here is your plan for the week{for_name}")
        }
        (ContentKind::MealPlanSummary, true) => {
            "The plan below summarises the meals agreed for the coming week".into()
        }
        (ContentKind::NutritionTips, false) => match &facts.topic {
            Some(topic) => format!("Let's talk about {}{for_name}", decapitalise(topic)),
            None => format!("A few tips for this week{for_name}"),
        },
        (ContentKind::NutritionTips, true) => match &facts.topic {
            Some(topic) => format!("The following advice concerns {}", decapitalise(topic)),
            None => "The following advice is provided for the coming weeks".into(),
        },
        (ContentKind::ShoppingListNotes, false) => {
            format!("A few notes for your shopping trip{for_name}")
        }
        (ContentKind::ShoppingListNotes, true) => {
            "The notes below accompany the enclosed shopping list".into()
        }
    };
    lines.push(say(if voice.person == Person::I {
        intro.replace("Let's talk about", "I want to talk about")
    } else {
        intro
    }));
    if let Some(goal) = &facts.goal {
        lines.push(say(if formal {
            format!("Its principal objective is {}", decapitalise(goal))
        } else {
            match voice.person {
                Person::I => format!(
                    "I know your goal is {}, and I have kept it in mind",
                    decapitalise(goal)
                ),
                Person::You => format!("Your goal: {}", decapitalise(goal)),
                _ => format!(
                    "Your goal is {}, and {we} will work towards it step by step",
                    decapitalise(goal)
                ),
            }
        }));
    }
    if let Some(plan) = &facts.plan {
        lines.push(say(if formal {
            format!(
                "The programme follows this structure: {}",
                decapitalise(plan)
            )
        } else {
            format!("The plan is {}", decapitalise(plan))
        }));
    }
    if let Some(notes) = &facts.notes {
        lines.push(say(match voice.person {
            Person::Formal => format!(
                "Account has been taken of the following: {}",
                decapitalise(notes)
            ),
            Person::I => format!("I have noted this: {}", decapitalise(notes)),
            Person::We => format!("We have noted this: {}", decapitalise(notes)),
            Person::You => format!("Noted: {}", decapitalise(notes)),
        }));
    }
    // The body, by kind.
    match brief.kind {
        ContentKind::DietIntroduction => {
            let steps: &[&str] = if formal {
                &[
                    "It is recommended that meals are taken at regular intervals",
                    "Changes should be introduced gradually, as this supports adherence",
                    "Progress will be reviewed at the next appointment",
                ]
            } else {
                match voice.person {
                    Person::You => &[
                        "Start with breakfast",
                        "Eat a proper breakfast every day",
                        "Add vegetables to lunch and dinner",
                        "Drink water with every meal",
                        "Check in at the end of the week",
                    ],
                    Person::I => &[
                        "I would like us to start with breakfast, because a good morning makes the rest of the day easier",
                        "I will not hand you a list of rules; small changes that last are worth more",
                        "Tell me how the first week goes; I genuinely want to know",
                    ],
                    _ => &[
                        "This week, we'll start with breakfast",
                        "A proper breakfast keeps you going until lunch",
                        "We'll add one extra portion of vegetables each day",
                        "We'll check in at the end of the week and see how you feel",
                    ],
                }
            };
            lines.extend(steps.iter().map(|s| say(*s)));
        }
        ContentKind::MealPlanSummary => {
            if facts.meals.is_empty() {
                lines.push(say(if formal {
                    "Each day comprises three principal meals and one optional snack"
                } else {
                    "Each day has three meals and a snack"
                }));
            }
            lines.extend(meal_lines(facts, voice));
            lines.push(say(if formal {
                "Substitutions within each food group are permitted"
            } else {
                "Swap anything you don't fancy for something similar"
            }));
        }
        ContentKind::NutritionTips => {
            let tips: &[&str] = if formal {
                &[
                    "It is advisable to keep water within reach throughout the day",
                    "Meals should be planned in advance where possible",
                    "Vegetables should make up approximately half of each plate",
                ]
            } else {
                &[
                    "Keep a bottle of water where you can see it",
                    "Plan tomorrow's snacks tonight, so you're not caught out",
                    "Fill half your plate with vegetables",
                    "Eat slowly and stop when you're satisfied",
                ]
            };
            let start = (seed % 2) as usize;
            for tip in tips.iter().cycle().skip(start).take(3) {
                lines.push(if voice.lists { item(*tip) } else { say(*tip) });
            }
        }
        ContentKind::ShoppingListNotes => {
            if !facts.items.is_empty() {
                if voice.lists {
                    for chunk in facts.items.chunks(3) {
                        lines.push(item(capitalise(&chunk.join(", "))));
                    }
                } else {
                    lines.push(say(if formal {
                        format!("The list comprises {}", facts.items.join(", "))
                    } else {
                        format!("On the list: {}", facts.items.join(", "))
                    }));
                }
            }
            if let Some(budget) = &facts.budget {
                lines.push(say(if formal {
                    format!("The budget has been noted as {}; tinned and frozen produce are of comparable value", decapitalise(budget))
                } else {
                    format!("With a {} budget, frozen vegetables and tins are your friends", decapitalise(budget))
                }));
            }
            lines.push(say(if formal {
                "Nutrition labels should be compared per 100 grams"
            } else {
                "Fill half the basket with fruit and vegetables"
            }));
        }
    }
    // Meals named for another kind of text are facts too.
    if brief.kind != ContentKind::MealPlanSummary {
        lines.extend(meal_lines(facts, voice));
    }
    for (key, value) in &facts.other {
        lines.push(say(format!("{}: {}", capitalise(key), value)));
    }
    if let Some(client) = brief.client {
        if let Some(allergens) = allergen_list(client) {
            lines.push(say(if formal {
                format!("All recommendations are free of {allergens}")
            } else {
                format!("Everything here is free of {allergens}")
            }));
        }
        if let Some(pattern) = client.diet_pattern.filter(|p| *p != DietPattern::Omnivore) {
            lines.push(say(if formal {
                format!("All meals are {}", pattern_word(pattern))
            } else {
                format!("Every meal is {}", pattern_word(pattern))
            }));
        }
        if let Some(kcal) = client.calorie_target_kcal {
            lines.push(say(format!("The plan provides about {kcal} kcal a day")));
        }
        if client.pregnant == Some(true) {
            lines.push(say(if formal {
                "The programme has been prepared with your pregnancy in mind"
            } else {
                "It's written with your pregnancy in mind"
            }));
        }
    }
    for phrase in &voice.phrases {
        lines.push(say(capitalise(phrase.trim_end_matches(['.', '!', ',']))));
    }
    lines
}

/// One line per meal the input names.
fn meal_lines(facts: &Facts, voice: &Voice) -> Vec<Line> {
    facts
        .meals
        .iter()
        .map(|(meal, what)| {
            if voice.lists {
                item(format!("{}: {}", capitalise(meal), what))
            } else if voice.person == Person::Formal {
                say(format!("The recommended {meal} is {}", decapitalise(what)))
            } else {
                let meal = if meal.starts_with("snack") {
                    "a snack"
                } else {
                    meal.as_str()
                };
                say(format!("For {meal}, {}", decapitalise(what)))
            }
        })
        .collect()
}

/// Joins or splits sentences towards the voice's average length.
fn rhythm(lines: Vec<Line>, voice: &Voice) -> Vec<Line> {
    let target = voice.sentence_words;
    let words = |s: &str| s.split_whitespace().count() as f64;
    let mut out: Vec<Line> = Vec::new();
    // How many sentences the last one already holds; joints used so far.
    let mut joined = 1;
    let (mut semicolons, mut dashes) = (0usize, 0usize);
    for line in lines {
        if line.item {
            joined = 1;
            out.push(line);
            continue;
        }
        // Short voices: break at a comma between two parts of three words or more; the
        // tersest ones (a few words a sentence) at every comma and colon.
        if target < 9.0 && words(&line.text) > target + 4.0 {
            let parts: Vec<String> = if target < 5.0 {
                line.text
                    .split([',', ':'])
                    .map(|p| p.trim().to_owned())
                    .filter(|p| !p.is_empty())
                    .collect()
            } else {
                line.text
                    .split(", ")
                    .map(|p| p.strip_prefix("and ").unwrap_or(p).to_owned())
                    .collect()
            };
            if parts.len() > 1 && (target < 5.0 || parts.iter().all(|p| words(p) >= 3.0)) {
                // A lone name stays with the sentence it addresses ("…, Maria").
                let mut merged: Vec<String> = Vec::new();
                for part in parts {
                    let lone_name = words(&part) == 1.0 && part.starts_with(char::is_uppercase);
                    match merged.last_mut() {
                        Some(previous) if lone_name => *previous = format!("{previous}, {part}"),
                        _ => merged.push(part),
                    }
                }
                out.extend(merged.into_iter().map(|p| say(capitalise(&p))));
                continue;
            }
        }
        // Long voices: join with the previous sentence while both fit (two sentences
        // at most, three for the longest).
        let most = if target >= 20.0 { 3 } else { 2 };
        let sentences = out.len() as f64;
        if let Some((previous, joined)) = out.last_mut().zip(Some(&mut joined)) {
            if !previous.item
                && target >= 14.0
                && *joined < most
                && words(&previous.text) + words(&line.text) <= target * 1.5
            {
                // Semicolons and dashes as often per sentence as the voice uses them.
                let joint = if (semicolons as f64) < voice.semicolons * sentences {
                    semicolons += 1;
                    "; "
                } else if (dashes as f64) < voice.dashes * sentences {
                    dashes += 1;
                    " \u{2014} "
                } else {
                    ", and "
                };
                previous.text = format!("{}{joint}{}", previous.text, lower_first(&line.text));
                *joined += 1;
                continue;
            }
        }
        joined = 1;
        out.push(line);
    }
    out
}

const CONTRACTIONS: [(&str, &str); 14] = [
    ("we will", "we'll"),
    ("We will", "We'll"),
    ("you will", "you'll"),
    ("I will", "I'll"),
    ("do not", "don't"),
    ("Do not", "Don't"),
    ("it is", "it's"),
    ("It is", "It's"),
    ("you are", "you're"),
    ("that is", "that's"),
    ("I would", "I'd"),
    ("I am", "I'm"),
    ("cannot", "can't"),
    ("will not", "won't"),
];

fn contract(text: &str, on: bool) -> String {
    let mut out = text.to_owned();
    for (long, short) in CONTRACTIONS {
        out = if on {
            out.replace(long, short)
        } else {
            out.replace(short, long)
        };
    }
    if !on {
        out = out
            .replace("Let's", "Let us")
            .replace("let's", "let us")
            .replace("Here's", "Here is")
            .replace("don't", "do not")
            .replace("you're", "you are");
    }
    out
}

/// Whether the `i`-th of a run gets a habit that occurs at `rate` per sentence
/// (spread evenly, deterministic).
fn every(i: usize, rate: f64) -> bool {
    rate > 0.0 && ((i + 1) as f64 * rate + 0.5).floor() > (i as f64 * rate + 0.5).floor()
}

const EMPHASIS: [&str; 10] = [
    "every", "always", "real", "your", "now", "all", "one", "this", "never", "today",
];

fn words_in(text: &str) -> f64 {
    text.split_whitespace().count() as f64
}
const QUESTIONS: [&str; 4] = ["Sound doable?", "Ready?", "Easy enough?", "Got it?"];
const ASIDES: [&str; 3] = ["(yes, really)", "(it helps, I promise)", "(trust me)"];

/// Punctuation, capitals and contractions in the voice's measure.
fn punctuate(lines: Vec<Line>, voice: &Voice, seed: u64) -> Vec<Line> {
    let mut out = Vec::new();
    let prose_count = lines.iter().filter(|l| !l.item).count();
    let mut prose_index = 0;
    let mut questions_added = 0;
    for line in lines {
        let mut text = contract(
            line.text.trim_end_matches(['.', '!', '?']),
            voice.contractions,
        );
        if line.item {
            out.push(Line { text, item: true });
            continue;
        }
        let i = prose_index;
        prose_index += 1;
        if every(i + seed as usize % 3, voice.parentheses) && !text.contains('(') {
            text = format!("{text} {}", ASIDES[(i + seed as usize) % ASIDES.len()]);
        }
        // Capitals for emphasis: a word of [`EMPHASIS`], else the sentence's longest
        // lower-case word.
        if every(i, voice.capitals * words_in(&text) / 100.0) {
            let chosen = EMPHASIS
                .iter()
                .find(|w| text.split(' ').any(|t| t == **w))
                .map(|w| (*w).to_owned())
                .or_else(|| {
                    text.split(' ')
                        .filter(|t| t.len() >= 4 && t.chars().all(|c| c.is_ascii_lowercase()))
                        .max_by_key(|t| t.len())
                        .map(str::to_owned)
                });
            if let Some(word) = chosen {
                text = format!(" {text} ")
                    .replacen(
                        &format!(" {word} "),
                        &format!(" {} ", word.to_uppercase()),
                        1,
                    )
                    .trim()
                    .to_owned();
            }
        }
        let end = if every(i, voice.exclamations) {
            "!"
        } else if every(i, voice.ellipses) && i + 1 < prose_count {
            "..."
        } else {
            "."
        };
        out.push(say(format!("{text}{end}")));
        if every(i + 1, voice.questions) && questions_added < 3 && voice.person != Person::Formal {
            out.push(say(
                QUESTIONS[(questions_added + seed as usize) % QUESTIONS.len()]
            ));
            questions_added += 1;
        }
    }
    out
}

/// Writes the brief in the profile's voice, in at most `max_chars` characters.
pub fn compose(brief: &Brief<'_>, max_chars: usize) -> String {
    let voice = Voice::of(brief.profile);
    let facts = Facts::of(brief.input);
    let input_json = serde_json::to_string(brief.input).unwrap_or_default();
    let seed = hash(&[brief.kind.as_str(), &input_json, &voice.sign_off]);
    let lines = punctuate(
        rhythm(content(brief, &facts, &voice, seed), &voice),
        &voice,
        seed,
    );
    // Paragraphs: the voice's measure of sentences each; a list stays one block.
    let per_paragraph = brief
        .profile
        .map_or(3.0, |p| p.feature("paragraph_sentences"))
        .round()
        .clamp(1.0, 6.0) as usize;
    let mut paragraphs: Vec<String> = Vec::new();
    let mut current: Vec<String> = Vec::new();
    let mut in_list = false;
    for line in &lines {
        if line.item != in_list && !current.is_empty() {
            paragraphs.push(current.join(if in_list { "\n" } else { " " }));
            current.clear();
        }
        in_list = line.item;
        current.push(if line.item {
            format!("\u{2013} {}.", line.text.trim_end_matches('.'))
        } else {
            line.text.clone()
        });
        if !line.item && current.len() >= per_paragraph {
            paragraphs.push(current.join(" "));
            current.clear();
        }
    }
    if !current.is_empty() {
        paragraphs.push(current.join(if in_list { "\n" } else { " " }));
    }
    if let (Some(emoji), Some(last)) = (&voice.emoji, paragraphs.last_mut()) {
        last.push(' ');
        last.push_str(emoji);
    }
    if let (Some(lead), Some(first)) = (&voice.lead_in, paragraphs.first_mut()) {
        *first = format!("{lead} {}", lower_first(first));
    }
    let frame = |body: &[String]| {
        let mut parts: Vec<String> = Vec::new();
        if let Some(opening) = &voice.opening {
            parts.push(opening.clone());
        }
        parts.extend(body.iter().cloned());
        parts.push(voice.sign_off.clone());
        parts.join("\n\n")
    };
    // Within the limit: whole paragraphs dropped from the end of the body first.
    let mut body = paragraphs;
    let mut text = frame(&body);
    while text.chars().count() > max_chars && body.len() > 1 {
        body.pop();
        text = frame(&body);
    }
    if text.chars().count() > max_chars {
        text = text.chars().take(max_chars).collect();
    }
    text
}
