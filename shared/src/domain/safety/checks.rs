//! The checks on a model's text: allergens the client must not eat, a daily intake under
//! the client's floor, dangerous practices, medical claims and prompt leaks. Each reads
//! the text as tokens in clauses ([`super::text`]) and tells a recommendation from a
//! negation or a substitution ("peanut-free", "avoid peanuts", "instead of almond milk",
//! "replace the cheese with…", "skipping meals is not a method"). Deterministic, no I/O,
//! one pass per check.

use super::lexicon::{same_word, FOODS, FREE_OF, PLANT_BASED};
use super::profile::{Allergen, ClientProfile, SafetyThresholds};
use super::text::{excerpt, tokenize, Token};
use super::{Finding, FindingCode};
use std::collections::HashMap;
use std::sync::LazyLock;

const EXCERPT_CHARS: usize = 80;

/// Words that negate the foods after them in their clause.
const NEGATORS: &[&str] = &[
    "no",
    "not",
    "never",
    "without",
    "avoid",
    "avoids",
    "avoided",
    "avoiding",
    "skip",
    "skips",
    "skipping",
    "exclude",
    "excludes",
    "excluding",
    "except",
    "omit",
    "omitting",
    "eliminate",
    "eliminating",
    "none",
    "nor",
    "neither",
    "don't",
    "doesn't",
    "didn't",
    "won't",
    "shouldn't",
    "can't",
    "cannot",
    "isn't",
    "aren't",
    "zero",
    "lieu",
    "allergic",
    "allergy",
    "allergies",
    "intolerant",
    "intolerance",
    "sensitive",
    "sensitivity",
    "ban",
    "banned",
    "drop",
    "ditch",
    "remove",
    "removing",
    "forgo",
    "forego",
    "hold",
    "minus",
    "absent",
    "nix",
    "instead",
];

/// Verbs of substitution: "replace A with B", "swap A for B", "switch from A to B".
const SUBSTITUTES: &[&str] = &[
    "replace",
    "replaces",
    "replacing",
    "replaced",
    "swaps",
    "switches",
    "swap",
    "swapping",
    "swapped",
    "switch",
    "switching",
    "trade",
    "trading",
    "exchange",
    "exchanging",
    "change",
    "changing",
];
/// "Substitute A for B" means use A instead of B.
const SUBSTITUTE_FOR: &[&str] = &["substitute", "substituting", "sub"];
const SUBSTITUTE_PREPOSITIONS: &[&str] = &["with", "for", "to", "by", "into"];

/// Verbs whose object is being recommended ("try almonds", "add cheese").
const ACTIONS: &[&str] = &[
    "add",
    "adding",
    "enjoy",
    "enjoying",
    "use",
    "using",
    "try",
    "trying",
    "include",
    "including",
    "eat",
    "eating",
    "have",
    "having",
    "top",
    "topped",
    "sprinkle",
    "stir",
    "mix",
    "serve",
    "serving",
    "choose",
    "pick",
    "grab",
    "snack",
    "drink",
    "drinking",
    "cook",
    "bake",
    "blend",
    "toss",
    "spread",
    "make",
    "pack",
    "fold",
    "drizzle",
    "pair",
    "opt",
    "reach",
    "grill",
    "roast",
    "fry",
    "layer",
    "dip",
    "pour",
    "whisk",
    "combine",
    "crumble",
    "scatter",
    "start",
    "finish",
    "love",
    "recommend",
    "suggest",
    "allow",
    "go",
    "keep",
    "bring",
    "pop",
    "toast",
    "melt",
    "spoon",
    "garnish",
];

/// Words that end the reach of a negation read backwards.
const BREAKERS: &[&str] = &[
    "but",
    "however",
    "though",
    "although",
    "yet",
    "otherwise",
    "then",
    "so",
    "also",
    "plus",
    "while",
    "whereas",
    "meanwhile",
    "besides",
    "still",
];

/// After a food, within its clause: it is ruled out ("peanuts are off the menu").
const AFTER_NEGATORS: &[&[&str]] = &[
    &["free"],
    &["allergy"],
    &["allergies"],
    &["allergic"],
    &["intolerance"],
    &["off", "the", "menu"],
    &["off", "limits"],
    &["not", "allowed"],
    &["not", "safe"],
    &["is", "not"],
    &["are", "not"],
    &["isn't"],
    &["aren't"],
    &["must", "be", "avoided"],
    &["should", "be", "avoided"],
    &["are", "avoided"],
    &["excluded"],
    &["forbidden"],
    &["banned"],
    &["unsafe"],
    &["out", "of", "the", "question"],
    &["left", "out"],
    &["stays", "out"],
    &["stay", "out"],
];

/// A lexicon phrase split into words, with the allergens it contains.
type Phrase = (Vec<&'static str>, &'static [Allergen]);

struct FoodIndex {
    /// First word → phrases starting with it, longest first.
    by_first: HashMap<&'static str, Vec<Phrase>>,
}

static FOOD_INDEX: LazyLock<FoodIndex> = LazyLock::new(|| {
    let mut by_first: HashMap<&'static str, Vec<Phrase>> = HashMap::new();
    for (phrase, allergens) in FOODS {
        let words: Vec<&'static str> = phrase.split(' ').collect();
        by_first
            .entry(words[0])
            .or_default()
            .push((words, allergens));
    }
    for entries in by_first.values_mut() {
        entries.sort_by_key(|phrase| std::cmp::Reverse(phrase.0.len()));
    }
    FoodIndex { by_first }
});

/// A food named in the text: tokens `start..end`, and its allergens.
struct FoodMention {
    start: usize,
    end: usize,
    allergens: &'static [Allergen],
}

