//! MigrationPlan rules the schema cannot express.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};

use super::{Report, check_resource_type, check_tags, check_unique};
use crate::machine::{LicenseType, OsType};
use crate::plan::{
    Hook, MAX_MACHINES_PER_PLAN, MigrationPlan, MigrationPlanSpec, StartReplication,
};

impl MigrationPlan {
    /// Every rule on the spec, and immutability once the plan has machines.
    pub fn validate(&self) -> Report {
        let mut report = self.spec.validate();
        if let Some(vault) = self.status.as_ref().and_then(|s| s.bound_vault.as_ref())
            && *vault != self.spec.vault_ref.name
        {
            report.error(
                "spec.vaultRef.name",
                format!("is immutable once the plan has started (was {vault:?})"),
            );
        }
        report
    }
}

impl MigrationPlanSpec {
    /// Every rule on the spec alone, including each template with the defaults applied.
    pub fn validate(&self) -> Report {
        let mut report = Report::default();
        let templates = &self.machines.templates;
        if templates.is_empty() && self.machines.selector.is_none() {
            report.error(
                "spec.machines",
                "list machine templates or set a selector: the plan has no machines",
            );
        }
        if let Some(selector) = &self.machines.selector
            && let Err(error) = kube::core::Selector::try_from(selector.clone())
        {
            // kube's own parse, the one that lists and matches the adopted machines.
            report.error("spec.machines.selector", error.to_string());
        }
        if templates.len() > MAX_MACHINES_PER_PLAN {
            report.error(
                "spec.machines.templates",
                format!(
                    "a plan holds at most {MAX_MACHINES_PER_PLAN} machines, got {}",
                    templates.len()
                ),
            );
        }
        check_unique(
            &mut report,
            templates,
            |t| t.name.as_str(),
            |i| format!("spec.machines.templates[{i}].name"),
            "machine",
        );
        let mut sources: HashMap<&str, &str> = HashMap::new();
        for (i, template) in templates.iter().enumerate() {
            if let Some(other) =
                sources.insert(template.source.name.as_str(), template.name.as_str())
            {
                report.error(
                    format!("spec.machines.templates[{i}].source.name"),
                    format!(
                        "source machine {:?} is already in template {other:?}",
                        template.source.name
                    ),
                );
            }
            let at = format!("spec.machines.templates[{i}]");
            let target = self.defaults.apply(&template.target);
            super::machine::validate_machine(
                &mut report,
                &at,
                &template.source,
                template.os_type,
                &template.include_disks,
                &target,
            );
        }
        check_tags(&mut report, "spec.defaults.tags", &self.defaults.tags);
        if self.defaults.license_type == Some(LicenseType::WindowsServer)
            && let Some(linux) = templates
                .iter()
                .find(|t| t.os_type == OsType::Linux && t.target.license_type.is_none())
        {
            report.error(
                "spec.defaults.licenseType",
                format!("WindowsServer (Azure Hybrid Benefit) would apply to the Linux machine {:?}; set its own licenseType", linux.name),
            );
        }
        self.validate_waves(&mut report);
        if let Some(id) = &self.test_failover.network_id {
            check_resource_type(
                &mut report,
                "spec.testFailover.networkId",
                id,
                "Microsoft.Network",
                "virtualNetworks",
            );
        }
        if let Some(window) = &self.cutover.window
            && window.end.0 <= window.start.0
        {
            report.error(
                "spec.cutover.window.end",
                format!("must be after the window's start ({})", window.start.0),
            );
        }
        if !(1..=100).contains(&self.cutover.max_concurrent) {
            report.error(
                "spec.cutover.maxConcurrent",
                format!("must be 1 to 100, got {}", self.cutover.max_concurrent),
            );
        }
        self.validate_hooks(&mut report);
        report
    }

    fn template_names(&self) -> HashSet<&str> {
        self.machines
            .templates
            .iter()
            .map(|t| t.name.as_str())
            .collect()
    }

    fn validate_hooks(&self, report: &mut Report) {
        check_unique(
            report,
            &self.hooks,
            |h| h.name.as_str(),
            |i| format!("spec.hooks[{i}].name"),
            "hook",
        );
        let waves: HashSet<&str> = self.waves.iter().map(|w| w.name.as_str()).collect();
        let templates = self.template_names();
        for (i, hook) in self.hooks.iter().enumerate() {
            let at = format!("spec.hooks[{i}]");
            for (w, wave) in hook.waves.iter().enumerate() {
                if !waves.contains(wave.as_str()) {
                    report.error(
                        format!("{at}.waves[{w}]"),
                        format!("the plan has no wave {wave:?}"),
                    );
                }
            }
            for (m, machine) in hook.machines.iter().enumerate() {
                if !templates.contains(machine.as_str()) && self.machines.selector.is_none() {
                    report.error(
                        format!("{at}.machines[{m}]"),
                        format!(
                            "no machine template named {machine:?}, and no selector to adopt one"
                        ),
                    );
                }
            }
            self.validate_job_template(report, &at, hook);
        }
    }

