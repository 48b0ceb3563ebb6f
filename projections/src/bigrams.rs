//! The character pairs chat and board search look text up by, computed here, not in PostgreSQL.
//!
//! Korean has no spaces inside words and many two-syllable words, so a text is indexed by every
//! pair of neighbouring characters within each of its words, lower-cased: `안녕` and `하세요`
//! both find `안녕하세요`, `HELLO` finds `hello`. A query's pairs must all be among a row's
//! (a GIN index over the `grams` column), then the text itself is checked, so the pairs only
//! narrow and never decide. The views compute a row's pairs as they write it and the searches
//! compute a query's with the same function, so the two always agree. In SQL this cost 29.5 µs
//! a message, most of a replay's time (docs/performance.md); here it is about a microsecond.

use std::collections::BTreeSet;

/// The distinct pairs of `text`, sorted; none for a text without a word of two characters.
pub fn of(text: &str) -> Vec<String> {
    let lower = text.to_lowercase();
    let mut pairs = BTreeSet::new();
    for word in lower.split_whitespace() {
        let bounds: Vec<usize> = word
            .char_indices()
            .map(|(at, _)| at)
            .chain([word.len()])
            .collect();
        for pair in bounds.windows(3) {
            pairs.insert(&word[pair[0]..pair[2]]);
        }
    }
    pairs.into_iter().map(str::to_owned).collect()
}

/// [`of`], space-separated: how a batch hands each row's pairs to PostgreSQL in one array
/// (`string_to_array(…, ' ')`), since no pair holds a space.
pub fn joined(text: &str) -> String {
    of(text).join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_korean_word_gives_each_pair_of_its_syllables() {
        assert_eq!(of("안녕하세요"), ["녕하", "세요", "안녕", "하세"]);
    }

    #[test]
    fn pairs_are_lower_cased_distinct_and_never_cross_a_space() {
        assert_eq!(of("Hello\tHELLO  lo"), ["el", "he", "ll", "lo"]);
    }

    #[test]
    fn one_letter_words_and_empty_text_have_none() {
        assert!(of("a b 가 ").is_empty());
        assert!(of("").is_empty());
        assert_eq!(joined("ab 가나다"), "ab 가나 나다");
    }
}