/// The index keys a token may start a phrase with: itself, or its singular.
fn first_word_candidates(token: &str) -> Vec<&'static str> {
    let index = &FOOD_INDEX.by_first;
    let y_stem = token.strip_suffix("ies").map(|stem| format!("{stem}y"));
    [
        Some(token),
        token.strip_suffix('s'),
        token.strip_suffix("es"),
        y_stem.as_deref(),
    ]
    .into_iter()
    .flatten()
    .filter_map(|stem| index.get_key_value(stem).map(|(key, _)| *key))
    .collect()
}

fn foods(tokens: &[Token]) -> Vec<FoodMention> {
    let mut found = Vec::new();
    let mut i = 0;
    'tokens: while i < tokens.len() {
        let mut best: Option<(usize, &'static [Allergen])> = None;
        for first in first_word_candidates(&tokens[i].text) {
            for (words, allergens) in &FOOD_INDEX.by_first[first] {
                let n = words.len();
                if best.is_some_and(|(len, _)| len >= n) || i + n > tokens.len() {
                    continue;
                }
                let fits = words.iter().enumerate().all(|(k, word)| {
                    let token = &tokens[i + k];
                    (k == 0 || token.clause == tokens[i].clause)
                        && if k + 1 == n {
                            same_word(&token.text, word)
                        } else {
                            token.text == *word
                        }
                });
                if fits {
                    best = Some((n, allergens));
                }
            }
        }
        if let Some((n, allergens)) = best {
            found.push(FoodMention {
                start: i,
                end: i + n,
                allergens,
            });
            i += n;
            continue 'tokens;
        }
        i += 1;
    }
    found
}

// Word classes (bits of `Token::classes`), assigned once per text by [`classify`].
const NEGATOR: u16 = 1;
const ACTION: u16 = 1 << 1;
const BREAKER: u16 = 1 << 2;
const SUBSTITUTE: u16 = 1 << 3;
const SUBSTITUTE_FOR_VERB: u16 = 1 << 4;
const SUBSTITUTE_PREPOSITION: u16 = 1 << 5;
const CLAIM_VERB: u16 = 1 << 6;
/// The first word of a phrase of [`PRACTICE_INDEX`].
const PRACTICE_START: u16 = 1 << 7;
const SKIP_VERB: u16 = 1 << 8;
const FAST_WORD: u16 = 1 << 9;

/// Marks each token with the classes of the word lists it belongs to: one hash lookup
/// per token instead of a scan of every list at every step back from every food.
pub(crate) fn classify(tokens: &mut [Token]) {
    static CLASSES: LazyLock<HashMap<&'static str, u16>> = LazyLock::new(|| {
        let mut classes: HashMap<&'static str, u16> = HashMap::new();
        for word in PRACTICE_INDEX.keys() {
            *classes.entry(word).or_default() |= PRACTICE_START;
        }
        for (words, class) in [
            (NEGATORS, NEGATOR),
            (ACTIONS, ACTION),
            (BREAKERS, BREAKER),
            (SUBSTITUTES, SUBSTITUTE),
            (SUBSTITUTE_FOR, SUBSTITUTE_FOR_VERB),
            (SUBSTITUTE_PREPOSITIONS, SUBSTITUTE_PREPOSITION),
            (CLAIM_VERBS, CLAIM_VERB),
            (SKIP_VERBS, SKIP_VERB),
            (FAST_WORDS, FAST_WORD),
        ] {
            for word in words {
                *classes.entry(word).or_default() |= class;
            }
        }
        classes
    });
    for token in tokens {
        token.classes = CLASSES.get(token.text.as_str()).copied().unwrap_or(0);
    }
}

/// Which of a mentioned food's allergens its context takes back, if any.
fn ruled_out(tokens: &[Token], food: &FoodMention) -> Vec<Allergen> {
    let all = food.allergens.to_vec();
    let clause = tokens[food.start].clause;
    let in_clause = |j: usize| tokens[j].clause == clause;
    // The food is an adjective of absence: "peanut-free", "nut allergy"; or of
    // imitation: "satay-style sauce".
    if let Some(next) = tokens.get(food.end).filter(|_| in_clause(food.end)) {
        if next.hyphenated && next.is_any(&["style", "styled"]) {
            return all;
        }
        if next.is_any(&[
            "free",
            "allergy",
            "allergies",
            "allergic",
            "intolerance",
            "intolerant",
            "sensitivity",
        ]) {
            return all;
        }
    }
    let mut out: Vec<Allergen> = Vec::new();
    // Modifiers just before it: "dairy-free yogurt", "vegan cheese", "plant-based mayo".
    let mut j = food.start;
    for _ in 0..4 {
        if j == 0 || !in_clause(j - 1) {
            break;
        }
        j -= 1;
        let token = &tokens[j];
        if token.is("free") && j > 0 && in_clause(j - 1) {
            if let Some((_, allergens)) = FREE_OF
                .iter()
                .find(|(word, _)| same_word(&tokens[j - 1].text, word))
            {
                out.extend_from_slice(allergens);
            }
        }
        if token.is("vegan")
            || (token.is("based")
                && j > 0
                && tokens[j - 1]
                    .is_any(&["plant", "nut", "oat", "soy", "coconut", "cashew", "almond"]))
        {
            out.extend_from_slice(PLANT_BASED);
        }
        if token.has(NEGATOR) || token.has(ACTION) {
            break;
        }
    }
    // Earlier in the clause, "dairy-free …" covers what the clause goes on to say of
    // that dish ("dairy-free cheese melts well on the pizza"), until a list or a new verb.
    let mut k = food.start;
    while k > 1 && in_clause(k - 1) && food.start - k < 12 {
        let token = &tokens[k - 1];
        if token.has(BREAKER | ACTION)
            || token.is_any(&["and", "or", "plus", "with", "&"])
            || tokens[k].after_comma
        {
            break;
        }
        if token.is("free") && in_clause(k - 2) {
            if let Some((_, allergens)) = FREE_OF
                .iter()
                .find(|(word, _)| same_word(&tokens[k - 2].text, word))
            {
                out.extend_from_slice(allergens);
            }
        }
        k -= 1;
    }
    if backward_negation(tokens, food) || forward_negation(tokens, food) {
        return all;
    }
    out.retain(|a| all.contains(a));
    out
}

