//! Webhook event delivery: signed form POSTs (`X-Twilio-Signature`, Twilio's
//! HMAC-SHA1 scheme), sent by a background worker with exponential backoff
//! so request handlers never wait on a receiver. The queue is bounded and
//! so are the deliveries in flight: when receivers are slow and the queue
//! is full, new events are dropped (and logged), never waited for.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use data_encoding::BASE64;
use hmac::{Hmac, Mac};
use rusqlite::params;
use tokio::sync::{Semaphore, mpsc};

use crate::db::Db;
use crate::sid;

pub const EVENT_TYPES: &[&str] = &[
    "*",
    "factor.deleted",
    "factor.created",
    "factor.verified",
    "challenge.approved",
    "challenge.denied",
];

#[derive(Debug, Clone)]
pub struct Event {
    pub service_sid: String,
    pub event_type: &'static str,
    /// Event-specific parameters (`entity_identity`, `factor_sid`, …).
    pub params: Vec<(String, String)>,
}

/// Bounds on webhook work.
#[derive(Debug, Clone)]
pub struct WebhookLimits {
    /// Events waiting for the worker; more are dropped.
    pub queue: usize,
    /// Deliveries (including their retries) in flight at once; while all
    /// are busy the worker waits and the queue fills.
    pub concurrent_deliveries: usize,
}

impl Default for WebhookLimits {
    fn default() -> Self {
        WebhookLimits {
            queue: 1024,
            concurrent_deliveries: 32,
        }
    }
}

/// Cheap handle used by request handlers to queue events.
#[derive(Clone)]
pub struct Dispatcher {
    tx: mpsc::Sender<Event>,
    targets: Arc<TargetCache>,
    /// Unix second of the last "queue full" warning (one a second at most).
    last_drop_warning: Arc<AtomicI64>,
}

impl Dispatcher {
    /// The handle, the worker's end of the queue, and the webhook cache the
    /// worker reads through.
    pub fn new(queue: usize) -> (Dispatcher, mpsc::Receiver<Event>, Arc<TargetCache>) {
        let (tx, rx) = mpsc::channel(queue.max(1));
        let targets = Arc::new(TargetCache::default());
        (
            Dispatcher {
                tx,
                targets: targets.clone(),
                last_drop_warning: Arc::new(AtomicI64::new(0)),
            },
            rx,
            targets,
        )
    }

    /// Call from inside the database job that changed any webhook (or
    /// deleted a service), so the next event reads them afresh.
    pub fn webhooks_changed(&self) {
        self.targets.invalidate();
    }

    /// Queue an event without waiting: a full queue drops it.
    pub fn emit(&self, service_sid: &str, event_type: &'static str, params: Vec<(String, String)>) {
        let event = Event {
            service_sid: service_sid.to_string(),
            event_type,
            params,
        };
        match self.tx.try_send(event) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(event)) => {
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs() as i64);
                if self.last_drop_warning.swap(now, Ordering::Relaxed) != now {
                    tracing::warn!(
                        event = event.event_type,
                        service = %event.service_sid,
                        "webhook queue full: event dropped"
                    );
                }
            }
            // The worker only stops at shutdown; losing events then is fine.
            Err(mpsc::error::TrySendError::Closed(_)) => {}
        }
    }
}

/// A service's enabled webhooks: URL and event types.
type Targets = Arc<Vec<(String, Vec<String>)>>;

/// Enabled webhooks per service, kept between changes: every approval emits
/// an event, while webhooks change rarely. Lookups that miss read the table
/// and store what they read under the database lock, and every change bumps
/// the generation under the same lock, so an entry read before a change can
/// never pass for current.
#[derive(Default)]
pub struct TargetCache {
    generation: AtomicU64,
    by_service: Mutex<HashMap<String, (u64, Targets)>>,
}

impl TargetCache {
    fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    fn get(&self, service_sid: &str) -> Option<Targets> {
        let generation = self.generation.load(Ordering::SeqCst);
        let map = self
            .by_service
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        map.get(service_sid)
            .filter(|(g, _)| *g == generation)
            .map(|(_, t)| t.clone())
    }

    /// Read a service's webhooks and remember them. Runs inside a database
    /// job, i.e. under the connection lock.
    fn load(&self, conn: &rusqlite::Connection, service_sid: &str) -> rusqlite::Result<Targets> {
        let generation = self.generation.load(Ordering::SeqCst);
        let mut stmt = conn.prepare_cached(
            "SELECT webhook_url, event_types FROM webhooks
             WHERE service_sid = ?1 AND status = 'enabled' ORDER BY seq",
        )?;
        let rows = stmt.query_map(params![service_sid], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })?;
        let mut targets = Vec::new();
        for row in rows {
            let (url, types) = row?;
            targets.push((url, serde_json::from_str(&types).unwrap_or_default()));
        }
        let targets = Arc::new(targets);
        let mut map = self
            .by_service
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        // Bounded: services are few in practice; a flood just starts over.
        if map.len() >= 10_000 {
            map.clear();
        }
        map.insert(service_sid.to_string(), (generation, targets.clone()));
        Ok(targets)
    }
}

