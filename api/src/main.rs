//! The `moim` binary: `serve` (all roles, or one with `--role`), `migrate`, `replay`, `admin`.

use anyhow::Context;
use clap::builder::PossibleValuesParser;
use clap::{Parser, Subcommand, ValueEnum};
use domain::user::PlatformRole;
use moim_api::config::Settings;
use moim_api::startup::{self, Application, Roles};
use projections::Registry;
use tokio_util::sync::CancellationToken;

#[derive(Parser)]
#[command(
    name = "moim",
    version,
    about = "Moim: an event-sourced backend for community apps"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs Moim: API, relay, projections and scheduler (all by default).
    Serve {
        /// Run only one part, to scale parts out on separate machines.
        #[arg(long, value_enum, default_value_t = Role::All)]
        role: Role,
    },
    /// Applies database migrations and exits.
    Migrate,
    /// Rebuilds read models from the event store.
    Replay {
        /// The read model to rebuild.
        #[arg(value_parser = PossibleValuesParser::new(Registry::standard().names()))]
        projection: Option<String>,
        /// Rebuild every projection.
        #[arg(long, conflicts_with = "projection")]
        all: bool,
    },
    /// Checks a database restored from a backup (or moved to another cluster) against the
    /// stream, before Moim starts on it (docs/operations.md).
    RestoreCheck {
        /// Delete an events stream that does not match the database, so the relay re-fills it.
        #[arg(long)]
        reset_stream: bool,
    },
    /// Makes or unmakes platform admins (an operator's act, so no endpoint does it).
    Admin {
        #[command(subcommand)]
        action: AdminAction,
    },
}

#[derive(Subcommand)]
enum AdminAction {
    /// Makes the account with this e-mail an admin.
    Grant {
        /// The account's e-mail.
        email: String,
    },
    /// Makes an admin an ordinary user again.
    Revoke {
        /// The account's e-mail.
        email: String,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Role {
    All,
    Api,
    Relay,
    Projections,
    Scheduler,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _telemetry = moim_api::telemetry::init("info,sqlx=warn");
    let cli = Cli::parse();
    let settings = Settings::from_env()?;
    let settings = match cli.command {
        Command::Serve { .. } => settings,
        _ => startup::for_operator(settings).await?,
    };
    match cli.command {
        Command::Serve { role } => {
            let roles = match role {
                Role::All => Roles::ALL,
                Role::Api => Roles {
                    api: true,
                    ..Roles::NONE
                },
                Role::Relay => Roles {
                    relay: true,
                    ..Roles::NONE
                },
                Role::Projections => Roles {
                    projections: true,
                    ..Roles::NONE
                },
                Role::Scheduler => Roles {
                    scheduler: true,
                    ..Roles::NONE
                },
            };
            let app = Application::build(settings, roles).await?;
            let stop = CancellationToken::new();
            startup::stop_on_signals(stop.clone());
            app.run_until_stopped(stop).await
        }
        Command::Migrate => {
            startup::database(&settings).await?;
            eprintln!("migrations applied");
            Ok(())
        }
        Command::RestoreCheck { reset_stream } => {
            for line in moim_api::restore_check::run(&settings, reset_stream).await? {
                eprintln!("{line}");
            }
            eprintln!("restore check passed: Moim may start");
            Ok(())
        }
        Command::Admin { action } => {
            let (email, role) = match action {
                AdminAction::Grant { email } => (email, PlatformRole::Admin),
                AdminAction::Revoke { email } => (email, PlatformRole::User),
            };
            let pool = startup::database(&settings).await?;
            let user_id = commands::Commands::new(pool)
                .set_platform_role(&email, role)
                .await
                .with_context(|| format!("setting the role of {email}"))?;
            eprintln!("{email} ({user_id}) is now {role:?}");
            Ok(())
        }
        Command::Replay { projection, all } => {
            let registry = Registry::standard();
            let views = match (projection, all) {
                (_, true) => registry.views().to_vec(),
                (Some(name), false) => vec![registry.get(&name)?],
                (None, false) => anyhow::bail!("name a projection or pass --all"),
            };
            let pool = startup::database(&settings).await?;
            let started = std::time::Instant::now();
            let done = projections::replay::replay_all(&pool, &views, true)
                .await
                .context("replaying")?;
            for view in &done {
                eprintln!(
                    "{}: {} events, rebuilt after {:.2}s",
                    view.view.name(),
                    view.events,
                    view.took.as_secs_f64()
                );
            }
            let secs = started.elapsed().as_secs_f64();
            let events = done.first().map_or(0, |v| v.events);
            eprintln!(
                "{} events into {} views in {secs:.2}s ({:.0} events/s)",
                events,
                done.len(),
                events as f64 / secs.max(1e-9)
            );
            Ok(())
        }
    }
}