    /// What the Job API would refuse, said when the plan is applied rather than at cutover.
    fn validate_job_template(&self, report: &mut Report, at: &str, hook: &Hook) {
        let field = format!("{at}.jobTemplate");
        let template = match hook.job_template.parse() {
            Ok(template) => template,
            Err(error) => {
                report.error(
                    &field,
                    format!("is not a batch/v1 JobTemplateSpec: {error}"),
                );
                return;
            }
        };
        if let Some(metadata) = &template.metadata
            && (metadata.name.is_some() || metadata.generate_name.is_some())
        {
            report.error(
                format!("{field}.metadata"),
                "cutover names each hook's Job (plan, machine, hook and attempt); remove name and generateName",
            );
        }
        let pod = template
            .spec
            .as_ref()
            .and_then(|spec| spec.template.spec.as_ref());
        let Some(pod) = pod else {
            report.error(
                format!("{field}.spec.template.spec"),
                "the Job needs a pod template with at least one container",
            );
            return;
        };
        if pod.containers.is_empty() {
            report.error(
                format!("{field}.spec.template.spec.containers"),
                "the Job needs at least one container",
            );
        }
        // The Job API takes only these (Kubernetes: "Jobs", Pod Template).
        if let Some(policy) = &pod.restart_policy
            && policy != "Never"
            && policy != "OnFailure"
        {
            report.error(
                format!("{field}.spec.template.spec.restartPolicy"),
                format!("a Job's pods restart Never or OnFailure, got {policy:?}"),
            );
        }
        let allowed = self.service_account_name.as_deref().unwrap_or("default");
        for (key, account) in [
            ("serviceAccountName", &pod.service_account_name),
            ("serviceAccount", &pod.service_account),
        ] {
            if let Some(account) = account
                && account != allowed
            {
                report.error(
                    format!("{field}.spec.template.spec.{key}"),
                    format!(
                        "hooks run as the plan's ServiceAccount {allowed:?} (spec.serviceAccountName), not {account:?}"
                    ),
                );
            }
        }
    }