/// Reads back from the food to the start of its clause.
fn backward_negation(tokens: &[Token], food: &FoodMention) -> bool {
    let clause = tokens[food.start].clause;
    let from = food.start;
    let mut j = from;
    let mut steps = 0;
    while j > 0 && tokens[j - 1].clause == clause && steps < 25 {
        j -= 1;
        steps += 1;
        let token = &tokens[j];
        if token.has(BREAKER) {
            return false;
        }
        if token.is("instead") && !tokens.get(j + 1).is_some_and(|t| t.is("of")) {
            return false;
        }
        if token.is_any(&["and", "or", "&"])
            && tokens.get(j + 1).is_some_and(|t| t.has(ACTION))
            && j + 1 < from
        {
            return false;
        }
        if token.has(SUBSTITUTE_PREPOSITION) {
            let verb = (0..j)
                .rev()
                .take_while(|&k| tokens[k].clause == clause)
                .find(|&k| tokens[k].has(SUBSTITUTE) || tokens[k].has(SUBSTITUTE_FOR_VERB));
            if let Some(k) = verb {
                // "replace A with B": B is what is used. "substitute A for B": B is not.
                return tokens[k].has(SUBSTITUTE_FOR_VERB) && token.is("for");
            }
        }
        if token.has(SUBSTITUTE_FOR_VERB) {
            return false;
        }
        if token.has(SUBSTITUTE) {
            return true;
        }
        if token.is_any(&["keep", "kept", "leave", "leaving", "take", "taking"]) {
            // "keep nuts out", "leave the cheese off", "take the butter away".
            let after = (food.end..tokens.len())
                .take_while(|&k| tokens[k].clause == clause)
                .take(4)
                .any(|k| tokens[k].is_any(&["out", "off", "away"]));
            if after {
                return true;
            }
        }
        if token.has(ACTION) {
            // "don't eat peanuts", "avoid adding cheese", "never use butter".
            let before = |k: usize| j >= k && tokens[j - k].clause == clause;
            return (before(1) && tokens[j - 1].has(NEGATOR) && !tokens[j - 1].is("instead"))
                || (before(2)
                    && tokens[j - 2].has(NEGATOR)
                    && tokens[j - 1].is_any(&["to", "ever", "really"]))
                || (before(2) && tokens[j - 2].is("do") && tokens[j - 1].is("not"));
        }
        if token.is("free") && tokens.get(j + 1).is_some_and(|t| t.is_any(&["of", "from"])) {
            return true;
        }
        if token.is("than") && j > 0 && tokens[j - 1].is("rather") {
            return true;
        }
        // "an alternative to peanut butter", "a substitute for milk", "in place of cream".
        if token.is_any(&["to", "for"])
            && j > 0
            && tokens[j - 1].is_any(&[
                "alternative",
                "alternatives",
                "substitute",
                "substitutes",
                "replacement",
                "replacements",
                "stand",
            ])
        {
            return true;
        }
        if token.is("of") && j > 1 && tokens[j - 1].is("place") && tokens[j - 2].is("in") {
            return true;
        }
        // A warning about where the allergen hides: "watch out for", "check labels for
        // hidden nuts", "beware of", "look out for".
        if token.is_any(&["hidden", "beware", "traces"]) {
            return true;
        }
        if token.is_any(&["for", "of"])
            && j > 1
            && ((tokens[j - 1].is("out") && tokens[j - 2].is_any(&["watch", "look", "lookout"]))
                || tokens[j - 1].is_any(&["labels", "label", "ingredients", "wary", "careful"]))
        {
            return true;
        }
        if token.is("of") && j > 0 && tokens[j - 1].is("instead") {
            return true;
        }
        if token.is("out")
            && j > 0
            && tokens[j - 1].is_any(&["cut", "leave", "leaving", "cutting", "keep", "kept"])
        {
            return true;
        }
        if token.is("clear") && j > 0 && tokens[j - 1].is("steer") {
            return true;
        }
        if token.is("from") && j > 0 && tokens[j - 1].is("away") {
            return true;
        }
        if token.has(NEGATOR) && !token.is("instead") {
            return true;
        }
    }
    false
}

fn forward_negation(tokens: &[Token], food: &FoodMention) -> bool {
    let clause = tokens[food.start].clause;
    let end = food.end;
    for offset in 0..6 {
        let at = end + offset;
        if at >= tokens.len() || tokens[at].clause != clause {
            return false;
        }
        if tokens[at].has(BREAKER) || tokens[at].has(ACTION) {
            return false;
        }
        let matches = AFTER_NEGATORS.iter().any(|phrase| {
            phrase.iter().enumerate().all(|(k, word)| {
                tokens
                    .get(at + k)
                    .is_some_and(|t| t.clause == clause && t.is(word))
            })
        });
        if matches {
            return true;
        }
    }
    false
}