#[derive(Debug, Clone)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub initial_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            initial_backoff: Duration::from_secs(1),
        }
    }
}

pub struct Worker {
    pub db: Db,
    pub targets: Arc<TargetCache>,
    pub account_sid: String,
    pub auth_token: String,
    pub client: reqwest::Client,
    pub retry: RetryPolicy,
    pub concurrent_deliveries: usize,
    /// Deliver to loopback and private addresses too (`webhook_target`).
    pub allow_private: bool,
}

/// Twilio request signature: base64(HMAC-SHA1(auth token, url + the POST
/// parameters sorted by name, each as name followed by value)).
pub fn signature(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    let mut data = url.to_string();
    for (k, v) in sorted {
        data.push_str(k);
        data.push_str(v);
    }
    let Ok(mut mac) = Hmac::<sha1::Sha1>::new_from_slice(auth_token.as_bytes()) else {
        return String::new();
    };
    mac.update(data.as_bytes());
    BASE64.encode(&mac.finalize().into_bytes())
}

impl Worker {
    pub async fn run(self, mut rx: mpsc::Receiver<Event>) {
        let slots = Arc::new(Semaphore::new(self.concurrent_deliveries.max(1)));
        let worker = Arc::new(self);
        while let Some(event) = rx.recv().await {
            let targets = match worker.targets(&event).await {
                Ok(t) => t,
                Err(e) => {
                    tracing::warn!(error = %e, "webhook lookup failed");
                    continue;
                }
            };
            for url in targets {
                // Waiting here (not in the request) is what bounds the work.
                let Ok(slot) = slots.clone().acquire_owned().await else {
                    return;
                };
                let w = worker.clone();
                let event = event.clone();
                tokio::spawn(async move {
                    w.deliver(url, event).await;
                    drop(slot);
                });
            }
        }
    }

    async fn targets(&self, event: &Event) -> Result<Vec<String>, crate::error::ApiError> {
        let targets = match self.targets.get(&event.service_sid) {
            Some(t) => t,
            None => {
                let (cache, service) = (self.targets.clone(), event.service_sid.clone());
                self.db.call(move |c| Ok(cache.load(c, &service)?)).await?
            }
        };
        let ty = event.event_type;
        Ok(targets
            .iter()
            .filter(|(_, types)| types.iter().any(|t| t == "*" || t == ty))
            .map(|(url, _)| url.clone())
            .collect())
    }

    async fn deliver(&self, url: String, event: Event) {
        if !self.allow_private {
            // Host names are checked by the client's resolver; literals here.
            let refusal = match reqwest::Url::parse(&url) {
                Ok(u) => crate::webhook_target::literal_refusal(&u),
                Err(e) => Some(e.to_string()),
            };
            if let Some(why) = refusal {
                tracing::warn!(%url, reason = %why, "webhook target refused");
                return;
            }
        }
        let mut params = vec![
            ("uuid".to_string(), sid::new_sid("")),
            ("type".to_string(), event.event_type.to_string()),
            ("account_sid".to_string(), self.account_sid.clone()),
            ("service_sid".to_string(), event.service_sid.clone()),
        ];
        params.extend(event.params.iter().cloned());
        let sig = signature(&self.auth_token, &url, &params);
        let mut backoff = self.retry.initial_backoff;
        for attempt in 1..=self.retry.max_attempts.max(1) {
            let result = self
                .client
                .post(&url)
                .header("X-Twilio-Signature", &sig)
                .header("I-Twilio-Idempotency-Token", &params[0].1)
                .form(&params)
                .send()
                .await;
            match result {
                Ok(resp) if resp.status().is_success() => return,
                Ok(resp) => {
                    tracing::debug!(%url, status = %resp.status(), attempt, "webhook refused")
                }
                Err(e) => tracing::debug!(%url, error = %e, attempt, "webhook failed"),
            }
            if attempt < self.retry.max_attempts {
                tokio::time::sleep(backoff).await;
                backoff = backoff.saturating_mul(2);
            }
        }
        tracing::warn!(%url, event = event.event_type, "webhook delivery gave up");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twilio_signature_example() {
        // Twilio's documented example (security docs): token 12345, this URL
        // and these params sign to 0/KCTR6DLpKmkAf8muzZqo1nDgQ=.
        let params: Vec<(String, String)> = [
            ("Digits", "1234"),
            ("To", "+18005551212"),
            ("From", "+12349013030"),
            ("Caller", "+12349013030"),
            ("CallSid", "CA1234567890ABCDE"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(
            signature(
                "12345",
                "https://mycompany.com/myapp.php?foo=1&bar=2",
                &params
            ),
            "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
        );
    }
}
