//! What the webhook answers: the same `validate()` the reconcilers run, at admission.
//!
//! The API server's `AdmissionReview` (admission.k8s.io/v1) carries the object and, on an
//! update, the stored one. Its answer is `allowed`, or refused with a message the API server
//! prints after `admission webhook "..." denied the request:`; `warnings` reach kubectl's
//! output (admission.k8s.io/v1 has them from Kubernetes 1.19).

use cutover_api::validate::Report;
use cutover_api::{MigrationPlan, RecoveryVault, ReplicatedMachine};
use kube::core::DynamicObject;
use kube::core::admission::{AdmissionRequest, AdmissionResponse, Operation};
use serde::de::DeserializeOwned;

/// The answer to one review.
pub fn review(request: &AdmissionRequest<DynamicObject>) -> AdmissionResponse {
    let response = AdmissionResponse::from(request);
    if !matches!(request.operation, Operation::Create | Operation::Update) {
        return response;
    }
    let Some(object) = &request.object else {
        return response;
    };
    let old = request.old_object.as_ref();
    // A change that leaves the spec as it was (a finalizer removed, an annotation, labels,
    // a deletion under way) is never refused: an object stored before the webhook existed must
    // still be deletable, and the controller must still be able to release it.
    if let Some(old) = old
        && (old.data.get("spec") == object.data.get("spec")
            || object.metadata.deletion_timestamp.is_some())
    {
        return response;
    }
    let report = match request.kind.kind.as_str() {
        "RecoveryVault" => validated::<RecoveryVault>(object, old, |v| v.validate()),
        "MigrationPlan" => validated::<MigrationPlan>(object, old, |p| p.validate()),
        "ReplicatedMachine" => validated::<ReplicatedMachine>(object, old, |m| m.validate()),
        // Not a kind of cutover's: the configuration routes none here, and none is judged.
        _ => return response,
    };
    let report = match report {
        Ok(report) => report,
        Err(message) => return refused(response, message),
    };
    let mut response = response;
    if !report.warnings.is_empty() {
        response.warnings = Some(report.warnings.iter().map(ToString::to_string).collect());
    }
    if report.is_valid() {
        response
    } else {
        refused(response, report.error_message())
    }
}

/// The object's report. Immutability is judged against the status the controller recorded,
/// which is the stored object's: the API server keeps a resource's status on a write to the
/// main resource, and drops it on a create.
fn validated<K: DeserializeOwned + WithStatus>(
    object: &DynamicObject,
    old: Option<&DynamicObject>,
    validate: impl Fn(&K) -> Report,
) -> Result<Report, String> {
    let mut typed: K = parse(object)?;
    let status = match old {
        Some(old) => parse::<K>(old)?.take_status(),
        None => None,
    };
    typed.set_status(status);
    Ok(validate(&typed))
}

fn parse<K: DeserializeOwned>(object: &DynamicObject) -> Result<K, String> {
    serde_json::to_value(object)
        .and_then(serde_json::from_value)
        .map_err(|error| format!("the object does not match its schema: {error}"))
}

/// A refusal with the code and reason of an invalid object (422 `Invalid`), as the API server
/// answers for its own schema.
fn refused(mut response: AdmissionResponse, message: String) -> AdmissionResponse {
    response.result.code = 422;
    response.result.reason = "Invalid".into();
    response.deny(message)
}

/// The three kinds' status, moved from the stored object to the new one.
trait WithStatus {
    type Status;
    fn take_status(self) -> Option<Self::Status>;
    fn set_status(&mut self, status: Option<Self::Status>);
}

macro_rules! with_status {
    ($kind:ty, $status:ty) => {
        impl WithStatus for $kind {
            type Status = $status;
            fn take_status(self) -> Option<$status> {
                self.status
            }
            fn set_status(&mut self, status: Option<$status>) {
                self.status = status;
            }
        }
    };
}
with_status!(RecoveryVault, cutover_api::RecoveryVaultStatus);
with_status!(MigrationPlan, cutover_api::MigrationPlanStatus);
with_status!(ReplicatedMachine, cutover_api::ReplicatedMachineStatus);

#[cfg(test)]
mod tests {
    use super::*;
    use kube::core::admission::AdmissionReview;
    use serde_json::{Value, json};

    /// The example's document of `kind`, as a user applies it.
    fn example(kind: &str) -> Value {
        let yaml = include_str!("../../../deploy/examples/aws.yaml");
        serde_yaml_ng::Deserializer::from_str(yaml)
            .map(|document| serde::Deserialize::deserialize(document).unwrap())
            .find(|document: &Value| document["kind"] == kind)
            .unwrap()
    }

    fn machine(vault: &str, vm_name: &str) -> Value {
        json!({
            "apiVersion": "cutover.dev/v1alpha1", "kind": "ReplicatedMachine",
            "metadata": {"name": "web01", "namespace": "ns"},
            "spec": {"vaultRef": {"name": vault}, "source": {"name": "WEB01"}, "osType": "Windows",
                     "target": {"vmSize": "Standard_D2s_v5", "subnet": "frontend", "vmName": vm_name}},
        })
    }

