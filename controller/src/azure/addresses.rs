//! Private addresses in an Azure subnet, checked before they are asked for: the subnet a
//! machine names is in its target network, and its static address is inside that subnet, not
//! one Azure keeps for itself, and no other machine's.
//!
//! Azure keeps five addresses of every subnet: the network address, `.1` (the default
//! gateway), `.2` and `.3` (Azure DNS), and the last (broadcast). The first a NIC can have is
//! the fifth: Azure/acs-engine pull request 1933 ("10.0.0.4 is the first IP address available"),
//! Microsoft Learn's AZ-103 material ("2^n-5" usable addresses), and the
//! `VirtualNetworkCheckIPAddressAvailability.json` example (network 2024-05-01: 10.0.1.4 taken,
//! 10.0.1.5 offered next). Whether an address is already in use only ARM knows
//! (`VirtualNetworks_CheckIpAddressAvailability`, a GET).

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

/// What one machine asks of the target network.
#[derive(Clone, Debug)]
pub struct Wanted<'a> {
    pub machine: &'a str,
    pub subnet: Option<&'a str>,
    pub static_ip: Option<&'a str>,
}

/// A rule a machine's address breaks, under the field that says it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub machine: String,
    pub field: &'static str,
    pub message: String,
}

/// The addresses Azure keeps in `subnet`.
pub fn reserved(subnet: Ipv4Net) -> [Ipv4Addr; 5] {
    let first = u32::from(subnet.network());
    [
        subnet.network(),
        Ipv4Addr::from(first + 1),
        Ipv4Addr::from(first + 2),
        Ipv4Addr::from(first + 3),
        subnet.broadcast(),
    ]
}

/// Checks what `wanted` asks of the network `network` whose subnets are `subnets` (name,
/// prefix). A machine without a subnet or a static address asks nothing checkable.
pub fn check(network: &str, subnets: &[(String, String)], wanted: &[Wanted<'_>]) -> Vec<Problem> {
    let mut problems = Vec::new();
    let mut taken: BTreeMap<Ipv4Addr, &str> = BTreeMap::new();
    for want in wanted {
        let problem = |field, message: String| Problem {
            machine: want.machine.to_owned(),
            field,
            message,
        };
        let Some(name) = want.subnet else { continue };
        let Some((_, prefix)) = subnets.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)) else {
            let names: Vec<&str> = subnets.iter().map(|(n, _)| n.as_str()).collect();
            problems.push(problem(
                "spec.target.subnet",
                format!(
                    "the target network {network} has no subnet {name} (it has {})",
                    if names.is_empty() {
                        "none".to_owned()
                    } else {
                        names.join(", ")
                    }
                ),
            ));
            continue;
        };
        let (Some(ip), Ok(net)) = (
            want.static_ip.and_then(|ip| ip.parse::<Ipv4Addr>().ok()),
            prefix.parse::<Ipv4Net>(),
        ) else {
            continue;
        };
        let net = net.trunc();
        if !net.contains(&ip) {
            problems.push(problem(
                "spec.target.staticIp",
                format!("{ip} is not in subnet {name} ({net})"),
            ));
        } else if reserved(net).contains(&ip) {
            problems.push(problem(
                "spec.target.staticIp",
                format!(
                    "Azure keeps {ip} in subnet {name} ({net}): the first four and the last address of a subnet are not given to VMs; the first free is {}",
                    Ipv4Addr::from(u32::from(reserved(net)[3]) + 1)
                ),
            ));
        } else if let Some(other) = taken.insert(ip, want.machine) {
            taken.insert(ip, other);
            problems.push(problem(
                "spec.target.staticIp",
                format!("{ip} is also the static address of machine {other}"),
            ));
        }
    }
    problems
}

