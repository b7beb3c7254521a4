//! The one finalizer wrapper: every kind's pass goes through [`reconcile`], which adds the
//! finalizer before anything is done in Azure, runs `apply` while the object lives and
//! `cleanup` once it is being deleted, and removes the finalizer only when cleanup says
//! [`Cleanup::Done`]. A deletion under way or waiting is an outcome, not a failed reconcile.

use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;

use kube::runtime::controller::Action;
use kube::runtime::finalizer::{Event, finalizer};
use kube::{Api, Resource};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{Error, Result, settle_cleanup};

/// How a deletion stands after a cleanup pass.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cleanup {
    /// What the deletion policy asks is done: the finalizer goes.
    Done,
    /// A step is under way (said in status): look again after the poll interval.
    Pending(String),
    /// Waiting on someone else (the machines using a vault, a person): look again later.
    Blocked(String),
}

/// One pass of `object` under the finalizer `name`. `poll` is how soon a pending deletion is
/// looked at again (a blocked one, six times that).
pub async fn reconcile<K, A, AF, C, CF>(
    api: &Api<K>,
    name: &str,
    object: Arc<K>,
    poll: Duration,
    apply: A,
    cleanup: C,
) -> Result<Action>
where
    K: Resource + Clone + DeserializeOwned + Serialize + Debug,
    A: FnOnce(Arc<K>) -> AF,
    AF: Future<Output = Result<Action>>,
    C: FnOnce(Arc<K>) -> CF,
    CF: Future<Output = Result<Cleanup>>,
{
    let outcome = finalizer(api, name, object, |event| async move {
        match event {
            Event::Apply(object) => apply(object).await,
            Event::Cleanup(object) => match cleanup(object).await? {
                Cleanup::Done => Ok(Action::await_change()),
                // kube's finalizer keeps the finalizer only when cleanup fails: a deletion
                // not yet done travels as one, and `settle_cleanup` turns it back.
                Cleanup::Pending(step) => Err(Error::TeardownInProgress(step)),
                Cleanup::Blocked(why) => Err(Error::DeletionBlocked(why)),
            },
        }
    })
    .await;
    settle_cleanup(outcome, poll)
}

#[cfg(test)]
mod tests {
    //! The wrapper against a mocked API server (tower-test, as kube-rs's controller-rs does):
    //! which requests each pass makes, and what it returns.

    use super::*;
    use http::{Request, Response};
    use k8s_openapi::api::core::v1::ConfigMap;
    use kube::client::Body;
    use std::sync::atomic::{AtomicBool, Ordering};
    use tower_test::mock;

    const FINALIZER: &str = "cutover.dev/test";
    const POLL: Duration = Duration::from_secs(5);

    fn object(finalizers: &[&str], deleted: bool) -> ConfigMap {
        serde_json::from_value(serde_json::json!({
            "metadata": {
                "name": "cm",
                "namespace": "ns",
                "uid": "u1",
                "resourceVersion": "7",
                "finalizers": finalizers,
                "deletionTimestamp": deleted.then_some("2026-12-02T12:00:00Z"),
            }
        }))
        .unwrap()
    }

    /// What the API server answers a patch with.
    fn live() -> ConfigMap {
        object(&[FINALIZER], false)
    }

    /// Runs one pass with a cleanup that answers `cleanup`; returns what it returned, whether
    /// apply and cleanup ran, and the body of each request the API server saw.
    async fn pass(
        object: ConfigMap,
        cleanup: Cleanup,
    ) -> (Result<Action>, bool, bool, Vec<String>) {
        let (service, mut handle) = mock::pair::<Request<Body>, Response<Body>>();
        let server = tokio::spawn(async move {
            let mut seen = Vec::new();
            while let Some((request, respond)) = handle.next_request().await {
                let (parts, body) = request.into_parts();
                let bytes = body.collect_bytes().await.unwrap();
                seen.push(format!(
                    "{} {} {}",
                    parts.method,
                    parts.uri.path(),
                    String::from_utf8_lossy(&bytes)
                ));
                let answer = serde_json::to_vec(&live()).unwrap();
                respond.send_response(Response::builder().body(Body::from(answer)).unwrap());
            }
            seen
        });
        let applied = AtomicBool::new(false);
        let cleaned = AtomicBool::new(false);
        let result = {
            let api = Api::<ConfigMap>::namespaced(kube::Client::new(service, "ns"), "ns");
            reconcile(
                &api,
                FINALIZER,
                Arc::new(object),
                POLL,
                |_| async {
                    applied.store(true, Ordering::SeqCst);
                    Ok(Action::requeue(Duration::from_secs(300)))
                },
                |_| async {
                    cleaned.store(true, Ordering::SeqCst);
                    Ok(cleanup)
                },
            )
            .await
        };
        let seen = server.await.unwrap();
        (
            result,
            applied.load(Ordering::SeqCst),
            cleaned.load(Ordering::SeqCst),
            seen,
        )
    }

    #[tokio::test]
    async fn the_finalizer_is_added_before_anything_is_done() {
        let (result, applied, cleaned, seen) = pass(object(&[], false), Cleanup::Done).await;
        assert_eq!(result.unwrap(), Action::await_change());
        assert!(!applied && !cleaned);
        assert_eq!(seen.len(), 1, "{seen:?}");
        assert!(
            seen[0].starts_with("PATCH /api/v1/namespaces/ns/configmaps/cm")
                && seen[0].contains(FINALIZER),
            "{seen:?}"
        );
    }

    #[tokio::test]
    async fn a_live_object_is_applied_without_a_request() {
        let (result, applied, cleaned, seen) =
            pass(object(&[FINALIZER], false), Cleanup::Done).await;
        assert_eq!(result.unwrap(), Action::requeue(Duration::from_secs(300)));
        assert!(applied && !cleaned);
        assert!(seen.is_empty(), "{seen:?}");
    }

    #[tokio::test]
    async fn a_deletion_not_done_keeps_the_finalizer_and_is_not_an_error() {
        for (cleanup, requeue) in [
            (Cleanup::Pending("deleting vault v".into()), POLL),
            (Cleanup::Blocked("machines use it".into()), POLL * 6),
        ] {
            let (result, applied, cleaned, seen) =
                pass(object(&[FINALIZER], true), cleanup.clone()).await;
            assert_eq!(result.unwrap(), Action::requeue(requeue), "{cleanup:?}");
            assert!(!applied && cleaned);
            assert!(seen.is_empty(), "the finalizer stays: {seen:?}");
        }
    }

    #[tokio::test]
    async fn a_deletion_done_removes_the_finalizer() {
        let (result, applied, cleaned, seen) =
            pass(object(&["other.dev/keep", FINALIZER], true), Cleanup::Done).await;
        assert!(result.is_ok());
        assert!(!applied && cleaned);
        assert_eq!(seen.len(), 1, "{seen:?}");
        assert!(
            seen[0].starts_with("PATCH /api/v1/namespaces/ns/configmaps/cm")
                && seen[0].contains("\"remove\"")
                && seen[0].contains("/metadata/finalizers/1"),
            "only cutover's finalizer goes: {seen:?}"
        );
    }
}
