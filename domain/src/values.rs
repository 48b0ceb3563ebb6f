//! Value types that validate once, at the edge, so the rest of the code can trust them.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::error::{ErrorKind, Rejection};

/// A value that did not pass validation; `field` names which one.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{field}: {reason}")]
pub struct InvalidValue {
    /// The field the value was meant for.
    pub field: &'static str,
    /// Why it was refused, in words a client developer can act on.
    pub reason: String,
}

impl Rejection for InvalidValue {
    fn kind(&self) -> ErrorKind {
        ErrorKind::Invalid
    }
    fn code(&self) -> &'static str {
        "invalid_value"
    }
}

fn invalid(field: &'static str, reason: impl Into<String>) -> InvalidValue {
    InvalidValue {
        field,
        reason: reason.into(),
    }
}

/// Trimmed text of `min..=max` characters with no control characters (newlines allowed if asked).
fn text(
    field: &'static str,
    raw: &str,
    max: usize,
    allow_newlines: bool,
) -> Result<String, InvalidValue> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err(invalid(field, "must not be empty"));
    }
    let chars = trimmed.chars().count();
    if chars > max {
        return Err(invalid(
            field,
            format!("must be at most {max} characters, got {chars}"),
        ));
    }
    if trimmed
        .chars()
        .any(|c| c.is_control() && !(allow_newlines && (c == '\n' || c == '\t')))
    {
        return Err(invalid(field, "must not contain control characters"));
    }
    Ok(trimmed.to_owned())
}

macro_rules! text_value {
    ($(#[$doc:meta])* $name:ident, $field:literal, $max:literal, $newlines:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Validates and normalises raw input.
            pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
                text($field, raw, $max, $newlines).map(Self)
            }

            /// The validated text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

text_value!(
    /// How a user is shown to others: 1 to 50 characters.
    DisplayName, "display_name", 50, false
);
text_value!(
    /// What a user says about themself: 1 to 500 characters, newlines allowed.
    Bio, "bio", 500, true
);
text_value!(
    /// Why an admin acted (a suspension's reason): 1 to 500 characters.
    Reason, "reason", 500, true
);
text_value!(
    /// A chat room's name: 1 to 100 characters.
    RoomName, "name", 100, false
);
text_value!(
    /// A game's title: 1 to 100 characters.
    GameTitle, "title", 100, false
);
text_value!(
    /// A chat message: 1 to 4000 characters, newlines allowed.
    MessageBody, "body", 4000, true
);
text_value!(
    /// A plan's or an anniversary's title: 1 to 100 characters.
    Title, "title", 100, false
);
text_value!(
    /// Where a plan happens: 1 to 200 characters.
    Place, "place", 200, false
);
text_value!(
    /// A note on a plan: 1 to 2000 characters, newlines allowed.
    Memo, "memo", 2000, true
);
text_value!(
    /// A club's name: 1 to 50 characters.
    ClubName, "name", 50, false
);
text_value!(
    /// What a club is about: 1 to 2000 characters, newlines allowed.
    ClubDescription, "description", 2000, true
);
text_value!(
    /// A post's title: 1 to 200 characters.
    PostTitle, "title", 200, false
);
text_value!(
    /// A post's text: 1 to 20000 characters, newlines allowed.
    PostBody, "body", 20000, true
);
text_value!(
    /// A board's category, e.g. `데이트 코스`: 1 to 30 characters.
    Category, "category", 30, false
);
text_value!(
    /// A comment: 1 to 2000 characters, newlines allowed.
    CommentBody, "body", 2000, true
);

/// An IANA time zone name (`Asia/Seoul`), checked against the tz database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeZoneName(chrono_tz::Tz);

impl TimeZoneName {
    /// The zone Moim's couples count their days in unless they say otherwise.
    pub const SEOUL: Self = Self(chrono_tz::Tz::Asia__Seoul);

    /// Validates an IANA name.
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        raw.trim()
            .parse::<chrono_tz::Tz>()
            .map(Self)
            .map_err(|_| invalid("time_zone", "must be an IANA time zone such as Asia/Seoul"))
    }

    /// The zone.
    pub fn tz(self) -> chrono_tz::Tz {
        self.0
    }

    /// Its IANA name.
    pub fn as_str(self) -> &'static str {
        self.0.name()
    }
}

