//! Factor and secret health in the window: the commands behind the health banners, guided
//! re-enrollment, and the background task that re-checks the profile.
//!
//! What is healthy, and why not, is decided by the core (`push::health`, `secret_health`,
//! `health::HealthSummary`); this module only decides *when* to ask and hands every summary
//! to the window as the `health-changed` event. Checks run at start, every 10 minutes, when
//! the window gains focus and the last check is over a minute old, and when the poller meets
//! a factor problem ([`poll_failed`]). A locked or unreachable keychain yields the keychain
//! verdict, never a re-enrollment.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use countersign_core::Error;
use countersign_core::account::Account;
use countersign_core::health::{HealthSummary, Verdict};
use countersign_core::otp::OtpParams;
use countersign_core::push::{
    EnrollLink, Enrollment, EnrollmentState, FactorHealth, PushManager, Reenrolled,
};
use serde::Serialize;
use tauri::{AppHandle, Emitter, Manager, State};
use tokio::sync::{Notify, OwnedMutexGuard};
use uuid::Uuid;

use crate::commands::blocking;
use crate::error::CommandError;
use crate::push::PushRuntime;
use crate::state::{AppState, lock};

type CommandResult<T> = Result<T, CommandError>;

/// Event carrying every new [`HealthSummary`].
pub const HEALTH_EVENT: &str = "health-changed";
/// Event carrying a [`ReenrollProgress`] after each step of a re-enrollment.
pub const REENROLL_EVENT: &str = "reenroll-progress";

const PERIOD: Duration = Duration::from_secs(10 * 60);
/// Focus re-checks only a summary older than this, so switching windows costs nothing.
const FOCUS_STALE: Duration = Duration::from_secs(60);
/// Poll errors re-check at most this often, whatever the poller's rate.
const POLL_ERROR_STALE: Duration = Duration::from_secs(10);
/// Server unreachable or an unexpected answer: worth asking again soon.
const RETRY_UNCHECKED: Duration = Duration::from_secs(60);
/// An enrollment is being finished (here or in another process).
const RETRY_PENDING: Duration = Duration::from_secs(15);

/// What the health task knows, shared with the commands.
#[derive(Default)]
pub struct HealthRuntime {
    latest: Mutex<Option<HealthSummary>>,
    /// When the last check *started*, so a focus during a check does not queue another.
    last_check: Mutex<Option<Instant>>,
    wake: Notify,
    /// One check at a time: checks finish interrupted enrollments, which must not race.
    checking: tokio::sync::Mutex<()>,
    /// Re-enrollments running in this window, by the id of the enrollment they replace.
    reenrollments: Mutex<HashMap<Uuid, Arc<InFlight>>>,
}

struct InFlight {
    cancel: Notify,
    /// Held by the running command; a cancel waits on it until the enrollment is let go.
    running: Arc<tokio::sync::Mutex<()>>,
}

/// Removes a running re-enrollment from the table when its command ends, however it ends.
struct Registration<'a> {
    runtime: &'a HealthRuntime,
    old_id: Uuid,
    in_flight: Arc<InFlight>,
    _running: OwnedMutexGuard<()>,
}

impl Drop for Registration<'_> {
    fn drop(&mut self) {
        lock(&self.runtime.reenrollments).remove(&self.old_id);
    }
}

impl HealthRuntime {
    async fn register(&self, old_id: Uuid) -> CommandResult<Registration<'_>> {
        let running = Arc::new(tokio::sync::Mutex::new(()));
        // A fresh mutex: this never waits.
        let guard = running.clone().lock_owned().await;
        let in_flight = Arc::new(InFlight {
            cancel: Notify::new(),
            running,
        });
        {
            let mut table = lock(&self.reenrollments);
            if table.contains_key(&old_id) {
                return Err(CommandError {
                    code: "reenrollment_running".into(),
                    message: "this enrollment is already being replaced; wait for it or cancel it"
                        .into(),
                });
            }
            table.insert(old_id, in_flight.clone());
        }
        Ok(Registration {
            runtime: self,
            old_id,
            in_flight,
            _running: guard,
        })
    }

    fn stale(&self, age: Duration) -> bool {
        lock(&self.last_check).is_none_or(|at| at.elapsed() >= age)
    }
}

/// Where a re-enrollment is, for the dialog's progress list.
#[derive(Debug, Clone, Serialize)]
pub struct ReenrollProgress {
    pub old_id: Uuid,
    pub new_id: Uuid,
    /// The new enrollment's state; `verified` means the old factor is being dealt with.
    pub state: EnrollmentState,
}