    fn request(
        operation: &str,
        kind: &str,
        object: Value,
        old: Option<Value>,
    ) -> AdmissionRequest<DynamicObject> {
        let review: AdmissionReview<DynamicObject> = serde_json::from_value(json!({
            "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
            "request": {
                "uid": "705ab4f5-6393-11e8-b7cc-42010a800002",
                "kind": {"group": "cutover.dev", "version": "v1alpha1", "kind": kind},
                "resource": {"group": "cutover.dev", "version": "v1alpha1", "resource": "x"},
                "name": "web01", "namespace": "ns", "operation": operation,
                "userInfo": {"username": "admin"},
                "object": object, "oldObject": old, "dryRun": false,
            }
        }))
        .unwrap();
        review.try_into().unwrap()
    }

    #[test]
    fn a_valid_machine_is_allowed_and_an_invalid_one_refused_naming_the_field() {
        let allowed = review(&request(
            "CREATE",
            "ReplicatedMachine",
            machine("dc1", "web-01"),
            None,
        ));
        assert!(allowed.allowed, "{:?}", allowed.result);
        assert_eq!(allowed.uid, "705ab4f5-6393-11e8-b7cc-42010a800002");

        let refused = review(&request(
            "CREATE",
            "ReplicatedMachine",
            machine("dc1", "web_01"),
            None,
        ));
        assert!(!refused.allowed);
        assert_eq!(refused.result.code, 422);
        assert_eq!(refused.result.reason, "Invalid");
        assert!(
            refused
                .result
                .message
                .contains("spec.target.vmName: \"web_01\" is not a valid Azure VM name"),
            "{}",
            refused.result.message
        );
    }

    #[test]
    fn immutability_is_judged_against_the_stored_status() {
        let mut stored = machine("dc1", "web-01");
        stored["status"] = json!({"bound": {"vault": "dc1", "sourceName": "WEB01"}});
        let moved = machine("dc2", "web-01");
        let answer = review(&request(
            "UPDATE",
            "ReplicatedMachine",
            moved.clone(),
            Some(stored),
        ));
        assert!(!answer.allowed);
        assert!(
            answer.result.message.contains(
                "spec.vaultRef.name: is immutable once protection is enabled (was \"dc1\")"
            ),
            "{}",
            answer.result.message
        );
        // Before protection, the vault may change.
        let answer = review(&request(
            "UPDATE",
            "ReplicatedMachine",
            moved,
            Some(machine("dc1", "web-01")),
        ));
        assert!(answer.allowed, "{:?}", answer.result);
    }

    #[test]
    fn a_status_sent_with_a_create_is_not_what_immutability_is_judged_by() {
        // The API server drops it; so does the webhook: a new machine binds nothing yet.
        let mut created = machine("dc2", "web-01");
        created["status"] = json!({"bound": {"vault": "dc1", "sourceName": "WEB01"}});
        assert!(review(&request("CREATE", "ReplicatedMachine", created, None)).allowed);
    }

    #[test]
    fn a_change_that_leaves_the_spec_alone_is_allowed_even_on_an_invalid_object() {
        let stored = machine("dc1", "web_01");
        let mut released = stored.clone();
        released["metadata"]["finalizers"] = json!([]);
        released["metadata"]["annotations"] = json!({"cutover.dev/retry": "1"});
        assert!(
            review(&request(
                "UPDATE",
                "ReplicatedMachine",
                released,
                Some(stored.clone())
            ))
            .allowed
        );

        let mut deleting = machine("dc1", "web_02");
        deleting["metadata"]["deletionTimestamp"] = json!("2026-12-02T00:00:00Z");
        assert!(
            review(&request(
                "UPDATE",
                "ReplicatedMachine",
                deleting,
                Some(stored)
            ))
            .allowed
        );
    }

    #[test]
    fn each_kind_runs_its_own_rules() {
        let mut vault = example("RecoveryVault");
        assert!(review(&request("CREATE", "RecoveryVault", vault.clone(), None)).allowed);
        vault["spec"]["replicationPolicy"] = json!({"recoveryPointRetentionHours": 1000});
        let answer = review(&request("CREATE", "RecoveryVault", vault, None));
        assert!(!answer.allowed);
        assert!(
            answer
                .result
                .message
                .contains("spec.replicationPolicy.recoveryPointRetentionHours"),
            "{}",
            answer.result.message
        );

        let mut plan = example("MigrationPlan");
        assert!(review(&request("CREATE", "MigrationPlan", plan.clone(), None)).allowed);
        plan["spec"]["machines"] = json!({"templates": []});
        let answer = review(&request("CREATE", "MigrationPlan", plan, None));
        assert!(!answer.allowed);
        assert!(
            answer
                .result
                .message
                .contains("spec.machines: list machine templates or set a selector"),
            "{}",
            answer.result.message
        );
    }

    #[test]
    fn deletes_and_other_kinds_are_not_judged() {
        let invalid = machine("dc1", "web_01");
        assert!(
            review(&request(
                "DELETE",
                "ReplicatedMachine",
                invalid.clone(),
                None
            ))
            .allowed
        );
        assert!(review(&request("CREATE", "ConfigMap", invalid, None)).allowed);
    }

    #[test]
    fn an_object_that_does_not_match_the_types_is_refused_with_why() {
        let mut odd = machine("dc1", "web-01");
        odd["spec"]["osType"] = json!(7);
        let answer = review(&request("CREATE", "ReplicatedMachine", odd, None));
        assert!(!answer.allowed);
        assert!(
            answer
                .result
                .message
                .starts_with("the object does not match its schema"),
            "{}",
            answer.result.message
        );
    }
}
