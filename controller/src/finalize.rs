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