/// Checks now (after any check already running) and tells the window.
#[tauri::command]
pub async fn health_summary(app: AppHandle) -> CommandResult<HealthSummary> {
    check_now(&app).await
}

/// The last summary, without asking anyone; `None` before the first check finished.
#[tauri::command]
pub async fn health_latest(
    runtime: State<'_, HealthRuntime>,
) -> CommandResult<Option<HealthSummary>> {
    Ok(lock(&runtime.latest).clone())
}

/// Replaces enrollment `old_id` with a new factor from `link`. The old enrollment stays
/// usable until the new factor is verified; [`push_cancel_reenrollment`] stops it before.
#[tauri::command]
pub async fn push_reenroll(
    app: AppHandle,
    state: State<'_, AppState>,
    runtime: State<'_, HealthRuntime>,
    old_id: Uuid,
    link: String,
) -> CommandResult<Reenrolled> {
    let link = EnrollLink::parse(&link)?;
    let manager = state.push()?;
    let registration = runtime.register(old_id).await?;
    let result = reenroll_steps(
        &app,
        &manager,
        &registration.in_flight,
        old_id,
        &link,
        state.verify_ca.clone(),
    )
    .await;
    drop(registration);
    // The new factor is polled from now on, the old one no longer.
    crate::push::retarget(&app, &app.state::<PushRuntime>());
    request_check(&app);
    result
}

async fn reenroll_steps(
    app: &AppHandle,
    manager: &PushManager,
    in_flight: &InFlight,
    old_id: Uuid,
    link: &EnrollLink,
    extra_ca_pem: Option<String>,
) -> CommandResult<Reenrolled> {
    let mut pending = manager.start_reenrollment(old_id, link, extra_ca_pem)?;
    let new_id = pending.id();
    let progress = |state| {
        let _ = app.emit(
            REENROLL_EVENT,
            ReenrollProgress {
                old_id,
                new_id,
                state,
            },
        );
    };
    progress(pending.state());
    while pending.state() != EnrollmentState::Verified {
        // A cancel drops the step where it is, like a crash would; every step is recorded
        // before the next starts, so the cancel command then undoes exactly what was done.
        tokio::select! {
            step = pending.step() => { step?; }
            () = in_flight.cancel.notified() => {
                return Err(CommandError {
                    code: "reenrollment_cancelled".into(),
                    message: "the re-enrollment was cancelled; the old enrollment is kept".into(),
                });
            }
        }
        progress(pending.state());
    }
    Ok(pending.finish_reenrollment().await?)
}

/// Drops an unfinished re-enrollment of enrollment `id` (the old one, or the new one after a
/// restart) and returns the old enrollment, kept as it was. A re-enrollment running in this
/// window is stopped first. Once the new factor is verified there is nothing to cancel.
#[tauri::command]
pub async fn push_cancel_reenrollment(
    app: AppHandle,
    state: State<'_, AppState>,
    runtime: State<'_, HealthRuntime>,
    id: Uuid,
) -> CommandResult<Enrollment> {
    let running = lock(&runtime.reenrollments).get(&id).cloned();
    if let Some(in_flight) = running {
        in_flight.cancel.notify_one();
        // Wait until the running command has let go of the enrollment.
        let _released = in_flight.running.lock().await;
    }
    let manager = state.push()?;
    let kept = manager.cancel_reenrollment(id).await;
    crate::push::retarget(&app, &app.state::<PushRuntime>());
    request_check(&app);
    Ok(kept?)
}

/// Turns an orphaned keychain entry into an account (TOTP, SHA1, 6 digits, 30 s unless
/// `params` says otherwise).
#[tauri::command]
pub async fn secret_adopt_orphan(
    app: AppHandle,
    state: State<'_, AppState>,
    id: Uuid,
    issuer: String,
    name: String,
    params: Option<OtpParams>,
) -> CommandResult<Account> {
    let vault = state.vault()?;
    let params = params.unwrap_or_else(OtpParams::totp_default);
    let account = blocking(move || Ok(vault.adopt_orphan(id, &issuer, &name, params)?)).await?;
    crate::tray::refresh(&app);
    Ok(account)
}

/// Deletes an orphaned keychain entry; `false` when it was already gone.
#[tauri::command]
pub async fn secret_delete_orphan(state: State<'_, AppState>, id: Uuid) -> CommandResult<bool> {
    let vault = state.vault()?;
    blocking(move || Ok(vault.delete_orphan(id)?)).await
}

