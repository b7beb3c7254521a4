//! What `validate()` reports: violations with the field they concern, errors and warnings.
//!
//! The schema rejects what OpenAPI can say at admission; `validate()` covers the rest (rules
//! across fields, and immutability, which the 1.20 API server cannot enforce without CEL).

use std::fmt;
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

use crate::common::{ResourceId, Tags};

/// One broken rule, with the path of the field it concerns (`spec.storage.log`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    pub field: String,
    pub message: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// The outcome of validating an object: errors make it invalid, warnings do not.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    pub errors: Vec<Violation>,
    pub warnings: Vec<Violation>,
}

impl Report {
    pub fn error(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.errors.push(Violation {
            field: field.into(),
            message: message.into(),
        });
    }

    pub fn warn(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.warnings.push(Violation {
            field: field.into(),
            message: message.into(),
        });
    }

    pub fn is_valid(&self) -> bool {
        self.errors.is_empty()
    }

    /// Every error on one line, for a condition message.
    pub fn error_message(&self) -> String {
        join(&self.errors)
    }

    /// Every warning on one line, for an Event.
    pub fn warning_message(&self) -> String {
        join(&self.warnings)
    }
}

fn join(violations: &[Violation]) -> String {
    violations
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// Parses an IPv4 CIDR block, reporting a bad one (or one with host bits set) under `field`.
pub(crate) fn parse_cidr(report: &mut Report, field: &str, text: &str) -> Option<Ipv4Net> {
    match text.parse::<Ipv4Net>() {
        Ok(net) if net.trunc() == net => Some(net),
        Ok(net) => {
            report.error(
                field,
                format!("{text} has host bits set; did you mean {}?", net.trunc()),
            );
            None
        }
        Err(_) => {
            report.error(field, format!("{text:?} is not a valid IPv4 CIDR block"));
            None
        }
    }
}

/// Parses an IPv4 address, reporting a bad one under `field`.
pub(crate) fn parse_ipv4(report: &mut Report, field: &str, text: &str) -> Option<Ipv4Addr> {
    let parsed = text.parse::<Ipv4Addr>().ok();
    if parsed.is_none() {
        report.error(field, format!("{text:?} is not a valid IPv4 address"));
    }
    parsed
}

/// Checks that an adopted resource's ID names the expected resource type.
pub(crate) fn check_resource_type(
    report: &mut Report,
    field: &str,
    id: &ResourceId,
    provider: &str,
    kind: &str,
) {
    let expected = format!("/providers/{provider}/{kind}/");
    let lower = id.0.to_ascii_lowercase();
    let tail_ok = lower
        .find(&expected.to_ascii_lowercase())
        .is_some_and(|at| !lower[at + expected.len()..].contains('/'));
    if !tail_ok {
        report.error(
            field,
            format!("expected a {provider}/{kind} resource ID, got {id}"),
        );
    }
}

/// ARM's limits on tags: 50 per resource, names up to 512 characters without `<>%&\?/`,
/// values up to 256 characters.
pub(crate) fn check_tags(report: &mut Report, field: &str, tags: &Tags) {
    const MAX_TAGS: usize = 50;
    if tags.len() > MAX_TAGS {
        report.error(
            field,
            format!("Azure allows at most {MAX_TAGS} tags, got {}", tags.len()),
        );
    }
    for (name, value) in tags {
        let at = format!("{field}[{name:?}]");
        if name.is_empty() || name.chars().count() > 512 {
            report.error(&at, "tag names are 1 to 512 characters");
        }
        if name.contains(['<', '>', '%', '&', '\\', '?', '/']) {
            report.error(&at, r"tag names cannot contain < > % & \ ? /");
        }
        if value.chars().count() > 256 {
            report.error(&at, "tag values are at most 256 characters");
        }
    }
}

/// Reports each repeated value of `items` (by `key`) at the field `field_of(index)`.
pub(crate) fn check_unique<'a, T>(
    report: &mut Report,
    items: &'a [T],
    key: impl Fn(&'a T) -> &'a str,
    field_of: impl Fn(usize) -> String,
    what: &str,
) {
    let mut seen = std::collections::HashMap::new();
    for (i, item) in items.iter().enumerate() {
        let value = key(item);
        if let Some(first) = seen.insert(value, i) {
            seen.insert(value, first);
            report.error(
                field_of(i),
                format!("duplicate {what} {value:?} (also at index {first})"),
            );
        }
    }
}

mod machine;
mod plan;
mod vault;

#[cfg(test)]
pub(crate) mod fixtures;