/// What ARM's answer says of `ip` in the network `network`, when it is not free: kept by Azure,
/// or taken, with the free addresses near it that ARM offers.
pub fn unavailable(
    ip: &str,
    network: &str,
    answer: &crate::azure::resources::IpAvailability,
) -> Option<String> {
    if answer.available {
        return None;
    }
    Some(if answer.is_platform_reserved {
        format!("Azure keeps {ip} in the target network {network}")
    } else if answer.available_ip_addresses.is_empty() {
        format!("{ip} is taken in the target network {network}")
    } else {
        format!(
            "{ip} is taken in the target network {network}; free near it: {}",
            answer.available_ip_addresses.join(", ")
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subnets() -> Vec<(String, String)> {
        vec![
            ("web".into(), "10.10.1.0/24".into()),
            ("data".into(), "10.10.2.0/28".into()),
        ]
    }

    fn want<'a>(machine: &'a str, subnet: Option<&'a str>, ip: Option<&'a str>) -> Wanted<'a> {
        Wanted {
            machine,
            subnet,
            static_ip: ip,
        }
    }

    #[test]
    fn arms_answer_says_kept_taken_with_what_is_free_or_nothing_when_free() {
        let answer = |available, reserved, free: &[&str]| crate::azure::resources::IpAvailability {
            available,
            available_ip_addresses: free.iter().map(|a| (*a).to_owned()).collect(),
            is_platform_reserved: reserved,
        };
        assert_eq!(
            unavailable("10.0.1.9", "vnet", &answer(true, false, &[])),
            None
        );
        assert_eq!(
            unavailable("10.0.1.1", "vnet", &answer(false, true, &[])).unwrap(),
            "Azure keeps 10.0.1.1 in the target network vnet"
        );
        assert_eq!(
            unavailable(
                "10.0.1.4",
                "vnet",
                &answer(false, false, &["10.0.1.5", "10.0.1.6"])
            )
            .unwrap(),
            "10.0.1.4 is taken in the target network vnet; free near it: 10.0.1.5, 10.0.1.6"
        );
        assert_eq!(
            unavailable("10.0.1.4", "vnet", &answer(false, false, &[])).unwrap(),
            "10.0.1.4 is taken in the target network vnet"
        );
    }

    #[test]
    fn azure_keeps_the_first_four_and_the_last_address_of_a_subnet() {
        let net: Ipv4Net = "10.10.2.0/28".parse().unwrap();
        assert_eq!(
            reserved(net).map(|a| a.to_string()),
            [
                "10.10.2.0",
                "10.10.2.1",
                "10.10.2.2",
                "10.10.2.3",
                "10.10.2.15"
            ]
        );
    }

    #[test]
    fn each_rule_names_the_machine_the_field_and_the_value() {
        /// A case, what it asks, and the one problem expected (field, message).
        type Case<'a> = (&'a str, Wanted<'a>, Option<(&'a str, &'a str)>);
        let cases: &[Case<'_>] = &[
            ("no subnet asked", want("a", None, Some("10.10.1.9")), None),
            (
                "a free address",
                want("a", Some("web"), Some("10.10.1.4")),
                None,
            ),
            (
                "a subnet by another case",
                want("a", Some("WEB"), Some("10.10.1.200")),
                None,
            ),
            (
                "a subnet the network lacks",
                want("a", Some("dmz"), Some("10.10.9.4")),
                Some((
                    "spec.target.subnet",
                    "the target network vnet-dc1 has no subnet dmz (it has web, data)",
                )),
            ),
            (
                "outside its subnet",
                want("a", Some("data"), Some("10.10.2.16")),
                Some((
                    "spec.target.staticIp",
                    "10.10.2.16 is not in subnet data (10.10.2.0/28)",
                )),
            ),
            (
                "the gateway",
                want("a", Some("web"), Some("10.10.1.1")),
                Some((
                    "spec.target.staticIp",
                    "Azure keeps 10.10.1.1 in subnet web (10.10.1.0/24): the first four and the last address of a subnet are not given to VMs; the first free is 10.10.1.4",
                )),
            ),
            (
                "the broadcast address",
                want("a", Some("data"), Some("10.10.2.15")),
                Some((
                    "spec.target.staticIp",
                    "Azure keeps 10.10.2.15 in subnet data (10.10.2.0/28): the first four and the last address of a subnet are not given to VMs; the first free is 10.10.2.4",
                )),
            ),
        ];
        for (case, wanted, expected) in cases {
            let problems = check("vnet-dc1", &subnets(), std::slice::from_ref(wanted));
            let got: Option<(&str, &str)> = problems.first().map(|p| (p.field, p.message.as_str()));
            assert_eq!(got, *expected, "{case}");
            assert!(problems.len() <= 1, "{case}");
        }
    }

    #[test]
    fn an_address_asked_twice_is_reported_on_the_second_machine() {
        let problems = check(
            "vnet-dc1",
            &subnets(),
            &[
                want("sql01", Some("data"), Some("10.10.2.10")),
                want("web01", Some("web"), Some("10.10.1.10")),
                want("sql02", Some("data"), Some("10.10.2.10")),
                want("sql03", Some("data"), Some("10.10.2.10")),
            ],
        );
        let on: Vec<(&str, &str)> = problems
            .iter()
            .map(|p| (p.machine.as_str(), p.message.as_str()))
            .collect();
        assert_eq!(
            on,
            [
                (
                    "sql02",
                    "10.10.2.10 is also the static address of machine sql01"
                ),
                (
                    "sql03",
                    "10.10.2.10 is also the static address of machine sql01"
                ),
            ]
        );
    }
}
