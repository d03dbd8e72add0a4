//! Push approval in the app: commands over the core's `PushManager`, and the background
//! task that polls for sign-in requests and raises a notification for each new one.
//!
//! Rates come from the core's `Poller` (every 2 s per factor while the window is visible,
//! every 45 s in the background, at once when the window gains focus, backing off on errors);
//! the loop's body is the core's `ChallengeWatch`. A factor whose polls fail is listed in
//! `failures` with why (`trouble`) and when the next attempt is, until a poll succeeds.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use countersign_core::push::{
    ChallengeWatch, Decision, EnrollLink, Enrollment, HistoryEntry, LinkSummary, PendingChallenge,
    PollPolicy, PollReport, PollTrouble, PushManager, ShownChallenge, Visibility,
};
use countersign_core::verify::Challenge;
use serde::Serialize;
use tauri::{AppHandle, Emitter, Manager, State};
use tauri_plugin_notification::NotificationExt;
use tokio::sync::Notify;
use uuid::Uuid;

use crate::error::CommandError;
use crate::state::{AppState, lock};

type CommandResult<T> = Result<T, CommandError>;

/// Event the window listens to: the current pending requests.
pub const CHALLENGES_EVENT: &str = "push-challenges";
/// Event carrying an enrollment link the OS handed us (deep link or second launch).
pub const ENROLL_LINK_EVENT: &str = "push-enroll-link";

