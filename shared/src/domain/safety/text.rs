//! Text as the safety checks read it: lower-cased word and number tokens with their byte
//! spans in the original, grouped into clauses and sentences. A clause ends at `;`, `:`,
//! brackets, a dash between words with spaces, a bullet or a line break; a sentence at
//! `.`, `!` or `?` (not inside a number) and at a blank line. Commas do not end a clause
//! (lists run across them). A hyphen glued between two tokens ("peanut-free",
//! "72-hour") is remembered on the second.

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    /// Lower-case text (a number keeps its digits, separators removed).
    pub text: String,
    /// Byte span in the original text.
    pub start: usize,
    pub end: usize,
    /// The value of a number token ("1,200" → 1200.0, "1.5" → 1.5).
    pub number: Option<f64>,
    /// Joined to the previous token by a hyphen with no spaces ("peanut-free").
    pub hyphenated: bool,
    /// A range dash ("1,000–1,200" or "1000-1200") joins this number to the previous.
    pub range: bool,
    /// A comma stood between this token and the previous one.
    pub after_comma: bool,
    pub clause: usize,
    pub sentence: usize,
    /// Word classes a check assigned (a bit set; see `checks::classify`), so that hot
    /// loops test a bit instead of comparing against word lists.
    pub classes: u16,
}

impl Token {
    pub fn is(&self, word: &str) -> bool {
        self.text == word
    }

    pub fn has(&self, class: u16) -> bool {
        self.classes & class != 0
    }

    pub fn is_any(&self, words: &[&str]) -> bool {
        words.iter().any(|w| self.text == *w)
    }
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || (!c.is_ascii() && c.is_alphanumeric())
}

/// Splits `text` into tokens.
pub(crate) fn tokenize(text: &str) -> Vec<Token> {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let mut tokens: Vec<Token> = Vec::with_capacity(text.len() / 5);
    let (mut clause, mut sentence) = (0, 0);
    let (mut hyphen, mut range, mut comma) = (false, false, false);
    let mut i = 0;
    while i < chars.len() {
        let (offset, c) = chars[i];
        if is_word_char(c) {
            let start = offset;
            let numeric = c.is_ascii_digit();
            let mut j = i;
            let mut digits = String::new();
            let mut word = String::new();
            while j < chars.len() {
                let ch = chars[j].1;
                if is_word_char(ch) {
                    if numeric && ch.is_ascii_digit() {
                        digits.push(ch);
                    }
                    if ch.is_ascii() {
                        word.push(ch.to_ascii_lowercase());
                    } else {
                        word.extend(ch.to_lowercase());
                    }
                    j += 1;
                    continue;
                }
                // Inside a number: thousands separators and a decimal point.
                let next_digit = chars.get(j + 1).is_some_and(|(_, n)| n.is_ascii_digit());
                if numeric && (ch == ',' || ch == '.') && next_digit {
                    if ch == '.' {
                        digits.push('.');
                    }
                    word.push(ch);
                    j += 1;
                    continue;
                }
                // Inside a word: an apostrophe ("don't", "cow's").
                let next_word = chars.get(j + 1).is_some_and(|(_, n)| n.is_alphabetic());
                if (ch == '\'' || ch == '\u{2019}') && next_word && !numeric {
                    word.push('\'');
                    j += 1;
                    continue;
                }
                break;
            }
            let end = chars.get(j).map_or(text.len(), |(o, _)| *o);
            let number = if numeric
                && word
                    .chars()
                    .all(|ch| ch.is_ascii_digit() || ch == ',' || ch == '.')
            {
                digits.parse::<f64>().ok()
            } else {
                None
            };
            tokens.push(Token {
                classes: 0,
                text: word,
                start,
                end,
                number,
                hyphenated: hyphen,
                range,
                after_comma: comma,
                clause,
                sentence,
            });
            (hyphen, range, comma) = (false, false, false);
            i = j;
            continue;
        }
        let prev_word = i > 0 && is_word_char(chars[i - 1].1);
        let next_word = chars.get(i + 1).is_some_and(|(_, n)| is_word_char(*n));
        match c {
            '-' | '\u{2010}' | '\u{2011}' if prev_word && next_word => {
                let numbers = chars[i - 1].1.is_ascii_digit()
                    && chars.get(i + 1).is_some_and(|(_, n)| n.is_ascii_digit());
                if numbers {
                    range = true;
                } else {
                    hyphen = true;
                }
            }
            '\u{2013}' => {
                // En dash: a range between numbers ("1,000–1,200"), else a clause break.
                let numbers = tokens.last().is_some_and(|t| t.number.is_some())
                    && chars[i + 1..]
                        .iter()
                        .find(|(_, n)| !n.is_whitespace())
                        .is_some_and(|(_, n)| n.is_ascii_digit());
                if numbers {
                    range = true;
                } else {
                    clause += 1;
                }
            }
            '-' | '\u{2014}' => clause += 1,
            ',' => comma = true,
            ';' | ':' | '(' | ')' | '[' | ']' | '\u{2022}' | '*' => clause += 1,
            '.' | '!' | '?' => {
                clause += 1;
                sentence += 1;
            }
            '\n' => {
                clause += 1;
                if chars.get(i + 1).is_some_and(|(_, n)| *n == '\n') || line_is_item(&chars, i) {
                    sentence += 1;
                }
            }
            _ => {}
        }
        i += 1;
    }
    tokens
}