/// Starts the background checks. Interrupted enrollments are finished first (the poller
/// does the same at start; per-enrollment claims keep the two from doing a step twice), so
/// the first verdict is not about a state a crash left behind.
pub fn start(app: &AppHandle) {
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        // Enrollments another process (or the poller) was finishing: look again soon.
        let mut busy_at_start = false;
        if let Ok(manager) = app.state::<AppState>().push() {
            match manager.resume_pending().await {
                Ok(report) => busy_at_start = !report.busy.is_empty(),
                Err(e) => tracing::warn!(code = e.code(), "resuming enrollments failed: {e}"),
            }
        }
        let runtime = app.state::<HealthRuntime>();
        loop {
            let wait = match check_now(&app).await {
                Ok(_) if std::mem::take(&mut busy_at_start) => RETRY_PENDING,
                Ok(summary) => next_check(&summary),
                Err(e) => {
                    tracing::warn!(code = %e.code, "health check failed: {}", e.message);
                    RETRY_UNCHECKED
                }
            };
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = runtime.wake.notified() => {}
            }
        }
    });
}

/// Asks the background task for a check now.
pub fn request_check(app: &AppHandle) {
    if let Some(runtime) = app.try_state::<HealthRuntime>() {
        runtime.wake.notify_one();
    }
}

/// The window gained focus: check again if the last check is over a minute old.
pub fn window_focused(app: &AppHandle) {
    if let Some(runtime) = app.try_state::<HealthRuntime>()
        && runtime.stale(FOCUS_STALE)
    {
        runtime.wake.notify_one();
    }
}

/// The poller could not use enrollment `enrollment_id`. When the error reveals a factor
/// problem the last summary does not show yet, the health is checked again, so the banner
/// appears without waiting for the next periodic check.
pub fn poll_failed(app: &AppHandle, enrollment_id: Uuid, err: &Error) {
    let FactorHealth::Broken { problem } = FactorHealth::from_error(err) else {
        return;
    };
    let Some(runtime) = app.try_state::<HealthRuntime>() else {
        return;
    };
    let known = lock(&runtime.latest).as_ref().is_some_and(|summary| {
        summary
            .factors
            .iter()
            .any(|r| r.enrollment_id == enrollment_id && r.code == problem.code())
    });
    if !known && runtime.stale(POLL_ERROR_STALE) {
        runtime.wake.notify_one();
    }
}

async fn check_now(app: &AppHandle) -> CommandResult<HealthSummary> {
    let runtime = app.state::<HealthRuntime>();
    let _one_at_a_time = runtime.checking.lock().await;
    *lock(&runtime.last_check) = Some(Instant::now());
    let summary = summarize(&app.state::<AppState>()).await?;
    *lock(&runtime.latest) = Some(summary.clone());
    let _ = app.emit(HEALTH_EVENT, &summary);
    Ok(summary)
}

/// Every push factor and every one-time-code secret, or, when the keychain is locked or
/// unavailable, what the metadata alone can say.
async fn summarize(state: &AppState) -> CommandResult<HealthSummary> {
    let blocked = |err: &Error| -> CommandResult<Option<HealthSummary>> {
        Ok(HealthSummary::keychain_blocked(&state.profile, err)?)
    };
    let vault = match state.vault() {
        Ok(vault) => vault,
        Err(err) => return blocked(&err)?.ok_or_else(|| err.into()),
    };
    // Keychain calls block on D-Bus.
    let secrets = tauri::async_runtime::spawn_blocking(move || vault.secret_health())
        .await
        .map_err(|e| CommandError::internal(format!("background task failed: {e}")))?;
    let secrets = match secrets {
        Ok(secrets) => secrets,
        Err(err) => return blocked(&err)?.ok_or_else(|| err.into()),
    };
    let manager = match state.push() {
        Ok(manager) => manager,
        Err(err) => return blocked(&err)?.ok_or_else(|| err.into()),
    };
    match manager.check_all().await {
        Ok(factors) => Ok(HealthSummary::new(factors, secrets)),
        Err(err) => blocked(&err)?.ok_or_else(|| err.into()),
    }
}

fn next_check(summary: &HealthSummary) -> Duration {
    if summary
        .factors
        .iter()
        .any(|r| r.health == FactorHealth::Pending)
    {
        RETRY_PENDING
    } else if summary.verdict == Verdict::Unchecked {
        RETRY_UNCHECKED
    } else {
        // A blocked keychain waits for focus or "Try again": asking it sooner could pop an
        // unlock prompt every minute.
        PERIOD
    }
}
