//! Condition types and reasons every cutover object reports, in `metav1.Condition` shape.

/// Summary condition of every kind: True when the object is where its spec wants it.
pub const READY: &str = "Ready";

/// Reasons that apply to any kind.
pub mod reason {
    /// The spec breaks a rule; the message lists each violation with its field.
    pub const INVALID_SPEC: &str = "InvalidSpec";
    /// The spec is valid and being acted on.
    pub const RECONCILING: &str = "Reconciling";
}