/// `allergen-conflict`: the text recommends a food with one of the client's allergens.
pub(crate) fn allergen_conflicts(
    text: &str,
    tokens: &[Token],
    profile: &ClientProfile,
) -> Vec<Finding> {
    if profile.allergies.is_empty() {
        return Vec::new();
    }
    let mut findings = Vec::new();
    for food in foods(tokens) {
        let hits: Vec<Allergen> = food
            .allergens
            .iter()
            .copied()
            .filter(|a| profile.allergies.contains(a))
            .collect();
        if hits.is_empty() {
            continue;
        }
        let out = ruled_out(tokens, &food);
        let kept: Vec<Allergen> = hits.into_iter().filter(|a| !out.contains(a)).collect();
        if kept.is_empty() {
            continue;
        }
        let (start, end) = (tokens[food.start].start, tokens[food.end - 1].end);
        let labels: Vec<&str> = kept.iter().map(|a| a.label()).collect();
        findings.push(Finding::new(
            FindingCode::AllergenConflict,
            format!(
                "Recommends \"{}\", which contains {} — the client is allergic.",
                &text[start..end],
                labels.join(" and ")
            ),
            excerpt(text, start, end, EXCERPT_CHARS),
        ));
    }
    findings
}

const UNITS_KCAL: &[&str] = &[
    "kcal",
    "kcals",
    "calorie",
    "calories",
    "cal",
    "cals",
    "kilocalorie",
    "kilocalories",
];
const UNITS_KJ: &[&str] = &["kj", "kilojoule", "kilojoules"];
const DAILY: &[&str] = &[
    "day",
    "days",
    "daily",
    "intake",
    "target",
    "diet",
    "plan",
    "allowance",
    "budget",
    "total",
    "totals",
];
const NOT_DAILY: &[&str] = &[
    "drop",
    "drops",
    "dropping",
    "trim",
    "trimming",
    "shave",
    "shaving",
    "save",
    "saving",
    "swap",
    "swapping",
    "serving",
    "servings",
    "portion",
    "portions",
    "burn",
    "burns",
    "burned",
    "burnt",
    "burning",
    "deficit",
    "surplus",
    "cut",
    "cutting",
    "reduce",
    "reducing",
    "reduction",
    "week",
    "weekly",
    "hour",
    "workout",
    "workouts",
    "exercise",
    "walk",
    "walking",
    "run",
    "running",
    "cycling",
    "session",
    "recipe",
];
/// One meal or item: not a daily intake unless the clause says "a day".
const MEAL_WORDS: &[&str] = &[
    "meal",
    "meals",
    "breakfast",
    "lunch",
    "dinner",
    "supper",
    "snack",
    "snacks",
    "bar",
    "bottle",
    "can",
    "slice",
    "dish",
    "bowl",
    "smoothie",
    "sandwich",
    "salad",
    "plate",
    "drink",
    "glass",
    "cup",
    "pack",
    "packet",
    "each",
];
/// Right after the amount: a difference, not an intake ("500 kcal less a day").
const DIFFERENCE_AFTER: &[&str] = &[
    "less", "fewer", "more", "extra", "lower", "below", "under", "over", "above",
];
/// Before an amount: a change to the day's intake ("adds 200 kcal", "saves 300 kcal").
const DIFFERENCE_BEFORE: &[&str] = &[
    "add",
    "adds",
    "added",
    "adding",
    "extra",
    "another",
    "additional",
    "save",
    "saves",
    "saving",
    "shave",
    "shaves",
    "trim",
    "trims",
];
const INTAKE_VERBS: &[&str] = &[
    "eat",
    "eating",
    "consume",
    "consuming",
    "aim",
    "stick",
    "limit",
    "keep",
    "target",
    "intake",
    "total",
    "allow",
    "allowing",
    "cap",
    "restrict",
    "restricting",
];
/// Before the number: it is a floor, not a ceiling ("at least 1,000", "never below").
const FLOOR_WORDS: &[&str] = &["least", "minimum", "above", "over", "exceed", "more"];
const CAUTIONS: &[&str] = &[
    "dangerous",
    "unsafe",
    "risky",
    "harmful",
    "never",
    "don't",
    "not",
    "avoid",
    "too",
    "shouldn't",
    "warning",
    "why",
];

