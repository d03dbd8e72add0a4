//! When to ask the server for pending challenges. Pure scheduling logic: every method takes
//! `now`, so it runs on any clock (tests pass made-up instants); the caller does the
//! requests and reports back.
//!
//! Rates (the defaults of [`PollPolicy`]):
//! - window visible: every 2 s per factor, which is also the hard floor (never more than one
//!   request per factor per 2 s, whatever happens);
//! - window hidden: every 45 s per factor;
//! - window focused: every factor at once (still within the floor);
//! - after a failure: the interval doubles per consecutive failure, up to 5 min, and never
//!   sooner than the server's `Retry-After`;
//! - one poll is one request, given up after 10 s (`request_timeout`): retries are the
//!   schedule's, never the HTTP client's (see [`crate::push::watch`]).
//!
//! Typical loop: `for k in poller.due(now) { poller.started(&k, now); … poll …;
//! poller.succeeded(&k, now) or poller.failed(&k, now, retry_after) }`, then sleep until
//! `poller.next_due()`.

use std::collections::HashMap;
use std::hash::Hash;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PollPolicy {
    /// Interval while the window is visible; also the minimum spacing of requests per factor.
    pub visible_interval: Duration,
    pub background_interval: Duration,
    /// Longest wait after repeated failures.
    pub max_backoff: Duration,
    /// Longest wait for one poll's answer; a slower server counts as a failed poll.
    pub request_timeout: Duration,
}

