//! The regions azure-sim knows, as ARM names them: its own table, not cutover's.
//!
//! Taken from a client known to work against real Azure: the keys of the pinned Azure CLI's
//! `secondary_region_map` (azure-cli 2.91.0, `azure/cli/command_modules/backup/custom.py`),
//! the one full list of region names found in such a client. `tests/conformance/test_regions.py`
//! checks this table against it. ARM's own list (`Subscriptions_ListLocations`) is per
//! subscription; regions opened since that map was written are refused here though Azure has
//! them (docs/azure-fidelity.md): a location cutover accepts and this table lacks fails in the
//! simulator rather than passing on both sides.

/// Region names, sorted for the binary search.
const REGIONS: &[&str] = &[
    "australiacentral",
    "australiacentral2",
    "australiaeast",
    "australiasoutheast",
    "bleufrancecentral",
    "bleufrancesouth",
    "brazilsouth",
    "brazilsoutheast",
    "canadacentral",
    "canadaeast",
    "centralindia",
    "centralus",
    "centraluseuap",
    "chinaeast",
    "chinaeast2",
    "chinaeast3",
    "chinanorth",
    "chinanorth2",
    "chinanorth3",
    "deloscloudgermanycentral",
    "deloscloudgermanynorth",
    "eastasia",
    "eastus",
    "eastus2",
    "eastus2euap",
    "eastus3",
    "francecentral",
    "francesouth",
    "germanycentral",
    "germanynorth",
    "germanynortheast",
    "germanywestcentral",
    "indiasouthcentral",
    "japaneast",
    "japanwest",
    "jioindiacentral",
    "jioindiawest",
    "koreacentral",
    "koreasouth",
    "malaysiasouth",
    "northcentralus",
    "northeastus5",
    "northeurope",
    "norwayeast",
    "norwaywest",
    "southafricanorth",
    "southafricawest",
    "southcentralus",
    "southcentralus2",
    "southeastasia",
    "southeastasia3",
    "southeastus",
    "southeastus3",
    "southeastus5",
    "southindia",
    "southwestus",
    "swedencentral",
    "swedensouth",
    "switzerlandnorth",
    "switzerlandwest",
    "taiwannorth",
    "taiwannorthwest",
    "uaecentral",
    "uaenorth",
    "uksouth",
    "ukwest",
    "usdodcentral",
    "usdodeast",
    "usgovarizona",
    "usgoviowa",
    "usgovtexas",
    "usgovvirginia",
    "usnateast",
    "usnatwest",
    "usseceast",
    "ussecwest",
    "ussecwestcentral",
    "westcentralus",
    "westeurope",
    "westindia",
    "westus",
    "westus2",
    "westus3",
];

/// Every region name.
pub fn names() -> impl Iterator<Item = &'static str> {
    REGIONS.iter().copied()
}

/// Whether ARM knows a region of this name (lower case, no spaces).
pub fn is_known(name: &str) -> bool {
    REGIONS.binary_search(&name).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorted_for_the_binary_search() {
        assert!(REGIONS.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn known_and_unknown() {
        assert!(is_known("westeurope"));
        assert!(is_known("usgovvirginia"));
        assert!(!is_known("westeu"));
        assert!(!is_known("West Europe"));
    }
}
