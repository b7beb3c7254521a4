//! Lists shared by every machine of a vault for one poll interval (protected items, protectable
//! items, a fabric's machines): the steady-state cost grows with vaults, not machines. Each key
//! has its own lock, held across its fetch so one list is fetched once however many machines
//! ask at the same moment; a slow list of one vault never holds up another's.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::azure::ArmError;

/// A list fetched from ARM: when, and how long it took.
struct Fetched<T> {
    at: Instant,
    took: Duration,
    list: Arc<Vec<T>>,
}

type Slot<T> = Arc<tokio::sync::Mutex<Option<Fetched<T>>>>;

pub struct SharedLists<T> {
    slots: Mutex<HashMap<String, Slot<T>>>,
}

impl<T> Default for SharedLists<T> {
    fn default() -> Self {
        SharedLists {
            slots: Mutex::default(),
        }
    }
}

impl<T> SharedLists<T> {
    fn slot(&self, key: &str) -> Slot<T> {
        self.slots
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(key.to_owned())
            .or_default()
            .clone()
    }

    /// The list under `key`, fetched again when older than `max_age` (or than four times its
    /// last fetch took) or than `fresh_after`.
    pub async fn get<F, Fut>(
        &self,
        key: &str,
        max_age: Duration,
        fresh_after: Option<Instant>,
        fetch: F,
    ) -> Result<Arc<Vec<T>>, ArmError>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<Vec<T>, ArmError>>,
    {
        let slot = self.slot(key);
        let mut cached = slot.lock().await;
        if let Some(fetched) = cached.as_ref()
            && fetched.at.elapsed() < max_age.max(fetched.took * 4)
            && fresh_after.is_none_or(|after| fetched.at >= after)
        {
            return Ok(fetched.list.clone());
        }
        // A list is as fresh as the moment its first page was asked for.
        let at = Instant::now();
        let list = Arc::new(fetch().await?);
        *cached = Some(Fetched {
            at,
            // A long (many-paged) list is fetched at most a quarter of the time, so lists
            // never crowd out the rest of the ARM budget however many machines there are.
            took: at.elapsed(),
            list: list.clone(),
        });
        Ok(list)
    }

    /// Drops a cached list (after a write that changes it); a fetch under way finishes first.
    pub async fn forget(&self, key: &str) {
        let slot = self
            .slots
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(key)
            .cloned();
        if let Some(slot) = slot {
            *slot.lock().await = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[tokio::test]
    async fn a_slow_list_holds_up_only_its_own_key() {
        let lists = Arc::new(SharedLists::<()>::default());
        let (release, released) = tokio::sync::oneshot::channel::<()>();
        let slow = {
            let lists = lists.clone();
            tokio::spawn(async move {
                lists
                    .get("items:vault-a", Duration::from_secs(60), None, || async {
                        released.await.ok();
                        Ok(Vec::new())
                    })
                    .await
            })
        };
        tokio::task::yield_now().await;
        // Vault B's list is fetched while vault A's is still being fetched.
        let other = tokio::time::timeout(
            Duration::from_secs(5),
            lists.get("items:vault-b", Duration::from_secs(60), None, || async {
                Ok(Vec::new())
            }),
        )
        .await;
        assert!(other.is_ok(), "vault B waited for vault A's list");
        release.send(()).unwrap();
        slow.await.unwrap().unwrap();
    }

    #[tokio::test]
    async fn one_key_is_fetched_once_for_everyone_until_it_is_old_or_forgotten() {
        let lists = SharedLists::<()>::default();
        let fetches = AtomicUsize::new(0);
        let fetch = || async {
            fetches.fetch_add(1, Ordering::SeqCst);
            Ok(Vec::new())
        };
        let max_age = Duration::from_secs(60);
        lists.get("k", max_age, None, fetch).await.unwrap();
        lists.get("k", max_age, None, fetch).await.unwrap();
        assert_eq!(fetches.load(Ordering::SeqCst), 1);
        lists
            .get("k", max_age, Some(Instant::now()), fetch)
            .await
            .unwrap();
        assert_eq!(fetches.load(Ordering::SeqCst), 2, "fresher than asked");
        lists.forget("k").await;
        lists.get("k", max_age, None, fetch).await.unwrap();
        assert_eq!(fetches.load(Ordering::SeqCst), 3, "forgotten after a write");
    }
}
