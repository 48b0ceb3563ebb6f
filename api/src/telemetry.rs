//! Logging and tracing set-up: `RUST_LOG` filters, `MOIM_LOG_FORMAT=json` for machine logs, and,
//! when `OTEL_EXPORTER_OTLP_ENDPOINT` is set, OpenTelemetry traces sent over OTLP/HTTP
//! (protobuf): a request's span, the relay's publish of each event it wrote, and each read
//! model's apply share one trace (`moim_nats::trace` carries it across NATS).

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig as _;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// What the spans exported are filtered by: Moim's own, never the exporter's HTTP client (whose
/// spans would be exported in turn).
const EXPORTED: &str = "info,sqlx=off,hyper=off,hyper_util=off,h2=off,reqwest=off,tower=off,opentelemetry=off,opentelemetry_sdk=off,opentelemetry_otlp=off,async_nats=off";

/// Keeps the trace exporter running; dropping it sends what is left.
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take() {
            let _ = provider.shutdown();
        }
    }
}

/// Installs the global subscriber; a second call (as in tests) installs nothing. Call it inside
/// the Tokio runtime: the trace exporter runs on it.
pub fn init(default_filter: &str) -> Telemetry {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let fmt = if std::env::var("MOIM_LOG_FORMAT").is_ok_and(|f| f == "json") {
        fmt.json().boxed()
    } else {
        fmt.boxed()
    };
    let provider = tracer_provider();
    let traces = provider.as_ref().map(|provider| {
        tracing_opentelemetry::layer()
            .with_tracer(provider.tracer("moim"))
            .with_filter(EnvFilter::new(EXPORTED))
    });
    let installed = tracing_subscriber::registry()
        .with(fmt.with_filter(filter))
        .with(traces)
        .try_init()
        .is_ok();
    let provider = provider.filter(|_| installed);
    if provider.is_some() {
        moim_nats::trace::turn_on();
    }
    Telemetry { provider }
}

/// The OTLP exporter, when `OTEL_EXPORTER_OTLP_ENDPOINT` asks for one (the other `OTEL_*`
/// variables of the specification tune it: `OTEL_BSP_SCHEDULE_DELAY`, …).
fn tracer_provider() -> Option<SdkTracerProvider> {
    std::env::var_os("OTEL_EXPORTER_OTLP_ENDPOINT")?;
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
        .build();
    let exporter = match exporter {
        Ok(exporter) => exporter,
        Err(error) => {
            eprintln!("traces are off: the OTLP exporter could not be made: {error}");
            return None;
        }
    };
    let processor =
        opentelemetry_sdk::trace::span_processor_with_async_runtime::BatchSpanProcessor::builder(
            exporter,
            opentelemetry_sdk::runtime::Tokio,
        )
        .build();
    Some(
        SdkTracerProvider::builder()
            .with_span_processor(processor)
            .with_resource(
                opentelemetry_sdk::Resource::builder()
                    .with_service_name("moim")
                    .build(),
            )
            .build(),
    )
}
