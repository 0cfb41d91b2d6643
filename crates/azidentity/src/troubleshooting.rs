#![doc = include_str!("../TROUBLESHOOTING.md")]

// Error messages link to the sections of this page, as rendered on docs.rs, instead of to
// Python's troubleshooting pages.

macro_rules! section {
    ($anchor:literal) => {
        concat!(
            "https://docs.rs/azidentity/latest/azidentity/troubleshooting/index.html#",
            $anchor
        )
    };
}

pub(crate) const DEFAULT: &str = section!("defaultazurecredential");
pub(crate) const ENVIRONMENT: &str = section!("environmentcredential");
pub(crate) const MANAGED_IDENTITY: &str = section!("managedidentitycredential");
pub(crate) const WORKLOAD_IDENTITY: &str = section!("workloadidentitycredential");
pub(crate) const AZURE_PIPELINES: &str = section!("azurepipelinescredential");
pub(crate) const DEVELOPER_TOOLS: &str = section!("developer-tools");