/// `calorie-floor`: the text recommends a daily intake under the client's floor.
pub(crate) fn calorie_floor(text: &str, tokens: &[Token], floor: u32) -> Vec<Finding> {
    let mut findings = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        let Some(mut value) = tokens[i].number else {
            i += 1;
            continue;
        };
        let first = i;
        let mut j = i + 1;
        // A range: "1,000–1,200 kcal", "1000 to 1200 calories": its low end counts.
        if tokens.get(j).is_some_and(|t| t.range && t.number.is_some()) {
            value = value.min(tokens[j].number.unwrap_or(value));
            j += 1;
        } else if tokens.get(j).is_some_and(|t| t.is("to"))
            && tokens.get(j + 1).is_some_and(|t| t.number.is_some())
        {
            value = value.min(tokens[j + 1].number.unwrap_or(value));
            j += 2;
        }
        // The unit after the amount ("1,000 kcal"), or just before it ("calories at
        // 1,100", "kcal: 900").
        let unit_after = tokens
            .get(j)
            .filter(|t| t.is_any(UNITS_KCAL) || t.is_any(UNITS_KJ));
        let unit_before = (first.saturating_sub(3)..first)
            .rev()
            .find(|&k| {
                tokens[k].clause == tokens[first].clause
                    && (tokens[k].is_any(UNITS_KCAL) || tokens[k].is_any(UNITS_KJ))
            })
            .filter(|&k| {
                (k + 1..first).all(|m| {
                    tokens[m].is_any(&[
                        "at",
                        "to",
                        "of",
                        "around",
                        "about",
                        "roughly",
                        "is",
                        "be",
                        "approximately",
                    ])
                })
            })
            .map(|k| &tokens[k]);
        let Some(unit) = unit_after.or(unit_before) else {
            i += 1;
            continue;
        };
        let kcal = if unit.is_any(UNITS_KJ) {
            value / 4.184
        } else {
            value
        };
        if unit_after.is_none() {
            j -= 1;
        }
        i = j + 1;
        if kcal >= f64::from(floor) || kcal < 200.0 {
            continue;
        }
        let clause = tokens[first].clause;
        let sentence = tokens[first].sentence;
        let clause_from = tokens.partition_point(|t| t.clause < clause);
        let clause_tokens: Vec<usize> =
            (clause_from..clause_from + clause_of(tokens, clause).len()).collect();
        let in_clause = |words: &[&str]| clause_tokens.iter().any(|&k| tokens[k].is_any(words));
        // Burned, a deficit, per serving, per 100 g: not a daily intake. A meal word is
        // one too, unless the clause says the amount is per day ("meals add up to … a day").
        let near = |k: usize| k + 5 >= first && k <= j + 4;
        let per_day = clause_tokens
            .iter()
            .any(|&k| tokens[k].is_any(&["day", "daily"]));
        let not_daily = clause_tokens.iter().any(|&k| {
            near(k)
                && (tokens[k].is_any(NOT_DAILY)
                    || (tokens[k].is_any(MEAL_WORDS) && !per_day)
                    || (tokens[k].is("per")
                        && tokens.get(k + 1).is_some_and(|t| t.number.is_some())))
        });
        // "At least 1,000", "more than 1,000": a floor, not what to eat; "no more than
        // 1,000" is a ceiling again.
        let floor_statement = (first.saturating_sub(3)..first).any(|k| {
            tokens[k].clause == clause
                && tokens[k].is_any(FLOOR_WORDS)
                && !(k > 0 && tokens[k - 1].is_any(&["no", "not"]))
        });
        let difference = (j + 1..=j + 2).any(|k| {
            tokens
                .get(k)
                .is_some_and(|t| t.clause == clause && t.is_any(DIFFERENCE_AFTER))
        }) || (first.saturating_sub(2)..first)
            .any(|k| tokens[k].clause == clause && tokens[k].is_any(DIFFERENCE_BEFORE));
        let daily = sentence_has(tokens, sentence, DAILY);
        // "… only under medical supervision": describing a clinical regime, not advising it.
        let supervised = sentence_has(tokens, sentence, &["supervision", "supervised"]);
        if not_daily
            || supervised
            || floor_statement
            || difference
            || in_clause(CAUTIONS)
            || !(daily || in_clause(INTAKE_VERBS))
        {
            continue;
        }
        let (start, end) = (tokens[first].start, tokens[j].end);
        findings.push(Finding::new(
            FindingCode::CalorieFloor,
            format!(
                "Recommends a daily intake of about {} kcal, under the client's floor of {floor} kcal.",
                kcal.round() as i64
            ),
            excerpt(text, start, end, EXCERPT_CHARS),
        ));
    }
    findings
}

/// Phrases of practices no text may recommend, by what they are.
const PRACTICES: &[(&str, &[&str])] = &[
    (
        "purging",
        &[
            "purge",
            "purging",
            "make yourself sick",
            "make yourself vomit",
            "make yourself throw up",
            "throw up after",
            "vomit after",
            "self induced vomiting",
            "induce vomiting",
            "vomiting after",
        ],
    ),
    (
        "diet pills",
        &[
            "diet pill",
            "diet pills",
            "slimming pill",
            "slimming pills",
            "weight loss pill",
            "weight loss pills",
            "fat burner",
            "fat burners",
            "appetite suppressant",
            "appetite suppressants",
            "slimming tablets",
            "phentermine",
            "ephedra",
        ],
    ),
    (
        "skipping meals",
        &[
            "skip breakfast",
            "skip lunch",
            "skip dinner",
            "skip meals",
            "skip a meal",
            "skip your meals",
            "skipping breakfast",
            "skipping lunch",
            "skipping dinner",
            "skipping meals",
            "skipping a meal",
            "miss meals",
            "missing meals",
            "skip eating",
            "only eat one meal",
            "eat one meal a day",
            "eat only one meal",
            "cut out breakfast",
            "cut out dinner",
            "cut out lunch",
            "omad",
        ],
    ),
    (
        "detox cleanses",
        &[
            "detox cleanse",
            "detox diet",
            "detox tea",
            "detox teas",
            "detox juice",
            "detox plan",
            "detox programme",
            "detox program",
            "juice cleanse",
            "master cleanse",
            "lemon detox",
            "cleanse your body",
            "flush out toxins",
            "flush toxins",
            "body cleanse",
            "liver cleanse",
            "colon cleanse",
            "juice fast",
            "juice diet",
            "juice only",
        ],
    ),
    (
        "starvation",
        &[
            "starve yourself",
            "starving yourself",
            "eat nothing",
            "chew and spit",
            "cotton ball",
            "cotton balls",
            "ice diet",
            "stop eating altogether",
        ],
    ),
];
const LAXATIVES: &[&str] = &[
    "laxative",
    "laxatives",
    "diuretic",
    "diuretics",
    "water pill",
    "water pills",
    "senna",
    "enema",
    "enemas",
];
const WEIGHT_WORDS: &[&str] = &[
    "weight", "slim", "slimmer", "lose", "losing", "shed", "flat", "flatten", "tummy", "belly",
    "waist", "bloat", "bloating", "pounds", "kilos", "kg", "lbs", "thin", "thinner", "trim",
    "drop",
];
/// After a practice: the text is warning about it.
const PRACTICE_VERDICTS: &[&str] = &[
    "helpline",
    "dangerous",
    "harmful",
    "unsafe",
    "risky",
    "myth",
    "backfire",
    "backfires",
    "not",
    "isn't",
    "aren't",
    "unhealthy",
];
const PRACTICE_CAUTIONS: &[&str] = &[
    "urge",
    "urges",
    "tempted",
    "temptation",
    "never",
    "don't",
    "avoid",
    "avoiding",
    "not",
    "isn't",
    "aren't",
    "stop",
    "dangerous",
    "harmful",
    "unsafe",
    "risky",
    "won't",
    "shouldn't",
    "warning",
    "myth",
    "without",
    "instead",
    "rather",
    "no",
    "can't",
    "cannot",
    "nor",
    "rarely",
    "unhealthy",
    "backfire",
    "backfires",
];
const MEDICAL: &[&str] = &[
    "supervision",
    "supervised",
    "doctor",
    "doctor's",
    "physician",
    "clinician",
    "hospital",
    "surgery",
    "procedure",
    "colonoscopy",
    "prescribed",
    "prescription",
    "gp",
    "specialist",
    "consultant",
];

