//! The AsyncAPI 3.0 document of what Moim sends that is not an HTTP answer: the events on NATS
//! that other services subscribe to, and the WebSocket frames in both directions. Like the
//! OpenAPI document it is made from the code — each message's payload is the `ToSchema` of the
//! event or frame type it carries — and served, at `/api/v1/asyncapi.json`.
//!
//! One message per event type (named `<aggregate>.<EventType>`, the payload an envelope whose
//! `payload` is `{"<EventType>": {…}}`, as the relay publishes it) and one per frame type
//! (`frame.<type>` from the server, `client.<type>` from the client).

use domain::board::{Comment, Post};
use domain::chat::ChatRoom;
use domain::club::Club;
use domain::couple::{Couple, Invite};
use domain::game::Game;
use domain::inbox::Inbox;
use domain::media::Media;
use domain::plan::Plan;
use domain::session::Session;
use domain::user::User;
use domain::Aggregate;
use moim_nats::envelope::{headers, EventEnvelope};
use projections::frames::{InFrame, OutFrame};
use serde_json::{json, Map, Value};
use utoipa::ToSchema;

/// Where the document is served.
pub const DOCUMENT_PATH: &str = "/api/v1/asyncapi.json";

/// The document.
pub fn document() -> Value {
    let mut parts = Parts::default();
    let mut events = Vec::new();
    events.extend(parts.events::<ChatRoom>());
    events.extend(parts.events::<User>());
    events.extend(parts.events::<Session>());
    events.extend(parts.events::<Invite>());
    events.extend(parts.events::<Couple>());
    events.extend(parts.events::<Plan>());
    events.extend(parts.events::<Club>());
    events.extend(parts.events::<Game>());
    events.extend(parts.events::<Post>());
    events.extend(parts.events::<Comment>());
    events.extend(parts.events::<Media>());
    events.extend(parts.events::<Inbox>());
    let from_server = parts.frames::<OutFrame>("frame", "Frame");
    let from_client = parts.frames::<InFrame>("client", "ClientFrame");
    parts.schemas.insert("EventHeaders".into(), event_headers());

    let refs = |channel: &str, names: &[String]| -> Vec<Value> {
        names
            .iter()
            .map(|n| json!({ "$ref": format!("#/channels/{channel}/messages/{n}") }))
            .collect()
    };
    let channel_messages = |names: &[String]| -> Map<String, Value> {
        names
            .iter()
            .map(|n| {
                (
                    n.clone(),
                    json!({ "$ref": format!("#/components/messages/{n}") }),
                )
            })
            .collect()
    };
    let mut socket_messages = channel_messages(&from_server);
    socket_messages.extend(channel_messages(&from_client));
    json!({
        "asyncapi": "3.0.0",
        "info": {
            "title": "Moim events and frames",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Every committed event is published once, in commit order, to the \
                JetStream stream `<PREFIX>_EVENTS` (`MOIM_SUBJECT_PREFIX` upper-cased) on the \
                subject `<prefix>.events.<aggregate>.<id>`, with `Nats-Msg-Id` set to the event \
                id. A subscriber reads it with its own durable consumer; a redelivery is the same \
                event id. The WebSocket at `/api/v1/ws` (and Socket.IO, whose events carry the \
                same `type` and `data`) sends frames about the user's rooms, couple, games and \
                feed, and takes the client's frames, each answered by `ack` or `error` with the \
                same `id`.",
        },
        "defaultContentType": "application/json",
        "servers": {
            "nats": {
                "host": "127.0.0.1:4222",
                "protocol": "nats",
                "description": "The NATS server with JetStream that Moim's NATS_URL names.",
            },
            "api": {
                "host": "127.0.0.1:8080",
                "pathname": "/api/v1",
                "protocol": "ws",
                "description": "Moim's API (MOIM_BIND).",
            },
        },
        "channels": {
            "events": {
                "address": "{prefix}.events.{aggregate}.{id}",
                "title": "Events",
                "description": "One committed event per message, in commit order.",
                "servers": [{ "$ref": "#/servers/nats" }],
                "parameters": {
                    "prefix": { "description": "MOIM_SUBJECT_PREFIX (default `moim`)." },
                    "aggregate": {
                        "description": "The aggregate type.",
                        "enum": parts.aggregates,
                    },
                    "id": { "description": "The aggregate's id." },
                },
                "messages": channel_messages(&events),
            },
            "socket": {
                "address": "/ws",
                "title": "WebSocket",
                "description": "Authenticate with `Authorization: Bearer <access token>` or \
                    `?access_token=`. After `ready`, frames arrive as things happen; after a \
                    reconnection, `resume` replays what was missed.",
                "servers": [{ "$ref": "#/servers/api" }],
                "messages": socket_messages,
            },
        },
        "operations": {
            "receiveEvents": {
                "action": "receive",
                "title": "Subscribe to the events",
                "channel": { "$ref": "#/channels/events" },
                "messages": refs("events", &events),
            },
            "receiveFrames": {
                "action": "receive",
                "title": "Frames the server sends",
                "channel": { "$ref": "#/channels/socket" },
                "messages": refs("socket", &from_server),
            },
            "sendFrames": {
                "action": "send",
                "title": "Frames the client sends",
                "channel": { "$ref": "#/channels/socket" },
                "messages": refs("socket", &from_client),
            },
        },
        "components": {
            "messages": parts.messages,
            "schemas": parts.schemas,
        },
    })
}

/// The messages and schemas gathered so far.
#[derive(Default)]
struct Parts {
    schemas: Map<String, Value>,
    messages: Map<String, Value>,
    aggregates: Vec<&'static str>,
}

