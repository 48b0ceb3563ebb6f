//! The character pairs chat and board search look text up by, computed here, not in PostgreSQL.
//!
//! Korean has no spaces inside words and many two-syllable words, so a text is indexed by every
//! pair of neighbouring characters within each of its words, lower-cased: `안녕` and `하세요`
//! both find `안녕하세요`, `HELLO` finds `hello`. A query's pairs must all be among a row's
//! (a GIN index over the `grams` column), then the text itself is checked, so the pairs only
//! narrow and never decide. The views compute a row's pairs as they write it and the searches
//! compute a query's with the same function. In SQL this cost 29.5 µs a message, most of a
//! replay's time (docs/performance.md); here it is about a microsecond. A pair is stored as one
//! integer ([`Pair`]), not as text: the index then compares integers, and builds in half the
//! time.
//!
//! The pairs may narrow only where the text check would fail too: whenever PostgreSQL finds
//! `lower(query)` in `lower(text)`, the query's pairs must be among the text's. So the pairs see
//! two characters alike wherever any `lower()` may map them alike ([`fold`]): PostgreSQL with
//! libc lower-cases one character at a time, with ICU a word at once (a final `Σ` becomes `ς`,
//! `İ` becomes `i` and a combining dot). A test checks against the server, for every character
//! of the first two planes, that two characters its `lower()` maps alike are folded alike.

/// A pair as stored: its two characters' code points side by side (each fits in 21 bits), so
/// two pairs are equal exactly when their characters are, and the index compares integers.
pub type Pair = i64;

/// The distinct pairs of `text`, sorted; none for a text without a word of two characters.
pub fn of(text: &str) -> Vec<Pair> {
    let mut pairs = Vec::new();
    // The character before, within the same word; folded as it goes, with no folded copy made.
    let mut before = None;
    for c in text.chars().filter_map(fold) {
        if c.is_whitespace() {
            before = None;
            continue;
        }
        if let Some(first) = before {
            pairs.push(pair(first, c));
        }
        before = Some(c);
    }
    pairs.sort_unstable();
    pairs.dedup();
    pairs
}

fn pair(first: char, second: char) -> Pair {
    (Pair::from(u32::from(first)) << 21) | Pair::from(u32::from(second))
}

/// The pairs of many rows, for one statement: PostgreSQL's arrays are rectangular, so rather
/// than an array per row, all the pairs go as one array and each row names its slice of it,
/// `pairs[from:to]` (1-based, inclusive; empty where `from` is past `to`).
#[derive(Debug, Default)]
pub struct Packed {
    /// Every row's pairs, one row after another.
    pub pairs: Vec<Pair>,
    /// Where each row's pairs start.
    pub from: Vec<i32>,
    /// Where each row's pairs end.
    pub to: Vec<i32>,
}

impl Packed {
    /// Adds a row with the pairs of `text`; none for no text.
    pub fn push(&mut self, text: Option<&str>) {
        let from = self.pairs.len() + 1;
        if let Some(text) = text {
            self.pairs.extend(of(text));
        }
        self.from.push(i32::try_from(from).unwrap_or(i32::MAX));
        self.to
            .push(i32::try_from(self.pairs.len()).unwrap_or(i32::MAX));
    }
}

/// A row for each text, in order.
impl<'a> FromIterator<Option<&'a str>> for Packed {
    fn from_iter<I: IntoIterator<Item = Option<&'a str>>>(texts: I) -> Self {
        let mut packed = Self::default();
        for text in texts {
            packed.push(text);
        }
        packed
    }
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

    /// The pairs written out, sorted as [`of`] sorts them.
    fn pairs(written: &[&str]) -> Vec<Pair> {
        let mut pairs: Vec<Pair> = written
            .iter()
            .map(|p| {
                let mut chars = p.chars();
                pair(chars.next().unwrap(), chars.next().unwrap())
            })
            .collect();
        pairs.sort_unstable();
        pairs
    }

    #[test]
    fn a_korean_word_gives_each_pair_of_its_syllables() {
        assert_eq!(of("안녕하세요"), pairs(&["녕하", "세요", "안녕", "하세"]));
    }

    #[test]
    fn pairs_are_lower_cased_distinct_and_never_cross_a_space() {
        assert_eq!(of("Hello\tHELLO  lo"), pairs(&["el", "he", "ll", "lo"]));
    }

    #[test]
    fn pairs_of_different_characters_differ_even_at_the_top_of_unicode() {
        let top = char::MAX;
        assert_ne!(pair('a', top), pair('b', top));
        assert_ne!(pair(top, 'a'), pair(top, 'b'));
        assert!(pair(top, top) > 0);
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
    }

    #[test]
    fn packed_rows_each_name_their_slice() {
        let packed: Packed = [Some("ab 가나다"), None, Some("cd")].into_iter().collect();
        assert_eq!(packed.pairs.len(), 4);
        assert_eq!((packed.from, packed.to), (vec![1, 4, 4], vec![3, 3, 4]));
    }
}