    fn validate_waves(&self, report: &mut Report) {
        if self.waves.is_empty() {
            return;
        }
        check_unique(
            report,
            &self.waves,
            |w| w.name.as_str(),
            |i| format!("spec.waves[{i}].name"),
            "wave",
        );
        let templates = self.template_names();
        let mut wave_of: HashMap<&str, &str> = HashMap::new();
        for (w, wave) in self.waves.iter().enumerate() {
            if w == 0 && wave.start_replication == StartReplication::AfterPreviousWave {
                report.error(
                    "spec.waves[0].startReplication",
                    "the first wave has no previous wave to wait for; use Immediately",
                );
            }
            for (m, machine) in wave.machines.iter().enumerate() {
                let field = format!("spec.waves[{w}].machines[{m}]");
                match wave_of.entry(machine) {
                    Entry::Occupied(first) => {
                        report.error(
                            &field,
                            format!("machine {machine:?} is already in wave {:?}", first.get()),
                        );
                    }
                    Entry::Vacant(slot) => {
                        slot.insert(&wave.name);
                        if !templates.contains(machine.as_str()) && self.machines.selector.is_none()
                        {
                            report.error(&field, format!("no machine template named {machine:?}, and no selector to adopt one"));
                        }
                    }
                }
            }
        }
        for template in &self.machines.templates {
            if !wave_of.contains_key(template.name.as_str()) {
                report.error(
                    "spec.waves",
                    format!("machine {:?} is in no wave; list it in one", template.name),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{PLAN, check_table, with};
    use crate::plan::{MigrationPlan, MigrationPlanStatus};

    #[test]
    fn the_base_fixture_is_valid() {
        assert_eq!(with::<MigrationPlan>(PLAN, "{}").validate().errors, vec![]);
    }

    #[test]
    fn each_rule_names_the_field_and_says_why() {
        check_table::<MigrationPlan>(
            PLAN,
            MigrationPlan::validate,
            &[
                (
                    "no machines",
                    "spec: {machines: {templates: []}, waves: null}",
                    &[
                        "spec.machines: list machine templates or set a selector: the plan has no machines",
                    ],
                ),
                (
                    "a selector expression kube cannot parse",
                    "spec: {machines: {templates: [], selector: {matchExpressions: [{key: app, operator: In}]}}, waves: null}",
                    &[
                        "spec.machines.selector: failed to parse value as expression: Expected values for In operator, got none",
                    ],
                ),
                (
                    "duplicate machine names",
                    "spec: {machines: {templates: [{name: web-01, source: {name: WEB01}, osType: Windows}, {name: web-01, source: {name: WEB02}, osType: Windows}]}, waves: null}",
                    &[
                        r#"spec.machines.templates[1].name: duplicate machine "web-01" (also at index 0)"#,
                    ],
                ),
                (
                    "one source machine in two templates",
                    "spec: {machines: {templates: [{name: web-01, source: {name: WEB01}, osType: Windows}, {name: web-02, source: {name: WEB01}, osType: Windows}]}, waves: null}",
                    &[
                        r#"spec.machines.templates[1].source.name: source machine "WEB01" is already in template "web-01""#,
                    ],
                ),
                (
                    "template rule, reported at the template",
                    "spec: {machines: {templates: [{name: web-01, source: {name: WEB01}, osType: Windows, target: {staticIp: 10.0.0.999}}]}, waves: null}",
                    &[
                        r#"spec.machines.templates[0].target.staticIp: "10.0.0.999" is not a valid IPv4 address"#,
                    ],
                ),
                (
                    "Windows licence default on a Linux machine",
                    "spec: {defaults: {licenseType: WindowsServer}}",
                    &[
                        "spec.machines.templates[2].target.licenseType: WindowsServer (Azure Hybrid Benefit) applies to Windows machines only",
                        r#"spec.defaults.licenseType: WindowsServer (Azure Hybrid Benefit) would apply to the Linux machine "db-01"; set its own licenseType"#,
                    ],
                ),
                (
                    "default tag ARM refuses",
                    "spec: {defaults: {tags: {\"a?b\": x}}}",
                    &[
                        r#"spec.machines.templates[0].target.tags["a?b"]: tag names cannot contain < > % & \ ? /"#,
                        r#"spec.machines.templates[1].target.tags["a?b"]: tag names cannot contain < > % & \ ? /"#,
                        r#"spec.machines.templates[2].target.tags["a?b"]: tag names cannot contain < > % & \ ? /"#,
                        r#"spec.defaults.tags["a?b"]: tag names cannot contain < > % & \ ? /"#,
                    ],
                ),
                (
                    "duplicate wave",
                    "spec: {waves: [{name: wave-1, machines: [db-01]}, {name: wave-1, machines: [web-01, web-02]}]}",
                    &[r#"spec.waves[1].name: duplicate wave "wave-1" (also at index 0)"#],
                ),
                (
                    "machine in two waves",
                    "spec: {waves: [{name: wave-1, machines: [db-01, web-01]}, {name: wave-2, machines: [web-01, web-02]}]}",
                    &[r#"spec.waves[1].machines[0]: machine "web-01" is already in wave "wave-1""#],
                ),
                (
                    "wave names an unknown machine",
                    "spec: {waves: [{name: wave-1, machines: [db-01, db-02]}, {name: wave-2, machines: [web-01, web-02]}]}",
                    &[
                        r#"spec.waves[0].machines[1]: no machine template named "db-02", and no selector to adopt one"#,
                    ],
                ),
                (
                    "machine in no wave",
                    "spec: {waves: [{name: wave-1, machines: [db-01]}, {name: wave-2, machines: [web-01]}]}",
                    &[r#"spec.waves: machine "web-02" is in no wave; list it in one"#],
                ),
                (
                    "first wave waits for nothing",
                    "spec: {waves: [{name: wave-1, machines: [db-01], startReplication: AfterPreviousWave}, {name: wave-2, machines: [web-01, web-02]}]}",
                    &[
                        "spec.waves[0].startReplication: the first wave has no previous wave to wait for; use Immediately",
                    ],
                ),
                (
                    "test network of the wrong type",
                    "spec: {testFailover: {required: true, autoCleanup: true, networkId: /subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v/subnets/s}}",
                    &[
                        "spec.testFailover.networkId: expected a Microsoft.Network/virtualNetworks resource ID, got /subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v/subnets/s",
                    ],
                ),
                (
                    "window that ends before it starts",
                    "spec: {cutover: {window: {start: \"2026-12-06T04:00:00Z\", end: \"2026-12-05T22:00:00Z\"}}}",
                    &[
                        "spec.cutover.window.end: must be after the window's start (2026-12-06T04:00:00Z)",
                    ],
                ),
                (
                    "absurd concurrency",
                    "spec: {cutover: {maxConcurrent: 100000}}",
                    &["spec.cutover.maxConcurrent: must be 1 to 100, got 100000"],
                ),
                (
                    "two hooks of one name",
                    "spec: {hooks: [{name: smoke, step: PostFailover, jobTemplate: {spec: {template: {spec: {restartPolicy: Never, containers: [{name: t, image: busybox}]}}}}}, {name: smoke, step: PostCommit, jobTemplate: {spec: {template: {spec: {restartPolicy: Never, containers: [{name: t, image: busybox}]}}}}}]}",
                    &[r#"spec.hooks[1].name: duplicate hook "smoke" (also at index 0)"#],
                ),
                (
                    "a hook for a wave or machine the plan does not have",
                    "spec: {hooks: [{name: smoke, step: PostFailover, waves: [wave-9], machines: [app-01], jobTemplate: {spec: {template: {spec: {restartPolicy: Never, containers: [{name: t, image: busybox}]}}}}}]}",
                    &[
                        r#"spec.hooks[0].waves[0]: the plan has no wave "wave-9""#,
                        r#"spec.hooks[0].machines[0]: no machine template named "app-01", and no selector to adopt one"#,
                    ],
                ),
                (
                    "a job template that is not one",
                    "spec: {hooks: [{name: smoke, step: PostFailover, jobTemplate: {spec: {template: {spec: {containers: yes}}}}}]}",
                    &[
                        "spec.hooks[0].jobTemplate: is not a batch/v1 JobTemplateSpec: invalid type: string \"yes\", expected a sequence",
                    ],
                ),
                (
                    "a job template the Job API refuses",
                    "spec: {hooks: [{name: smoke, step: PreCutover, jobTemplate: {metadata: {name: mine}, spec: {template: {spec: {restartPolicy: Always, containers: []}}}}}]}",
                    &[
                        "spec.hooks[0].jobTemplate.metadata: cutover names each hook's Job (plan, machine, hook and attempt); remove name and generateName",
                        "spec.hooks[0].jobTemplate.spec.template.spec.containers: the Job needs at least one container",
                        r#"spec.hooks[0].jobTemplate.spec.template.spec.restartPolicy: a Job's pods restart Never or OnFailure, got "Always""#,
                    ],
                ),
                (
                    "a hook that runs as another ServiceAccount",
                    "spec: {serviceAccountName: hooks, hooks: [{name: smoke, step: PostFailover, jobTemplate: {spec: {template: {spec: {serviceAccountName: admin, restartPolicy: Never, containers: [{name: t, image: busybox}]}}}}}]}",
                    &[
                        r#"spec.hooks[0].jobTemplate.spec.template.spec.serviceAccountName: hooks run as the plan's ServiceAccount "hooks" (spec.serviceAccountName), not "admin""#,
                    ],
                ),
                (
                    "a hook without a pod",
                    "spec: {hooks: [{name: smoke, step: PostCommit, jobTemplate: {}}]}",
                    &[
                        "spec.hooks[0].jobTemplate.spec.template.spec: the Job needs a pod template with at least one container",
                    ],
                ),
            ],
        );
    }

    #[test]
    fn templates_inherit_defaults_without_overriding_their_own() {
        let plan = with::<MigrationPlan>(PLAN, "{}");
        let db = plan.spec.machines.templates[2].machine_spec(&plan.spec);
        assert_eq!(db.vault_ref.name, "dc1");
        assert_eq!(db.target.vm_size.as_deref(), Some("Standard_E4s_v5"));
        assert_eq!(db.target.subnet.as_deref(), Some("app"));
        assert_eq!(
            db.target.tags.get("project").map(String::as_str),
            Some("shop")
        );
    }

    #[test]
    fn vault_is_immutable_once_started() {
        let mut plan = with::<MigrationPlan>(PLAN, "spec: {vaultRef: {name: dc2}}");
        plan.status = Some(MigrationPlanStatus {
            bound_vault: Some("dc1".into()),
            ..Default::default()
        });
        assert_eq!(
            plan.validate().error_message(),
            r#"spec.vaultRef.name: is immutable once the plan has started (was "dc1")"#
        );
    }
}