/// What the poller knows, shared with the commands.
#[derive(Default)]
pub struct PushRuntime {
    pending: Mutex<PendingView>,
    /// Set once interrupted enrollments are finished and polling starts.
    watch: Mutex<Option<Arc<ChallengeWatch>>>,
    wake: Notify,
    /// Challenge SIDs already announced, so each raises one notification.
    announced: Mutex<HashSet<String>>,
    /// A link that arrived before the window was ready to listen.
    pub pending_link: Mutex<Option<String>>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct PendingView {
    pub challenges: Vec<PendingChallenge>,
    pub failures: Vec<EnrollmentFailure>,
}

/// The last poll of an enrollment failed; gone once one succeeds.
#[derive(Debug, Clone, Serialize)]
pub struct EnrollmentFailure {
    pub enrollment_id: Uuid,
    pub error: CommandError,
    pub trouble: PollTrouble,
    /// Failed polls in a row.
    pub failures: u32,
    /// When the next attempt is due (Unix ms), for the window's countdown.
    pub retry_at_ms: Option<u64>,
}

fn push_manager(state: &AppState) -> CommandResult<Arc<PushManager>> {
    Ok(state.push()?)
}

#[tauri::command]
pub async fn push_enrollments(state: State<'_, AppState>) -> CommandResult<Vec<Enrollment>> {
    Ok(push_manager(&state)?.enrollments()?)
}

/// What a link would enroll, shown before the user confirms. The access token stays here.
#[tauri::command]
pub async fn push_inspect_link(link: String) -> CommandResult<LinkSummary> {
    Ok(EnrollLink::parse(&link)?.summary()?)
}

#[tauri::command]
pub async fn push_enroll(
    app: AppHandle,
    state: State<'_, AppState>,
    runtime: State<'_, PushRuntime>,
    link: String,
) -> CommandResult<Enrollment> {
    let link = EnrollLink::parse(&link)?;
    let manager = push_manager(&state)?;
    let enrollment = manager.enroll(&link, state.verify_ca.clone()).await?;
    retarget(&app, &runtime);
    Ok(enrollment)
}

#[tauri::command]
pub async fn push_rename(
    state: State<'_, AppState>,
    id: Uuid,
    name: String,
) -> CommandResult<Enrollment> {
    Ok(push_manager(&state)?.rename(id, &name).await?)
}

#[tauri::command]
pub async fn push_remove(
    app: AppHandle,
    state: State<'_, AppState>,
    runtime: State<'_, PushRuntime>,
    id: Uuid,
) -> CommandResult<()> {
    push_manager(&state)?.remove(id).await?;
    retarget(&app, &runtime);
    Ok(())
}

#[tauri::command]
pub async fn push_pending(runtime: State<'_, PushRuntime>) -> CommandResult<PendingView> {
    Ok(lock(&runtime.pending).clone())
}

#[tauri::command]
pub async fn push_history(state: State<'_, AppState>) -> CommandResult<Vec<HistoryEntry>> {
    Ok(push_manager(&state)?.history()?)
}

#[tauri::command]
pub async fn push_answer(
    app: AppHandle,
    state: State<'_, AppState>,
    runtime: State<'_, PushRuntime>,
    enrollment_id: Uuid,
    shown: ShownChallenge,
    approve: bool,
) -> CommandResult<Challenge> {
    let decision = if approve {
        Decision::Approve
    } else {
        Decision::Deny
    };
    let manager = push_manager(&state)?;
    let result = manager.answer(enrollment_id, &shown, decision).await;
    // Answered, expired or gone: either way it leaves the list now, not at the next poll.
    {
        let mut pending = lock(&runtime.pending);
        pending.challenges.retain(|c| c.challenge.sid != shown.sid);
        let _ = app.emit(CHALLENGES_EVENT, pending.clone());
    }
    Ok(result?)
}

/// The window reports whether it is visible, which sets the polling rate.
#[tauri::command]
pub async fn push_set_visible(runtime: State<'_, PushRuntime>, visible: bool) -> CommandResult<()> {
    set_visibility(&runtime, visible);
    Ok(())
}

/// The link the app was started with, if the window hasn't taken it yet.
#[tauri::command]
pub async fn push_take_link(runtime: State<'_, PushRuntime>) -> CommandResult<Option<String>> {
    Ok(lock(&runtime.pending_link).take())
}

/// The document became visible or hidden (minimised, another workspace).
pub fn set_visibility(runtime: &PushRuntime, visible: bool) {
    let visibility = if visible {
        Visibility::Visible
    } else {
        Visibility::Background
    };
    if let Some(watch) = watch(runtime) {
        watch.set_visibility(visibility);
    }
    runtime.wake.notify_one();
}

/// Gaining focus polls at once (failed factors included) at the visible rate. Losing it
/// changes nothing: a window beside the browser the user signs in with is still looked at,
/// and only a hidden document slows polling down.
pub fn window_focused(runtime: &PushRuntime, focused: bool) {
    if !focused {
        return;
    }
    if let Some(watch) = watch(runtime) {
        watch.set_visibility(Visibility::Visible);
        watch.poll_now();
    }
    runtime.wake.notify_one();
}

fn watch(runtime: &PushRuntime) -> Option<Arc<ChallengeWatch>> {
    lock(&runtime.watch).clone()
}

/// Hands an enrollment link to the window (which asks the user before enrolling).
pub fn receive_link(app: &AppHandle, link: String) {
    if !link.starts_with("countersign:") {
        return;
    }
    if let Some(runtime) = app.try_state::<PushRuntime>() {
        *lock(&runtime.pending_link) = Some(link.clone());
    }
    crate::tray::show_main_window(app);
    let _ = app.emit(ENROLL_LINK_EVENT, link);
}

pub(crate) fn retarget(app: &AppHandle, runtime: &PushRuntime) {
    if let Some(watch) = watch(runtime)
        && let Err(e) = watch.retarget()
    {
        tracing::warn!(code = e.code(), "enrollments not re-read: {e}");
    }
    forget_failures_of_removed(app, runtime);
    runtime.wake.notify_one();
}

/// A removed enrollment's failure must not linger in the window.
fn forget_failures_of_removed(app: &AppHandle, runtime: &PushRuntime) {
    let Some(enrollments) = app
        .state::<AppState>()
        .push()
        .ok()
        .and_then(|m| m.enrollments().ok())
    else {
        return;
    };
    let view = {
        let mut pending = lock(&runtime.pending);
        let before = pending.failures.len();
        pending
            .failures
            .retain(|f| enrollments.iter().any(|e| e.id == f.enrollment_id));
        (pending.failures.len() != before).then(|| pending.clone())
    };
    if let Some(view) = view {
        let _ = app.emit(CHALLENGES_EVENT, view);
    }
}

/// Starts the background poller. Finishes interrupted enrollments first.
pub fn start(app: &AppHandle) {
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let Ok(manager) = app.state::<AppState>().push() else {
            return; // no keychain: the window already says so
        };
        if let Err(e) = manager.resume_pending().await {
            tracing::warn!(code = e.code(), "resuming enrollments failed: {e}");
        }
        let runtime = app.state::<PushRuntime>();
        let watch = Arc::new(ChallengeWatch::new(
            manager,
            PollPolicy::default(),
            Visibility::Visible,
        ));
        if let Err(e) = watch.retarget() {
            tracing::warn!(code = e.code(), "enrollments not read: {e}");
        }
        *lock(&runtime.watch) = Some(watch.clone());
        loop {
            for report in watch.poll_due().await {
                show_report(&app, &runtime, report);
            }
            let sleep = watch
                .next_due()
                .map(|at| at.saturating_duration_since(std::time::Instant::now()))
                .unwrap_or(Duration::from_secs(60));
            tokio::select! {
                _ = tokio::time::sleep(sleep) => {}
                _ = runtime.wake.notified() => {}
            }
        }
    });
}

