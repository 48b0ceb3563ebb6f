//! Personal data in events, and how it is sealed so that deleting an account makes it unreadable
//! for good (crypto-shredding).
//!
//! Events are never rewritten, so a deleted user's name cannot be taken out of them; instead the
//! fields listed here are stored sealed with a key of the user's own (ChaCha20-Poly1305), and
//! deleting the account destroys the key. Whoever reads an event opens its fields with the key
//! when it still exists, and sees [`placeholder`]s when it does not — so a replay after a deletion
//! shows the user as deleted while every other event replays as before. Which facts are personal
//! is the domain's knowledge; keeping the keys is the store's (`commands` seals on append,
//! `projections` opens on apply, both through these functions).

use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use serde_json::Value;
use uuid::Uuid;

/// What a sealed value starts with (a sealed value is a JSON string, so an event that holds
/// one still deserialises: a field of text holds the sealed text until it is opened).
pub const SEALED: &str = "sealed:";

/// The name a deleted user is shown with.
pub const DELETED_NAME: &str = "deleted user";

/// The personal fields of an event type, as keys of its stored payload's body (a payload is
/// `{"<event type>": {…}}`); the user they belong to is the body's `user_id`.
pub fn fields(aggregate_type: &str, event_type: &str) -> &'static [&'static str] {
    match (aggregate_type, event_type) {
        ("user", "UserRegistered") => &["display_name"],
        ("user", "ProfileUpdated") => &["display_name", "bio", "birthday"],
        ("user", "IdentityLinked") => &["subject"],
        ("user", "GameCharacterLinked") => &["character_id", "character_name"],
        ("session", "SessionStarted") => &["user_agent", "ip"],
        _ => &[],
    }
}

/// Whose personal data a payload of `event_type` holds.
pub fn owner(event_type: &str, payload: &Value) -> Option<Uuid> {
    payload
        .get(event_type)?
        .get("user_id")?
        .as_str()?
        .parse()
        .ok()
}

/// The body of a stored payload, where its fields are.
pub fn body_mut<'a>(event_type: &str, payload: &'a mut Value) -> Option<&'a mut Value> {
    payload.get_mut(event_type)
}

/// What a field reads as once its key is gone.
pub fn placeholder(field: &str) -> Value {
    match field {
        "display_name" => Value::String(DELETED_NAME.into()),
        "subject" | "character_id" | "character_name" => Value::String(String::new()),
        _ => Value::Null,
    }
}

/// Whether a value is sealed.
pub fn is_sealed(value: &Value) -> bool {
    value.as_str().is_some_and(|s| s.starts_with(SEALED))
}

/// Seals `value` (any JSON) with `key`; `nonce` must never repeat for one key.
pub fn seal(key: &[u8; 32], nonce: [u8; 12], value: &Value) -> Option<Value> {
    let cipher = ChaCha20Poly1305::new(&Key::from(*key));
    let plain = serde_json::to_vec(value).ok()?;
    let sealed = cipher.encrypt(&Nonce::from(nonce), plain.as_slice()).ok()?;
    let mut bytes = nonce.to_vec();
    bytes.extend(sealed);
    let text = base64::engine::general_purpose::STANDARD_NO_PAD.encode(bytes);
    Some(Value::String(format!("{SEALED}{text}")))
}

/// Opens a sealed value with `key`; none when it is not sealed with it.
pub fn open(key: &[u8; 32], sealed: &Value) -> Option<Value> {
    let text = sealed.as_str()?.strip_prefix(SEALED)?;
    let bytes = base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(text)
        .ok()?;
    if bytes.len() < 12 {
        return None;
    }
    let (nonce, sealed) = bytes.split_at(12);
    let cipher = ChaCha20Poly1305::new(&Key::from(*key));
    let nonce = Nonce::from(<[u8; 12]>::try_from(nonce).ok()?);
    let plain = cipher.decrypt(&nonce, sealed).ok()?;
    serde_json::from_slice(&plain).ok()
}

/// Opens every sealed personal field of a payload in place, with `key` when the owner's key
/// still exists, and with placeholders when it does not (or does not open it).
pub fn open_payload(
    aggregate_type: &str,
    event_type: &str,
    payload: &mut Value,
    key: Option<&[u8; 32]>,
) {
    let Some(body) = body_mut(event_type, payload) else {
        return;
    };
    for field in fields(aggregate_type, event_type) {
        let Some(value) = body.get_mut(*field) else {
            continue;
        };
        if !is_sealed(value) {
            continue;
        }
        *value = key
            .and_then(|key| open(key, value))
            .unwrap_or_else(|| placeholder(field));
    }
}

/// Whether a payload has any sealed field.
pub fn has_sealed(aggregate_type: &str, event_type: &str, payload: &Value) -> bool {
    let Some(body) = payload.get(event_type) else {
        return false;
    };
    fields(aggregate_type, event_type)
        .iter()
        .any(|field| body.get(*field).is_some_and(is_sealed))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_sealed_field_opens_with_its_key_and_reads_as_deleted_without_it() {
        let key = [7u8; 32];
        let mut payload = json!({ "ProfileUpdated": { "user_id": Uuid::from_u128(1),
            "display_name": "서연", "bio": "hi", "birthday": null, "at": "2026-01-01T00:00:00Z" } });
        assert_eq!(owner("ProfileUpdated", &payload), Some(Uuid::from_u128(1)));
        for field in fields("user", "ProfileUpdated") {
            let value = payload["ProfileUpdated"][*field].clone();
            if !value.is_null() {
                payload["ProfileUpdated"][*field] = seal(&key, [1; 12], &value).unwrap();
            }
        }
        assert!(!payload.to_string().contains("서연"));
        assert!(has_sealed("user", "ProfileUpdated", &payload));
        let mut opened = payload.clone();
        open_payload("user", "ProfileUpdated", &mut opened, Some(&key));
        assert_eq!(opened["ProfileUpdated"]["display_name"], "서연");
        assert_eq!(opened["ProfileUpdated"]["bio"], "hi");
        let mut shredded = payload.clone();
        open_payload("user", "ProfileUpdated", &mut shredded, None);
        assert_eq!(shredded["ProfileUpdated"]["display_name"], DELETED_NAME);
        assert!(shredded["ProfileUpdated"]["bio"].is_null());
        let mut wrong = payload;
        open_payload("user", "ProfileUpdated", &mut wrong, Some(&[8u8; 32]));
        assert_eq!(wrong["ProfileUpdated"]["display_name"], DELETED_NAME);
    }
}