impl Parts {
    /// `T`'s schema, with every schema it refers to kept in `components.schemas`.
    fn schema<T: ToSchema>(&mut self) -> Value {
        let mut referred = Vec::new();
        T::schemas(&mut referred);
        for (name, schema) in referred {
            self.schemas.insert(name, to_json(&schema));
        }
        to_json(&T::schema())
    }

    /// One message per event type of `A`; their names.
    fn events<A: Aggregate>(&mut self) -> Vec<String>
    where
        A::Event: ToSchema,
    {
        self.aggregates.push(A::TYPE);
        if !self.schemas.contains_key("EventEnvelope") {
            let envelope = self.schema::<EventEnvelope>();
            self.schemas.insert("EventEnvelope".into(), envelope);
        }
        let schema = self.schema::<A::Event>();
        let mut names = Vec::new();
        for (event_type, payload, description) in externally_tagged(&schema) {
            let name = format!("{}.{event_type}", A::TYPE);
            let message = json!({
                "name": event_type,
                "title": format!("{} {event_type}", A::TYPE),
                "summary": description,
                "headers": { "$ref": "#/components/schemas/EventHeaders" },
                "payload": {
                    "allOf": [
                        { "$ref": "#/components/schemas/EventEnvelope" },
                        {
                            "type": "object",
                            "properties": {
                                "aggregate_type": { "const": A::TYPE },
                                "event_type": { "const": event_type },
                                "payload": {
                                    "type": "object",
                                    "properties": { event_type.clone(): payload },
                                    "required": [event_type],
                                },
                            },
                        },
                    ],
                },
            });
            self.messages.insert(name.clone(), message);
            names.push(name);
        }
        names
    }

    /// One message per variant of the frame enum `inner` (named `enum_name` in the schemas)
    /// that `F` carries flattened; their names, `<prefix>.<type>`.
    fn frames<F: ToSchema>(&mut self, prefix: &str, enum_name: &str) -> Vec<String> {
        let outer = self.schema::<F>();
        let inner = self.schemas.get(enum_name).cloned().unwrap_or(Value::Null);
        let reference = Value::String(format!("#/components/schemas/{enum_name}"));
        let mut names = Vec::new();
        for variant in one_of(&inner) {
            let Some(kind) = variant["properties"]["type"]["enum"][0].as_str() else {
                continue;
            };
            let name = format!("{prefix}.{kind}");
            let mut payload = outer.clone();
            replace_ref(&mut payload, &reference, variant);
            let message = json!({
                "name": kind,
                "title": kind,
                "summary": variant.get("description").cloned().unwrap_or(Value::Null),
                "payload": payload,
            });
            self.messages.insert(name.clone(), message);
            names.push(name);
        }
        names
    }
}

/// `(variant name, its payload's schema, its description)` of an externally tagged enum's schema
/// (`{"Variant": {…}}` per variant).
fn externally_tagged(schema: &Value) -> Vec<(String, Value, Value)> {
    let mut variants = Vec::new();
    for item in one_of(schema) {
        if let Some(properties) = item["properties"].as_object() {
            for (name, payload) in properties {
                let description = item
                    .get("description")
                    .or_else(|| payload.get("description"))
                    .cloned()
                    .unwrap_or(Value::Null);
                variants.push((name.clone(), payload.clone(), description));
            }
        } else if let Some(names) = item["enum"].as_array() {
            for name in names.iter().filter_map(Value::as_str) {
                variants.push((name.to_owned(), json!({ "const": name }), Value::Null));
            }
        }
    }
    variants
}

/// The alternatives of a `oneOf` schema, or the schema itself.
fn one_of(schema: &Value) -> Vec<&Value> {
    match schema["oneOf"].as_array() {
        Some(items) => items.iter().collect(),
        None => vec![schema],
    }
}

/// Puts `with` where `value` refers to `reference`.
fn replace_ref(value: &mut Value, reference: &Value, with: &Value) {
    match value {
        Value::Object(map) if map.get("$ref") == Some(reference) => *value = with.clone(),
        Value::Object(map) => map
            .values_mut()
            .for_each(|v| replace_ref(v, reference, with)),
        Value::Array(items) => items
            .iter_mut()
            .for_each(|v| replace_ref(v, reference, with)),
        _ => {}
    }
}

fn to_json(schema: &impl serde::Serialize) -> Value {
    serde_json::to_value(schema).unwrap_or(Value::Null)
}

/// The NATS headers of an event message.
fn event_headers() -> Value {
    let text = |description: &str| json!({ "type": "string", "description": description });
    json!({
        "type": "object",
        "properties": {
            "Nats-Msg-Id": text("The event id: JetStream drops a second publish of it."),
            headers::EVENT_ID: text("The event's stable id."),
            headers::EVENT_TYPE: text("e.g. `MessageSent`."),
            headers::EVENT_VERSION: text("The payload's schema version."),
            headers::AGGREGATE_TYPE: text("e.g. `chat_room`."),
            headers::AGGREGATE_ID: text("The aggregate's id."),
            headers::AGGREGATE_SEQUENCE: text("The event's number within its aggregate, from 1."),
            headers::POSITION: text("The global position, `<tx_id>.<position>`: commit order."),
            headers::ACTOR: text("The user whose request caused it, when one did."),
            headers::CORRELATION_ID: text("The request id it came from."),
            headers::CAUSATION_ID: text("The event that caused it, when one did."),
            headers::TRACEPARENT: text("W3C trace context, when Moim exports traces."),
        },
        "required": [
            "Nats-Msg-Id",
            headers::EVENT_ID,
            headers::EVENT_TYPE,
            headers::EVENT_VERSION,
            headers::AGGREGATE_TYPE,
            headers::AGGREGATE_ID,
            headers::AGGREGATE_SEQUENCE,
            headers::POSITION,
        ],
    })
}