/// Hands one poll's outcome to the window: the enrollment's requests on success, or why it
/// failed and when it is tried again.
fn show_report(app: &AppHandle, runtime: &PushRuntime, report: PollReport) {
    let id = report.enrollment_id;
    let trouble = report.trouble();
    let view = match report.outcome {
        Ok(fresh) => {
            announce_new(app, runtime, &fresh);
            let mut pending = lock(&runtime.pending);
            pending.challenges.retain(|c| c.enrollment_id != id);
            pending.challenges.extend(fresh);
            pending.failures.retain(|f| f.enrollment_id != id);
            pending.clone()
        }
        Err(e) => {
            tracing::debug!(
                code = e.code(),
                failures = report.failures,
                "poll failed: {e}"
            );
            crate::health::poll_failed(app, id, &e);
            let retry_at_ms = report
                .next_poll_in
                .map(|wait| unix_ms(SystemTime::now() + wait));
            let mut pending = lock(&runtime.pending);
            pending.failures.retain(|f| f.enrollment_id != id);
            pending.failures.push(EnrollmentFailure {
                enrollment_id: id,
                error: e.into(),
                trouble: trouble.unwrap_or(PollTrouble::Other),
                failures: report.failures,
                retry_at_ms,
            });
            pending.clone()
        }
    };
    let _ = app.emit(CHALLENGES_EVENT, view);
}

fn unix_ms(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Freedesktop notification servers may render the body as a markup subset, so text the
/// Verify server supplies must not be able to inject tags (e.g. a fake link or hidden text).
fn escape_markup(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            other => escaped.push(other),
        }
    }
    escaped
}

fn announce_new(app: &AppHandle, runtime: &PushRuntime, challenges: &[PendingChallenge]) {
    let mut announced = lock(&runtime.announced);
    for pending in challenges {
        if !announced.insert(pending.challenge.sid.clone()) {
            continue;
        }
        let result = app
            .notification()
            .builder()
            // The summary is plain text in the spec; only the body may carry markup.
            .title(format!("Sign-in request: {}", pending.enrollment_name))
            .body(escape_markup(&pending.challenge.details.message))
            .show();
        if let Err(e) = result {
            tracing::warn!("notification not shown: {e}");
        }
    }
}

#[cfg(test)]
mod markup_tests {
    use super::escape_markup;

    #[test]
    fn escape_markup_neutralises_tags_and_entities() {
        assert_eq!(
            escape_markup("Log in <b>now</b> & \"keep\" &amp;"),
            "Log in &lt;b&gt;now&lt;/b&gt; &amp; \"keep\" &amp;amp;"
        );
        assert_eq!(escape_markup("plain text"), "plain text");
    }
}
