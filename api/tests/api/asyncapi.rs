//! The AsyncAPI document: AsyncAPI 3.0, every reference resolves, and every event type and frame
//! type in the code has its message. The code's lists are read from the source (each aggregate's
//! `event_type`, the `Frame` and `ClientFrame` enums' serde names), not from the types the
//! document is made from, so a type the document misses fails here.

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value;

use crate::helpers::{refs_in, spawn_app};

/// Every `event_type` string the domain's `fn event_type` bodies answer with.
fn event_types_in_code() -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut dirs = vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("../domain/src")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            let source = std::fs::read_to_string(&path).unwrap();
            let Some(start) = source.find("fn event_type(&self)") else {
                continue;
            };
            let body = &source[start..];
            let body = &body[..body.find("\n    }\n").unwrap_or(body.len())];
            for arm in body.split("=> \"").skip(1) {
                found.insert(arm.split('"').next().unwrap().to_owned());
            }
        }
    }
    found
}

/// The serde names of the variants of `pub enum <name>` in the frames module.
fn frame_types_in_code(name: &str) -> BTreeSet<String> {
    let source = include_str!("../../../projections/src/frames/mod.rs");
    let start = source
        .find(&format!("pub enum {name} {{"))
        .unwrap_or_else(|| panic!("enum {name}"));
    let body = &source[start..];
    let body = &body[..body.find("\n}\n").unwrap()];
    body.split("rename = \"")
        .skip(1)
        .map(|s| s.split('"').next().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn every_event_type_and_frame_type_has_its_message() {
    let app = spawn_app().await;
    let doc = app.json_at("/api/v1/asyncapi.json").await;
    assert_eq!(doc["asyncapi"], "3.0.0");
    let messages = doc["components"]["messages"].as_object().unwrap();

    let events = event_types_in_code();
    assert!(events.len() > 40, "{events:?}");
    let on_events: BTreeSet<String> = doc["channels"]["events"]["messages"]
        .as_object()
        .unwrap()
        .keys()
        .map(|k| messages[k.as_str()]["name"].as_str().unwrap().to_owned())
        .collect();
    let missing: Vec<_> = events.difference(&on_events).collect();
    assert!(
        missing.is_empty(),
        "event types without a message: {missing:?}"
    );

    for (prefix, enum_name) in [("frame", "Frame"), ("client", "ClientFrame")] {
        let kinds = frame_types_in_code(enum_name);
        assert!(kinds.len() > 5, "{enum_name}: {kinds:?}");
        for kind in kinds {
            let name = format!("{prefix}.{kind}");
            assert!(
                messages.contains_key(&name),
                "{enum_name} `{kind}` has no message"
            );
            assert!(
                doc["channels"]["socket"]["messages"].get(&name).is_some(),
                "{name} is not on the socket channel"
            );
        }
    }

    // A message's payload is the envelope around its event's own fields.
    let sent = &messages["chat_room.MessageSent"];
    assert_eq!(sent["headers"]["$ref"], "#/components/schemas/EventHeaders");
    let payload =
        &sent["payload"]["allOf"][1]["properties"]["payload"]["properties"]["MessageSent"];
    let fields = resolve(&doc, payload);
    for field in ["room_id", "message_id", "seq", "sender_id"] {
        assert!(
            fields["properties"].get(field).is_some(),
            "MessageSent lacks {field}: {fields}"
        );
    }

    let references = refs_in(&doc);
    assert!(references.len() > 100);
    for reference in references {
        let pointer = reference.strip_prefix('#').unwrap();
        assert!(
            doc.pointer(pointer).is_some(),
            "{reference} resolves to nothing"
        );
    }
}

fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(reference) => doc.pointer(reference.strip_prefix('#').unwrap()).unwrap(),
        None => schema,
    }
}
