//! The offline provider's moderation: a small deterministic classifier for what the
//! provider's moderation exists to catch in this product — self-harm (eating disorders
//! included, as OpenAI's moderation counts them) and harassment. Supportive mentions
//! ("if you ever feel like hurting yourself, call…") are not flagged.

/// (category, phrases). Matched on the lower-cased text with whitespace collapsed.
const CATEGORIES: &[(&str, &[&str])] = &[
    (
        "self-harm",
        &[
            "kill yourself",
            "hurt yourself",
            "harm yourself",
            "cut yourself",
            "self-harm",
            "self harm",
            "end your life",
            "punish yourself",
            "don't deserve to eat",
            "do not deserve to eat",
            "pro-ana",
            "pro ana",
            "pro-mia",
            "thinspiration",
            "thinspo",
            "hunger is weakness",
            "earn your food",
        ],
    ),
    (
        "harassment",
        &[
            "fat pig",
            "disgusting fat",
            "you are disgusting",
            "you're disgusting",
            "you are worthless",
            "you're worthless",
            "lazy fat",
        ],
    ),
];

/// Words of a sentence that offers help rather than harm.
const SUPPORT: &[&str] = &[
    "helpline",
    "call",
    "reach out",
    "talk to",
    "you are not alone",
    "you're not alone",
    "support line",
    "samaritans",
    "crisis",
    "please tell",
];

/// The categories `text` is flagged for (empty: not flagged).
pub fn classify(text: &str) -> Vec<&'static str> {
    let lower = text
        .to_lowercase()
        .replace('\u{2019}', "'")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let mut flagged = Vec::new();
    for sentence in lower.split(['.', '!', '?', '\n']) {
        if SUPPORT.iter().any(|s| sentence.contains(s)) {
            continue;
        }
        for (category, phrases) in CATEGORIES {
            if phrases.iter().any(|p| sentence.contains(p)) && !flagged.contains(category) {
                flagged.push(*category);
            }
        }
    }
    flagged
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_harm_and_leaves_support_alone() {
        assert_eq!(classify("You don't deserve to eat today."), ["self-harm"]);
        assert_eq!(classify("Look at THINSPO boards."), ["self-harm"]);
        assert_eq!(classify("You are a fat pig."), ["harassment"]);
        assert!(
            classify("If you ever feel like hurting yourself, please call the helpline.")
                .is_empty()
        );
        assert!(classify("Enjoy a bowl of soup.").is_empty());
    }
}
