//! The character pairs chat and board search look text up by, computed here, not in PostgreSQL.
//!
//! Korean has no spaces inside words and many two-syllable words, so a text is indexed by every
//! pair of neighbouring characters within each of its words, lower-cased: `안녕` and `하세요`
//! both find `안녕하세요`, `HELLO` finds `hello`. A query's pairs must all be among a row's
//! (a GIN index over the `grams` column), then the text itself is checked, so the pairs only
//! narrow and never decide. The views compute a row's pairs as they write it and the searches
//! compute a query's with the same function. In SQL this cost 29.5 µs a message, most of a
//! replay's time (docs/performance.md); here it is about a microsecond.
//!
//! The pairs may narrow only where the text check would fail too: whenever PostgreSQL finds
//! `lower(query)` in `lower(text)`, the query's pairs must be among the text's. So the pairs see
//! two characters alike wherever any `lower()` may map them alike ([`fold`]): PostgreSQL with
//! libc lower-cases one character at a time, with ICU a word at once (a final `Σ` becomes `ς`,
//! `İ` becomes `i` and a combining dot). A test checks against the server, for every character
//! of the first two planes, that two characters its `lower()` maps alike are folded alike.

/// The distinct pairs of `text`, sorted; none for a text without a word of two characters.
pub fn of(text: &str) -> Vec<String> {
    let folded = folded(text);
    pairs(&folded).into_iter().map(str::to_owned).collect()
}

/// [`of`], space-separated: how a batch hands each row's pairs to PostgreSQL in one array
/// (`string_to_array(…, ' ')`), since no pair holds a space.
pub fn joined(text: &str) -> String {
    pairs(&folded(text)).join(" ")
}

fn folded(text: &str) -> String {
    text.chars().filter_map(fold).collect()
}

/// The distinct pairs of a folded text, sorted: cut from the text, not copied.
fn pairs(folded: &str) -> Vec<&str> {
    let mut pairs = Vec::new();
    for word in folded.split_whitespace() {
        // A pair runs from one character's start to the start of the character after next.
        let bounds = || word.char_indices().map(|(at, _)| at).chain([word.len()]);
        pairs.extend(
            bounds()
                .zip(bounds().skip(2))
                .map(|(start, end)| &word[start..end]),
        );
    }
    pairs.sort_unstable();
    pairs.dedup();
    pairs
}

/// `c` as the pairs see it: lower-cased by itself (the first character of its lower case, all
/// of it but for `İ`), a final `ς` as `σ`, and none for the combining dot above, which only
/// `İ` lower-cased in full leaves behind.
pub fn fold(c: char) -> Option<char> {
    match c.to_lowercase().next().unwrap_or(c) {
        'ς' => Some('σ'),
        '\u{307}' => None,
        lower => Some(lower),
    }
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
    fn a_query_found_in_a_text_has_its_pairs_among_the_texts() {
        // A final sigma inside a longer word, and a capital whose lower case is two characters;
        // then both as ICU lower-cases them (`ς`, and `i` with a combining dot).
        for (query, text) in [
            ("ΟΣ", "ΟΣΑ"),
            ("οσ", "ΟΣ"),
            ("SİT", "sit"),
            ("İstanbul", "istanbul"),
            ("λόγος", "ΛΌΓΟΣ"),
            ("i\u{307}st", "İSTANBUL"),
        ] {
            let within = of(text);
            assert!(
                of(query).iter().all(|pair| within.contains(pair)),
                "{query} in {text}"
            );
        }
    }

    #[test]
    fn one_letter_words_and_empty_text_have_none() {
        assert!(of("a b 가 ").is_empty());
        assert!(of("").is_empty());
        assert_eq!(joined("ab 가나다"), "ab 가나 나다");
    }
}