/// A login e-mail address, lower-cased; checked for shape, not deliverability.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Email(String);

impl Email {
    /// Validates and lower-cases an address.
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let email = raw.trim().to_lowercase();
        if email.len() > 254 {
            return Err(invalid("email", "must be at most 254 characters"));
        }
        let Some((local, domain)) = email.split_once('@') else {
            return Err(invalid("email", "must contain @"));
        };
        let well_formed = !local.is_empty()
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains('@')
            && !email.chars().any(|c| c.is_whitespace() || c.is_control());
        if !well_formed {
            return Err(invalid("email", "is not an e-mail address"));
        }
        Ok(Self(email))
    }

    /// The normalised address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A password as typed: 8 to 128 characters. Never stored; only its argon2id hash is.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    /// The longest password accepted (so hashing one costs what hashing any does).
    pub const MAX_CHARS: usize = 128;

    /// Checks the length rules.
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let chars = raw.chars().count();
        if !(8..=Self::MAX_CHARS).contains(&chars) {
            return Err(invalid("password", "must be 8 to 128 characters"));
        }
        Ok(Self(raw.to_owned()))
    }

    /// The password itself, for hashing or verifying.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(***)")
    }
}

/// A couple invite code: 8 characters of Crockford base32 (no I, L, O, U), upper-cased.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct InviteCode(String);

impl InviteCode {
    /// The characters a code is made of.
    pub const ALPHABET: &'static [u8] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    /// How long a code is.
    pub const LEN: usize = 8;

    /// Validates a code typed by a user (case-insensitive, surrounding spaces ignored).
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let code = raw.trim().to_uppercase();
        if code.len() != Self::LEN || !code.bytes().all(|b| Self::ALPHABET.contains(&b)) {
            return Err(invalid(
                "code",
                "must be 8 characters of 0-9 and A-Z without I, L, O, U",
            ));
        }
        Ok(Self(code))
    }

    /// The code.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// How many players a game takes: 1 to 1000.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct MaxParticipants(u32);

impl MaxParticipants {
    /// Checks the range.
    pub fn new(n: i64) -> Result<Self, InvalidValue> {
        match u32::try_from(n) {
            Ok(n) if (1..=1000).contains(&n) => Ok(Self(n)),
            _ => Err(invalid("max_participants", "must be 1 to 1000")),
        }
    }

    /// The limit.
    pub fn get(self) -> u32 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_trimmed_and_bounded() {
        assert_eq!(
            DisplayName::parse("  Ji-woo ").map(|n| n.0),
            Ok("Ji-woo".to_owned())
        );
        assert!(DisplayName::parse("   ").is_err());
        assert!(DisplayName::parse(&"가".repeat(50)).is_ok());
        assert!(DisplayName::parse(&"가".repeat(51)).is_err());
        assert!(DisplayName::parse("a\u{0}b").is_err());
        assert!(DisplayName::parse("a\nb").is_err());
        assert!(MessageBody::parse("line one\nline two").is_ok());
    }

    #[test]
    fn emails_are_lowercased_and_shaped() {
        assert_eq!(
            Email::parse(" Kim@Example.COM ").map(|e| e.0),
            Ok("kim@example.com".into())
        );
        for bad in [
            "",
            "kim",
            "@example.com",
            "kim@",
            "kim@example",
            "kim@@example.com",
            "a b@c.d",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn passwords_have_a_length_and_never_print() {
        assert!(Password::parse("short").is_err());
        assert!(Password::parse("long enough").is_ok());
        let printed = format!("{:?}", Password::parse("hunter22!").ok());
        assert!(!printed.contains("hunter"));
    }

    #[test]
    fn invite_codes_use_crockford_letters() {
        assert_eq!(
            InviteCode::parse(" ab12cd34 ").map(|c| c.0),
            Ok("AB12CD34".into())
        );
        assert!(InviteCode::parse("AB12CD3").is_err());
        assert!(InviteCode::parse("AB12CD3O").is_err());
    }

    #[test]
    fn max_participants_is_bounded() {
        assert!(MaxParticipants::new(0).is_err());
        assert!(MaxParticipants::new(1001).is_err());
        assert_eq!(MaxParticipants::new(10).map(MaxParticipants::get), Ok(10));
    }
}
