//! WebKitGTK tuning for a small, static UI. Measured on Debian 12 under Xvfb (see
//! BENCHMARKS.md): software rendering, the document-viewer cache model and (in main.rs) the
//! shared-memory renderer cut the app's summed PSS by about a quarter, with no visible
//! difference for a list of codes.

use tauri::{Manager, Runtime};

pub fn tune<R: Runtime>(app: &tauri::App<R>) {
    if let Some(window) = app.get_webview_window("main") {
        tune_window(&window);
    }
}

/// Tunes one window's web view (the first one, and each one built again after a close).
#[cfg(target_os = "linux")]
pub fn tune_window<R: Runtime>(window: &tauri::WebviewWindow<R>) {
    use webkit2gtk::{
        CacheModel, HardwareAccelerationPolicy, SettingsExt, WebContextExt, WebViewExt,
    };
    let result = window.with_webview(|platform| {
        let view = platform.inner();
        if let Some(context) = view.context() {
            // No back/forward or resource caches worth keeping in a one-page app.
            context.set_cache_model(CacheModel::DocumentViewer);
        }
        if let Some(settings) = WebViewExt::settings(&view) {
            // GPU compositing costs ~60 MB of buffers and buys nothing for this UI.
            settings.set_hardware_acceleration_policy(HardwareAccelerationPolicy::Never);
            settings.set_enable_page_cache(false);
        }
    });
    if let Err(e) = result {
        tracing::warn!("could not tune the web view: {e}");
    }
}

#[cfg(not(target_os = "linux"))]
pub fn tune_window<R: Runtime>(_window: &tauri::WebviewWindow<R>) {}