/// A line break before a list item (`- `, `* `, `1. `) starts a new sentence.
fn line_is_item(chars: &[(usize, char)], newline: usize) -> bool {
    let rest: String = chars[newline + 1..]
        .iter()
        .map(|(_, c)| *c)
        .skip_while(|c| *c == ' ')
        .take(3)
        .collect();
    rest.starts_with("- ")
        || rest.starts_with("* ")
        || rest.starts_with('\u{2022}')
        || rest.chars().next().is_some_and(|c| c.is_ascii_digit())
}

/// Up to `max` characters of `text` around `start..end`, on character boundaries, with
/// whitespace collapsed: the excerpt a finding shows.
pub(crate) fn excerpt(text: &str, start: usize, end: usize, max: usize) -> String {
    let margin = max.saturating_sub(end - start) / 2;
    let mut from = text[..start]
        .char_indices()
        .rev()
        .nth(margin)
        .map_or(0, |(i, _)| i);
    let mut to = text[end..]
        .char_indices()
        .nth(margin)
        .map_or(text.len(), |(i, _)| end + i);
    // Whole words only: a cut word moves the edge to the next space inward.
    if from > 0 && !text[..from].ends_with(char::is_whitespace) {
        from = text[from..start]
            .find(char::is_whitespace)
            .map_or(start, |i| from + i);
    }
    if to < text.len() && !text[to..].starts_with(char::is_whitespace) {
        to = text[end..to]
            .rfind(char::is_whitespace)
            .map_or(end, |i| end + i);
    }
    let quoted = text[from..to]
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let before = if from > 0 { "… " } else { "" };
    let after = if to < text.len() { " …" } else { "" };
    format!("{before}{quoted}{after}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<String> {
        tokenize(text).into_iter().map(|t| t.text).collect()
    }

    #[test]
    fn excerpts_quote_whole_words() {
        let text = "Use oat milk instead of almond milk in your porridge every morning.";
        let start = text.find("almond").unwrap();
        let end = start + "almond milk".len();
        assert_eq!(excerpt(text, start, end, 30), "… of almond milk in your …");
        assert_eq!(excerpt(text, start, end, 500), text);
        assert_eq!(excerpt("almond", 0, 6, 2), "almond");
    }

    #[test]
    fn words_numbers_and_joins() {
        let tokens = tokenize("Peanut-free snacks: 1,200 kcal a day; don't skip 1.5 meals");
        assert_eq!(
            words("Peanut-free snacks: 1,200 kcal a day"),
            ["peanut", "free", "snacks", "1,200", "kcal", "a", "day"]
        );
        assert!(tokens[1].hyphenated);
        assert_eq!(tokens[3].number, Some(1200.0));
        assert_eq!(tokens[2].clause, 0);
        assert_eq!(tokens[3].clause, 1);
        let dont = tokens.iter().find(|t| t.text == "don't").unwrap();
        assert_eq!(dont.clause, 2);
        assert_eq!(
            tokens.iter().find(|t| t.text == "1.5").unwrap().number,
            Some(1.5)
        );
    }

    #[test]
    fn ranges_sentences_and_excerpts() {
        let tokens = tokenize("Aim for 1,000\u{2013}1,200 kcal. Then 800-900 more.");
        let second = tokens.iter().find(|t| t.text == "1,200").unwrap();
        assert!(second.range);
        assert_eq!(second.sentence, 0);
        let then = tokens.iter().find(|t| t.text == "then").unwrap();
        assert_eq!(then.sentence, 1);
        assert!(tokens.iter().find(|t| t.text == "900").unwrap().range);
        let text = "Start the day with a big bowl of peanut butter porridge and fruit.";
        let at = text.find("peanut").unwrap();
        let cut = excerpt(text, at, at + 6, 30);
        assert!(cut.contains("peanut") && cut.chars().count() <= 31, "{cut}");
    }
}