/// The tokens of `clause` (clauses and sentences number tokens in order, so each is one
/// run: found by binary search, not by a scan of the whole text).
fn clause_of(tokens: &[Token], clause: usize) -> &[Token] {
    let from = tokens.partition_point(|t| t.clause < clause);
    let to = tokens.partition_point(|t| t.clause <= clause);
    &tokens[from..to]
}

fn sentence_of(tokens: &[Token], sentence: usize) -> &[Token] {
    let from = tokens.partition_point(|t| t.sentence < sentence);
    let to = tokens.partition_point(|t| t.sentence <= sentence);
    &tokens[from..to]
}

/// The clause's words, space-separated, with a space at each end (so a phrase matches
/// on whole words as `" {phrase} "`).
fn joined(clause: &[Token]) -> String {
    let mut out = String::with_capacity(clause.iter().map(|t| t.text.len() + 1).sum::<usize>() + 1);
    out.push(' ');
    for token in clause {
        out.push_str(&token.text);
        out.push(' ');
    }
    out
}

fn sentence_has(tokens: &[Token], sentence: usize, words: &[&str]) -> bool {
    sentence_of(tokens, sentence)
        .iter()
        .any(|t| t.is_any(words))
}

fn span_of(clause: &[Token]) -> (usize, usize) {
    match (clause.first(), clause.last()) {
        (Some(first), Some(last)) => (first.start, last.end),
        _ => (0, 0),
    }
}

/// The clauses in order, each as its run of tokens.
fn clauses(tokens: &[Token]) -> impl Iterator<Item = &[Token]> {
    tokens.chunk_by(|a, b| a.clause == b.clause)
}

/// `dangerous-practice`: multi-day fasting, purging, laxatives or diuretics for weight
/// loss, diet pills, skipping meals as a method, detox cleanses, starvation.
pub(crate) fn dangerous_practices(text: &str, tokens: &[Token]) -> Vec<Finding> {
    let mut findings = Vec::new();
    for clause in clauses(tokens) {
        // Only a clause with the first word of some phrase, a verb of skipping or a word
        // of fasting can hold a practice (the bits were set per token by `classify`).
        if !clause
            .iter()
            .any(|t| t.has(PRACTICE_START | SKIP_VERB | FAST_WORD))
        {
            continue;
        }
        let matches = practice_phrases(clause);
        let sentence = clause[0].sentence;
        // A caution before the practice ("never skip meals", "avoid laxatives"), or a
        // verdict after it ("skipping meals is not a method", "… is dangerous").
        let cautioned = |from: usize, to: usize| {
            clause[..from].iter().any(|t| t.is_any(PRACTICE_CAUTIONS))
                || clause[to..].iter().any(|t| t.is_any(PRACTICE_VERDICTS))
        };
        let mut what: Option<&str> = None;
        // The first kind of practice named (in the order of PRACTICES) decides.
        let named = matches
            .iter()
            .filter_map(|m| match m.kind {
                PhraseKind::Practice(group) => Some((group, m)),
                _ => None,
            })
            .min_by_key(|(group, m)| (*group, m.from));
        if let Some((group, m)) = named {
            if !cautioned(m.from, m.to) {
                what = Some(PRACTICES[group].0);
            }
        }
        // Skipping a meal in other words: "miss dinner on weekdays", "forgo lunch".
        if what.is_none() {
            let skipped = clause.iter().enumerate().find(|(k, t)| {
                t.has(SKIP_VERB)
                    && clause[k + 1..].iter().take(3).any(|m| {
                        m.is_any(&["breakfast", "lunch", "dinner", "supper", "meal", "meals"])
                    })
            });
            if let Some((k, _)) = skipped {
                let conditional =
                    clause[..k].iter().rev().take(3).any(|t| {
                        t.is_any(&["if", "when", "whenever", "sometimes", "occasionally"])
                    });
                if !conditional && !cautioned(k, k + 1) {
                    what = Some("skipping meals");
                }
            }
        }
        // Laxatives and diuretics count when taken for weight, never when prescribed.
        let laxative = matches
            .iter()
            .any(|m| m.kind == PhraseKind::Laxative && !cautioned(m.from, m.to));
        let for_weight = || {
            sentence_has(tokens, sentence, WEIGHT_WORDS)
                || clause
                    .iter()
                    .any(|t| t.is_any(&["take", "try", "use", "pop", "have"]))
        };
        if what.is_none() && laxative && for_weight() && !sentence_has(tokens, sentence, MEDICAL) {
            what = Some("laxatives or diuretics for weight loss");
        }
        // Fasting, said as such or as going without food, for two days or more.
        let fasting = clause
            .iter()
            .position(|t| t.has(FAST_WORD))
            .map(|k| (k, k + 1))
            .or_else(|| {
                matches
                    .iter()
                    .find(|m| m.kind == PhraseKind::Abstain)
                    .map(|m| (m.from, m.to))
            });
        if what.is_none()
            && fasting.is_some_and(|(from, to)| !cautioned(from, to))
            && multi_day(clause)
            && !sentence_has(tokens, sentence, MEDICAL)
        {
            what = Some("fasting for days");
        }
        if let Some(what) = what {
            let (start, end) = span_of(clause);
            findings.push(Finding::new(
                FindingCode::DangerousPractice,
                format!("Recommends a dangerous practice ({what})."),
                excerpt(text, start, end.min(start + 200), EXCERPT_CHARS),
            ));
        }
    }
    findings
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PhraseKind {
    /// One of [`PRACTICES`], by its index.
    Practice(usize),
    Laxative,
    Abstain,
}

/// A phrase found in a clause: tokens `from..to` of the clause.
struct PhraseMatch {
    kind: PhraseKind,
    from: usize,
    to: usize,
}

/// First word → the phrases of practices, laxatives and abstaining that start with it.
type PhraseIndex = HashMap<&'static str, Vec<(Vec<&'static str>, PhraseKind)>>;

