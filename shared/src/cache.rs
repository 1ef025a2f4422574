//! The one per-instance cache of the project: values trusted for a fixed time, bounded in
//! size, loaded once however many callers ask at the same moment. The rate limiter's
//! tenant terms, the generation policy's system settings and the Secrets Manager key
//! all use it; a TTL of zero (local mode) reads through every time.

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::time::{Duration, Instant};

pub struct TtlCache<K, V> {
    ttl: Duration,
    capacity: usize,
    /// An async lock: held across a load, so concurrent misses share one load.
    entries: tokio::sync::Mutex<HashMap<K, (Instant, V)>>,
}

impl<K: Eq + Hash + Clone, V: Clone> TtlCache<K, V> {
    /// Values live for `ttl`; past `capacity` entries the cache starts afresh.
    pub fn new(ttl: Duration, capacity: usize) -> Self {
        Self {
            ttl,
            capacity: capacity.max(1),
            entries: tokio::sync::Mutex::new(HashMap::new()),
        }
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// The cached value of `key` while fresh, else what `load` returns (cached when it
    /// succeeds; an error is not cached).
    pub async fn get_or_try_load<E, F, Fut>(&self, key: &K, load: F) -> Result<V, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<V, E>>,
    {
        if self.ttl.is_zero() {
            return load().await;
        }
        let mut entries = self.entries.lock().await;
        if let Some((at, value)) = entries.get(key) {
            if at.elapsed() < self.ttl {
                return Ok(value.clone());
            }
        }
        let value = load().await?;
        if entries.len() >= self.capacity {
            entries.clear();
        }
        entries.insert(key.clone(), (Instant::now(), value.clone()));
        Ok(value)
    }

    /// Forgets `key`: the next read loads it.
    pub async fn invalidate(&self, key: &K) {
        self.entries.lock().await.remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    async fn load(count: &AtomicUsize) -> Result<usize, ()> {
        Ok(count.fetch_add(1, Ordering::SeqCst) + 1)
    }

    #[tokio::test]
    async fn values_are_trusted_for_the_ttl_then_reloaded() {
        let cache = TtlCache::new(Duration::from_secs(10), 10);
        let count = AtomicUsize::new(0);
        assert_eq!(cache.get_or_try_load(&"a", || load(&count)).await, Ok(1));
        assert_eq!(cache.get_or_try_load(&"a", || load(&count)).await, Ok(1));
        assert_eq!(cache.get_or_try_load(&"b", || load(&count)).await, Ok(2));
        cache.invalidate(&"a").await;
        assert_eq!(cache.get_or_try_load(&"a", || load(&count)).await, Ok(3));
    }

    #[tokio::test]
    async fn expired_values_and_errors_are_not_served() {
        let cache = TtlCache::new(Duration::from_millis(20), 10);
        let count = AtomicUsize::new(0);
        assert_eq!(cache.get_or_try_load(&1, || load(&count)).await, Ok(1));
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(cache.get_or_try_load(&1, || load(&count)).await, Ok(2));
        let failed: Result<usize, &str> = cache.get_or_try_load(&2, || async { Err("down") }).await;
        assert_eq!(failed, Err("down"));
        assert_eq!(cache.get_or_try_load(&2, || load(&count)).await, Ok(3));
    }

    #[tokio::test]
    async fn a_zero_ttl_reads_through_and_capacity_bounds_the_size() {
        let through = TtlCache::new(Duration::ZERO, 10);
        let count = AtomicUsize::new(0);
        through.get_or_try_load(&1, || load(&count)).await.unwrap();
        through.get_or_try_load(&1, || load(&count)).await.unwrap();
        assert_eq!(count.load(Ordering::SeqCst), 2);
        let bounded = TtlCache::new(Duration::from_secs(60), 2);
        for key in 0..5 {
            bounded
                .get_or_try_load(&key, || load(&count))
                .await
                .unwrap();
        }
        assert!(bounded.entries.lock().await.len() <= 2);
    }

    #[tokio::test]
    async fn concurrent_misses_share_one_load() {
        let cache = Arc::new(TtlCache::new(Duration::from_secs(60), 10));
        let count = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let (cache, count) = (cache.clone(), count.clone());
                tokio::spawn(async move {
                    cache
                        .get_or_try_load(&"k", || async {
                            tokio::time::sleep(Duration::from_millis(5)).await;
                            load(&count).await
                        })
                        .await
                })
            })
            .collect();
        for task in tasks {
            assert_eq!(task.await.unwrap(), Ok(1));
        }
    }
}
