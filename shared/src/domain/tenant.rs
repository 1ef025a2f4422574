//! Tenants: the Meal Planner applications that call the data-plane API.

use super::{new_id, validate_label, Timestamp, ValidationError};
use serde::Serialize;
use std::fmt;

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(
            Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, ::serde::Serialize, ::serde::Deserialize,
        )]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Wraps a stored or authorizer-supplied value (already trusted).
            pub fn new(value: impl Into<String>) -> Self {
                Self(value.into())
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}
pub(crate) use string_id;

string_id!(
    /// Opaque tenant identifier (UUID v7, 32 hex digits).
    TenantId
);
string_id!(
    /// Name of a billing plan, e.g. `standard`.
    PlanId
);

impl TenantId {
    pub fn generate() -> Self {
        Self(new_id())
    }
}

impl PlanId {
    pub const DEFAULT: &'static str = "standard";
}

/// Validates a tenant contact (free text such as an email address); trimmed.
pub fn parse_contact(value: &str) -> Result<String, ValidationError> {
    validate_label("contact", value, 200)
}

/// A validated tenant display name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantName(String);

impl TenantName {
    pub const MAX_CHARS: usize = 100;

    pub fn parse(value: &str) -> Result<Self, ValidationError> {
        validate_label("tenant name", value, Self::MAX_CHARS).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TenantStatus {
    Active,
    Suspended,
    Offboarded,
}

impl TenantStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Suspended => "suspended",
            Self::Offboarded => "offboarded",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "active" => Some(Self::Active),
            "suspended" => Some(Self::Suspended),
            "offboarded" => Some(Self::Offboarded),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    pub id: TenantId,
    pub name: String,
    /// Who to reach at the tenant (free text, e.g. an email address).
    pub contact: Option<String>,
    pub status: TenantStatus,
    pub plan: PlanId,
    pub created_at: Timestamp,
}

impl Tenant {
    pub fn new(name: TenantName, plan: PlanId, now: Timestamp) -> Self {
        Self {
            id: TenantId::generate(),
            name: name.0,
            contact: None,
            status: TenantStatus::Active,
            plan,
            created_at: now,
        }
    }

    /// Only active tenants may use the data plane.
    pub fn may_call_api(&self) -> bool {
        self.status == TenantStatus::Active
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_tenants_are_active() {
        let t = Tenant::new(
            TenantName::parse(" Acme ").unwrap(),
            PlanId::new("standard"),
            Timestamp::from_millis(1),
        );
        assert_eq!(t.name, "Acme");
        assert!(t.may_call_api());
        assert_eq!(t.id.as_str().len(), 32);
    }

    #[test]
    fn status_round_trips_through_text() {
        for s in [
            TenantStatus::Active,
            TenantStatus::Suspended,
            TenantStatus::Offboarded,
        ] {
            assert_eq!(TenantStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(TenantStatus::parse("ACTIVE"), None);
    }
}