impl Default for PollPolicy {
    fn default() -> Self {
        PollPolicy {
            visible_interval: Duration::from_secs(2),
            background_interval: Duration::from_secs(45),
            max_backoff: Duration::from_secs(300),
            request_timeout: Duration::from_secs(10),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Visibility {
    Visible,
    Background,
}

#[derive(Debug, Clone)]
struct Target {
    next_due: Instant,
    last_start: Option<Instant>,
    in_flight: bool,
    failures: u32,
}

/// The polling schedule of a set of factors (keyed by anything: enrollment ids in the app).
#[derive(Debug, Clone)]
pub struct Poller<K> {
    policy: PollPolicy,
    visibility: Visibility,
    targets: HashMap<K, Target>,
}

impl<K: Eq + Hash + Clone> Poller<K> {
    pub fn new(policy: PollPolicy, visibility: Visibility) -> Self {
        Poller {
            policy,
            visibility,
            targets: HashMap::new(),
        }
    }

    pub fn visibility(&self) -> Visibility {
        self.visibility
    }

    /// Sets the factors to poll: new ones are due at once, dropped ones are forgotten.
    pub fn set_targets(&mut self, keys: impl IntoIterator<Item = K>, now: Instant) {
        let keys: Vec<K> = keys.into_iter().collect();
        self.targets.retain(|k, _| keys.contains(k));
        for key in keys {
            self.targets.entry(key).or_insert(Target {
                next_due: now,
                last_start: None,
                in_flight: false,
                failures: 0,
            });
        }
    }

    /// Window shown or hidden. Becoming visible polls at once; becoming hidden stretches the
    /// next poll to the background interval.
    pub fn set_visibility(&mut self, visibility: Visibility, now: Instant) {
        if visibility == self.visibility {
            return;
        }
        self.visibility = visibility;
        match visibility {
            Visibility::Visible => self.poll_now(now),
            Visibility::Background => {
                let interval = self.interval();
                for target in self.targets.values_mut() {
                    if target.failures == 0 {
                        target.next_due = target.last_start.map_or(now, |t| t + interval);
                    }
                }
            }
        }
    }

    /// The window got focus (or the user asked to refresh): poll everything as soon as the
    /// per-factor floor allows, failures included.
    pub fn poll_now(&mut self, now: Instant) {
        let floor = self.policy.visible_interval;
        for target in self.targets.values_mut() {
            target.next_due = target.last_start.map_or(now, |t| (t + floor).max(now));
        }
    }

    /// Factors whose poll is due and not already running.
    pub fn due(&self, now: Instant) -> Vec<K> {
        self.targets
            .iter()
            .filter(|(_, t)| !t.in_flight && t.next_due <= now)
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// When the next poll is due (`None` with nothing to poll or everything in flight).
    pub fn next_due(&self) -> Option<Instant> {
        self.targets
            .values()
            .filter(|t| !t.in_flight)
            .map(|t| t.next_due)
            .min()
    }

    /// When `key` is polled next (`None` when unknown or in flight).
    pub fn next_due_of(&self, key: &K) -> Option<Instant> {
        self.targets
            .get(key)
            .filter(|t| !t.in_flight)
            .map(|t| t.next_due)
    }

    /// How many polls of `key` have failed in a row.
    pub fn failures(&self, key: &K) -> u32 {
        self.targets.get(key).map_or(0, |t| t.failures)
    }

    pub fn policy(&self) -> &PollPolicy {
        &self.policy
    }

    pub fn started(&mut self, key: &K, now: Instant) {
        if let Some(target) = self.targets.get_mut(key) {
            target.in_flight = true;
            target.last_start = Some(now);
        }
    }

    pub fn succeeded(&mut self, key: &K, now: Instant) {
        let interval = self.interval();
        let floor = self.policy.visible_interval;
        if let Some(target) = self.targets.get_mut(key) {
            target.in_flight = false;
            target.failures = 0;
            let start = target.last_start.unwrap_or(now);
            target.next_due = (start + interval).max(start + floor);
        }
    }

    /// A failed poll: back off exponentially, and at least as long as `retry_after`.
    pub fn failed(&mut self, key: &K, now: Instant, retry_after: Option<Duration>) {
        let interval = self.interval();
        let policy = self.policy.clone();
        if let Some(target) = self.targets.get_mut(key) {
            target.in_flight = false;
            target.failures = target.failures.saturating_add(1);
            let factor = 1u32 << target.failures.min(16);
            let backoff = interval
                .saturating_mul(factor)
                .min(policy.max_backoff)
                .max(retry_after.unwrap_or_default());
            let start = target.last_start.unwrap_or(now);
            target.next_due = (now + backoff).max(start + policy.visible_interval);
        }
    }

    fn interval(&self) -> Duration {
        match self.visibility {
            Visibility::Visible => self.policy.visible_interval,
            Visibility::Background => self.policy.background_interval,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    fn poll(poller: &mut Poller<u8>, key: u8, at: Instant, ok: bool) {
        poller.started(&key, at);
        if ok {
            poller.succeeded(&key, at);
        } else {
            poller.failed(&key, at, None);
        }
    }

    #[test]
    fn new_targets_are_due_at_once_then_every_interval() {
        let t0 = Instant::now();
        let mut poller = Poller::new(PollPolicy::default(), Visibility::Visible);
        poller.set_targets([1, 2], t0);
        let mut due = poller.due(t0);
        due.sort();
        assert_eq!(due, vec![1, 2]);
        poll(&mut poller, 1, t0, true);
        assert!(!poller.due(t0 + Duration::from_millis(1999)).contains(&1));
        assert!(poller.due(t0 + secs(2)).contains(&1));
    }

    #[test]
    fn in_flight_polls_are_not_due_again() {
        let t0 = Instant::now();
        let mut poller = Poller::new(PollPolicy::default(), Visibility::Visible);
        poller.set_targets([1], t0);
        poller.started(&1, t0);
        assert!(poller.due(t0 + secs(60)).is_empty());
        assert_eq!(poller.next_due(), None);
    }

    #[test]
    fn background_polls_every_45_s_and_visible_again_polls_at_once() {
        let t0 = Instant::now();
        let mut poller = Poller::new(PollPolicy::default(), Visibility::Visible);
        poller.set_targets([1], t0);
        poll(&mut poller, 1, t0, true);
        poller.set_visibility(Visibility::Background, t0 + secs(1));
        assert_eq!(poller.next_due(), Some(t0 + secs(45)));
        poll(&mut poller, 1, t0 + secs(45), true);
        assert_eq!(poller.next_due(), Some(t0 + secs(90)));
        poller.set_visibility(Visibility::Visible, t0 + secs(50));
        assert_eq!(poller.due(t0 + secs(50)), vec![1]);
    }

    #[test]
    fn focus_never_breaks_the_two_second_floor() {
        let t0 = Instant::now();
        let mut poller = Poller::new(PollPolicy::default(), Visibility::Background);
        poller.set_targets([1], t0);
        poll(&mut poller, 1, t0, true);
        poller.poll_now(t0 + Duration::from_millis(500));
        assert!(poller.due(t0 + Duration::from_millis(500)).is_empty());
        assert_eq!(poller.next_due(), Some(t0 + secs(2)));
        poller.poll_now(t0 + secs(10));
        assert_eq!(poller.due(t0 + secs(10)), vec![1]);
    }

    #[test]
    fn failures_back_off_exponentially_up_to_the_cap_and_recover() {
        let t0 = Instant::now();
        let mut poller = Poller::new(PollPolicy::default(), Visibility::Visible);
        poller.set_targets([1], t0);
        let mut now = t0;
        let mut waits = Vec::new();
        for _ in 0..10 {
            poll(&mut poller, 1, now, false);
            let next = poller.next_due().unwrap();
            waits.push((next - now).as_secs());
            now = next;
        }
        assert_eq!(waits, vec![4, 8, 16, 32, 64, 128, 256, 300, 300, 300]);
        assert_eq!(poller.failures(&1), 10);
        poll(&mut poller, 1, now, true);
        assert_eq!(poller.failures(&1), 0);
        assert_eq!(poller.next_due_of(&1), Some(now + secs(2)));
        poller.started(&1, now + secs(2));
        assert_eq!(poller.next_due_of(&1), None, "in flight");
    }

    #[test]
    fn retry_after_is_honoured_when_longer_than_the_backoff() {
        let t0 = Instant::now();
        let mut poller = Poller::new(PollPolicy::default(), Visibility::Visible);
        poller.set_targets([1], t0);
        poller.started(&1, t0);
        poller.failed(&1, t0, Some(secs(30)));
        assert_eq!(poller.next_due(), Some(t0 + secs(30)));
    }

    #[test]
    fn removed_targets_are_forgotten() {
        let t0 = Instant::now();
        let mut poller = Poller::new(PollPolicy::default(), Visibility::Visible);
        poller.set_targets([1, 2], t0);
        poller.set_targets([2], t0);
        assert_eq!(poller.due(t0), vec![2]);
    }
}
