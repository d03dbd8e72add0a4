//! Push approval in the app: commands over the core's `PushManager`, and the background
//! task that polls for sign-in requests and raises a notification for each new one.
//!
//! Rates come from the core's `Poller` (every 2 s per factor while the window is visible,
//! every 45 s in the background, at once when the window gains focus, backing off on errors).

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use countersign_core::push::{
    Decision, EnrollLink, Enrollment, HistoryEntry, PendingChallenge, PollPolicy, Poller,
    PushManager, Visibility,
};
use countersign_core::verify::Challenge;
use serde::Serialize;
use tauri::{AppHandle, Emitter, Manager, State};
use tauri_plugin_notification::NotificationExt;
use tokio::sync::Notify;
use uuid::Uuid;

use crate::error::CommandError;
use crate::state::AppState;

type CommandResult<T> = Result<T, CommandError>;

/// Event the window listens to: the current pending requests.
pub const CHALLENGES_EVENT: &str = "push-challenges";
/// Event carrying an enrollment link the OS handed us (deep link or second launch).
pub const ENROLL_LINK_EVENT: &str = "push-enroll-link";

/// What the poller knows, shared with the commands.
#[derive(Default)]
pub struct PushRuntime {
    pending: Mutex<PendingView>,
    poller: Mutex<Option<Poller<Uuid>>>,
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

#[derive(Debug, Clone, Serialize)]
pub struct EnrollmentFailure {
    pub enrollment_id: Uuid,
    pub error: CommandError,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn push_manager(state: &AppState) -> CommandResult<Arc<PushManager>> {
    Ok(state.push()?)
}

#[tauri::command]
pub async fn push_enrollments(state: State<'_, AppState>) -> CommandResult<Vec<Enrollment>> {
    Ok(push_manager(&state)?.enrollments()?)
}

/// What a link would enroll, shown before the user confirms. The access token stays here.
#[derive(Debug, Serialize)]
pub struct LinkSummary {
    pub server: String,
    pub service_sid: String,
    pub identity: String,
    pub friendly_name: Option<String>,
}

#[tauri::command]
pub async fn push_inspect_link(link: String) -> CommandResult<LinkSummary> {
    let link = EnrollLink::parse(&link)?;
    Ok(LinkSummary {
        server: link.server,
        service_sid: link.service_sid,
        identity: link.identity,
        friendly_name: link.friendly_name,
    })
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
    challenge_sid: String,
    approve: bool,
) -> CommandResult<Challenge> {
    let decision = if approve {
        Decision::Approve
    } else {
        Decision::Deny
    };
    let manager = push_manager(&state)?;
    let result = manager
        .answer(enrollment_id, &challenge_sid, decision)
        .await;
    // Answered, expired or gone: either way it leaves the list now, not at the next poll.
    {
        let mut pending = lock(&runtime.pending);
        pending
            .challenges
            .retain(|c| c.challenge.sid != challenge_sid);
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

pub fn set_visibility(runtime: &PushRuntime, visible: bool) {
    let visibility = if visible {
        Visibility::Visible
    } else {
        Visibility::Background
    };
    if let Some(poller) = lock(&runtime.poller).as_mut() {
        poller.set_visibility(visibility, Instant::now());
    }
    runtime.wake.notify_one();
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

fn retarget(app: &AppHandle, runtime: &PushRuntime) {
    let ids = verified_enrollments(app);
    if let Some(poller) = lock(&runtime.poller).as_mut() {
        poller.set_targets(ids, Instant::now());
        poller.poll_now(Instant::now());
    }
    runtime.wake.notify_one();
}

fn verified_enrollments(app: &AppHandle) -> Vec<Uuid> {
    app.state::<AppState>()
        .push()
        .ok()
        .and_then(|m| m.enrollments().ok())
        .unwrap_or_default()
        .into_iter()
        .filter(|e| e.is_verified())
        .map(|e| e.id)
        .collect()
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
        {
            let mut poller = Poller::new(PollPolicy::default(), Visibility::Visible);
            poller.set_targets(verified_enrollments(&app), Instant::now());
            *lock(&runtime.poller) = Some(poller);
        }
        loop {
            let due = lock(&runtime.poller)
                .as_ref()
                .map(|p| p.due(Instant::now()))
                .unwrap_or_default();
            for id in due {
                poll_one(&app, &manager, &runtime, id).await;
            }
            let next = lock(&runtime.poller).as_ref().and_then(|p| p.next_due());
            let sleep = next
                .map(|at| at.saturating_duration_since(Instant::now()))
                .unwrap_or(std::time::Duration::from_secs(60));
            tokio::select! {
                _ = tokio::time::sleep(sleep) => {}
                _ = runtime.wake.notified() => {}
            }
        }
    });
}

async fn poll_one(app: &AppHandle, manager: &PushManager, runtime: &PushRuntime, id: Uuid) {
    if let Some(p) = lock(&runtime.poller).as_mut() {
        p.started(&id, Instant::now());
    }
    let enrollment = match manager.enrollments() {
        Ok(all) => all.into_iter().find(|e| e.id == id),
        Err(_) => None,
    };
    let Some(enrollment) = enrollment else {
        return;
    };
    match manager.pending_challenges_for(&enrollment).await {
        Ok(challenges) => {
            if let Some(p) = lock(&runtime.poller).as_mut() {
                p.succeeded(&id, Instant::now());
            }
            let fresh: Vec<PendingChallenge> = challenges
                .into_iter()
                .map(|challenge| PendingChallenge {
                    enrollment_id: id,
                    enrollment_name: enrollment.friendly_name.clone(),
                    challenge,
                })
                .collect();
            announce_new(app, runtime, &fresh);
            let view = {
                let mut pending = lock(&runtime.pending);
                pending.challenges.retain(|c| c.enrollment_id != id);
                pending.challenges.extend(fresh);
                pending.failures.retain(|f| f.enrollment_id != id);
                pending.clone()
            };
            let _ = app.emit(CHALLENGES_EVENT, view);
        }
        Err(e) => {
            let retry_after = match &e {
                countersign_core::Error::RateLimited { retry_after_secs } => {
                    Some(std::time::Duration::from_secs(*retry_after_secs))
                }
                _ => None,
            };
            if let Some(p) = lock(&runtime.poller).as_mut() {
                p.failed(&id, Instant::now(), retry_after);
            }
            let view = {
                let mut pending = lock(&runtime.pending);
                pending.failures.retain(|f| f.enrollment_id != id);
                pending.failures.push(EnrollmentFailure {
                    enrollment_id: id,
                    error: e.into(),
                });
                pending.clone()
            };
            let _ = app.emit(CHALLENGES_EVENT, view);
        }
    }
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
            .title(format!("Sign-in request: {}", pending.enrollment_name))
            .body(pending.challenge.details.message.clone())
            .show();
        if let Err(e) = result {
            tracing::warn!("notification not shown: {e}");
        }
    }
}