static PRACTICE_INDEX: LazyLock<PhraseIndex> = LazyLock::new(|| {
    let mut index: PhraseIndex = HashMap::new();
    let groups = PRACTICES
        .iter()
        .enumerate()
        .map(|(group, (_, phrases))| (*phrases, PhraseKind::Practice(group)))
        .chain([
            (LAXATIVES, PhraseKind::Laxative),
            (ABSTAIN, PhraseKind::Abstain),
        ]);
    for (phrases, kind) in groups {
        for phrase in phrases {
            let words: Vec<&'static str> = phrase.split(' ').collect();
            index.entry(words[0]).or_default().push((words, kind));
        }
    }
    index
});

/// Every phrase of [`PRACTICE_INDEX`] in the clause, word for word.
fn practice_phrases(clause: &[Token]) -> Vec<PhraseMatch> {
    let mut found = Vec::new();
    for (k, token) in clause.iter().enumerate() {
        if !token.has(PRACTICE_START) {
            continue;
        }
        let Some(candidates) = PRACTICE_INDEX.get(token.text.as_str()) else {
            continue;
        };
        for (words, kind) in candidates {
            let fits = clause.len() >= k + words.len()
                && words
                    .iter()
                    .zip(&clause[k..])
                    .all(|(word, t)| t.text == *word);
            if fits {
                found.push(PhraseMatch {
                    kind: *kind,
                    from: k,
                    to: k + words.len(),
                });
            }
        }
    }
    found
}

const FAST_WORDS: &[&str] = &["fast", "fasts", "fasting", "fasted"];
/// Verbs of leaving a meal out.
const SKIP_VERBS: &[&str] = &[
    "skip",
    "skips",
    "skipping",
    "miss",
    "misses",
    "missing",
    "forgo",
    "forgoing",
    "forego",
    "foregoing",
    "drop",
    "dropping",
];
/// Going without food, in words other than "fast".
const ABSTAIN: &[&str] = &[
    "without food",
    "without eating",
    "without any food",
    "stop eating",
    "stopping eating",
    "no food",
    "no solid food",
    "no solids",
    "nothing but water",
    "only water",
    "water only",
    "just water",
    "zero food",
    "not eat anything",
    "don't eat anything",
];

/// A duration of two days or more in the clause: "3 days", "72 hours", "three-day", "a
/// week", "several days", "for days", "a few days", "multi-day", "prolonged".
fn multi_day(clause: &[Token]) -> bool {
    const COUNTS: &[&str] = &[
        "two", "three", "four", "five", "six", "seven", "ten", "fourteen", "several", "few",
        "multiple", "many", "couple", "multi",
    ];
    clause.iter().enumerate().any(|(k, t)| {
        let next = clause.get(k + 1);
        let previous = k.checked_sub(1).map(|p| &clause[p]);
        let unit_days = next.is_some_and(|n| n.is_any(&["day", "days", "week", "weeks"]));
        let unit_hours = next.is_some_and(|n| n.is_any(&["hour", "hours", "h", "hr", "hrs"]));
        match t.number {
            Some(n) => {
                (unit_days && (n >= 2.0 || next.is_some_and(|u| u.is_any(&["week", "weeks"]))))
                    || (unit_hours && n >= 48.0)
            }
            None => {
                (t.is_any(COUNTS) && unit_days)
                    // "for days", "for weeks", "a week", "a whole week"
                    || (t.is_any(&["days", "weeks"]) && previous.is_some_and(|p| p.is("for")))
                    || (t.is_any(&["week", "weekend"])
                        && previous.is_some_and(|p| p.is_any(&["a", "whole", "entire", "full"])))
                    || t.is_any(&["prolonged", "extended"])
                    || (t.is_any(&["water", "dry"])
                        && next.is_some_and(|n| n.is_any(FAST_WORDS)))
            }
        }
    })
}

const CLAIM_VERBS: &[&str] = &[
    "cure",
    "cures",
    "cured",
    "curing",
    "heal",
    "heals",
    "healed",
    "healing",
    "reverse",
    "reverses",
    "reversed",
    "reversing",
    "treat",
    "treats",
    "treating",
    "eliminate",
    "eliminates",
    "eradicate",
    "eradicates",
    "fix",
    "fixes",
    "beat",
    "beats",
];
const DISEASES: &[&str] = &[
    "diabetes",
    "cancer",
    "cancers",
    "tumour",
    "tumor",
    "tumours",
    "tumors",
    "hypertension",
    "arthritis",
    "pcos",
    "ibs",
    "crohn's",
    "crohn",
    "colitis",
    "depression",
    "anxiety",
    "alzheimer's",
    "alzheimer",
    "dementia",
    "autism",
    "adhd",
    "asthma",
    "psoriasis",
    "eczema",
    "coeliac",
    "celiac",
    "hypothyroidism",
    "thyroid",
    "endometriosis",
    "migraine",
    "migraines",
    "gout",
    "osteoporosis",
    "acne",
    "obesity",
    "covid",
    "infection",
    "infections",
    "disease",
    "diseases",
    "illness",
];
const CLAIM_HEDGES: &[&str] = &[
    "not",
    "no",
    "doesn't",
    "don't",
    "cannot",
    "can't",
    "won't",
    "never",
    "isn't",
    "nothing",
    "doctor",
    "doctor's",
    "physician",
    "medication",
    "medicine",
    "prescribed",
    "gp",
    "clinician",
    "specialist",
    "team",
    "manage",
    "managing",
    "support",
    "supports",
    "alongside",
];

/// `medical-claim` (warn): the text claims food cures or treats a disease.
pub(crate) fn medical_claims(text: &str, tokens: &[Token]) -> Vec<Finding> {
    let mut findings = Vec::new();
    for clause in clauses(tokens) {
        let claims = clause.iter().any(|t| t.has(CLAIM_VERB));
        if !claims {
            continue;
        }
        let disease = clause.iter().any(|t| t.is_any(DISEASES)) || {
            let joined = joined(clause);
            joined.contains(" blood pressure ") || joined.contains(" heart disease ")
        };
        if disease && !clause.iter().any(|t| t.is_any(CLAIM_HEDGES)) {
            let (start, end) = span_of(clause);
            findings.push(Finding::warn(
                FindingCode::MedicalClaim,
                "Claims that food cures or treats a disease.".into(),
                excerpt(text, start, end.min(start + 200), EXCERPT_CHARS),
            ));
        }
    }
    findings
}

/// The delimiters of our prompt: a text that reproduces one leaks the prompt's shape.
const DELIMITERS: &[&str] = &[
    "<input>",
    "</input>",
    "<style_example",
    "</style_example>",
    "<client_profile>",
    "</client_profile>",
    "<style_guidance>",
    "</style_guidance>",
    "&lt;style_example",
    "&lt;input&gt;",
];

fn normalized(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// `prompt-leak`: the text reproduces the system prompt or the prompt's delimiters.
pub(crate) fn prompt_leak(text: &str, tokens: &[Token], system_prompt: &str) -> Vec<Finding> {
    // Every delimiter starts with `<` or `&lt;`: most texts need no lower-cased copy.
    let leaked_delimiter = if text.contains('<') || text.contains("&lt;") || text.contains("&LT;") {
        let haystack = normalized(text);
        DELIMITERS.iter().find(|d| haystack.contains(*d))
    } else {
        None
    };
    let what = match (leaked_delimiter, reproduces_prompt(tokens, system_prompt)) {
        (Some(d), _) => format!("the prompt delimiter {d}"),
        (None, true) => "a sentence of the system prompt".to_owned(),
        (None, false) => return Vec::new(),
    };
    vec![Finding::new(
        FindingCode::PromptLeak,
        format!("Reproduces {what}."),
        String::new(),
    )]
}

/// Any eight words of the system prompt in a row, verbatim: no text of ours needs them,
/// and a leak (whole or in part) contains them. Each of the prompt's words has a number
/// (the prompt is read once per thread and kept while it stays the same); a text word
/// outside the prompt breaks the run, and only a run of eight prompt words is looked up
/// among the prompt's windows.
fn reproduces_prompt(tokens: &[Token], system_prompt: &str) -> bool {
    const WINDOW: usize = 8;
    struct Prompt {
        text: String,
        vocabulary: HashMap<String, u32>,
        windows: std::collections::HashSet<Vec<u32>>,
    }
    impl Prompt {
        fn read(text: &str) -> Self {
            let mut vocabulary: HashMap<String, u32> = HashMap::new();
            let ids: Vec<u32> = tokenize(text)
                .into_iter()
                .map(|t| {
                    let next = vocabulary.len() as u32;
                    *vocabulary.entry(t.text).or_insert(next)
                })
                .collect();
            let windows = ids.windows(WINDOW).map(<[u32]>::to_vec).collect();
            Self {
                text: text.to_owned(),
                vocabulary,
                windows,
            }
        }
    }
    thread_local! {
        static PROMPT: std::cell::RefCell<Option<Prompt>> = const { std::cell::RefCell::new(None) };
    }
    PROMPT.with_borrow_mut(|cached| {
        if cached.as_ref().is_none_or(|p| p.text != system_prompt) {
            *cached = Some(Prompt::read(system_prompt));
        }
        let prompt = cached.as_ref().expect("just read");
        let mut run: Vec<u32> = Vec::with_capacity(WINDOW);
        for token in tokens {
            match prompt.vocabulary.get(&token.text) {
                Some(&id) => {
                    if run.len() == WINDOW {
                        run.remove(0);
                    }
                    run.push(id);
                    if run.len() == WINDOW && prompt.windows.contains(&run) {
                        return true;
                    }
                }
                None => run.clear(),
            }
        }
        false
    })
}

/// Every text check, in order.
pub(crate) fn check_text(
    text: &str,
    profile: &ClientProfile,
    thresholds: &SafetyThresholds,
    system_prompt: &str,
) -> Vec<Finding> {
    let mut tokens = tokenize(text);
    classify(&mut tokens);
    let mut findings = allergen_conflicts(text, &tokens, profile);
    findings.extend(calorie_floor(
        text,
        &tokens,
        profile.calorie_floor(thresholds),
    ));
    findings.extend(dangerous_practices(text, &tokens));
    findings.extend(prompt_leak(text, &tokens, system_prompt));
    findings.extend(medical_claims(text, &tokens));
    findings
}
