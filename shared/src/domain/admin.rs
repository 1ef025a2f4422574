//! Control-plane roles and the permission table (spec section 4, threats T16, S08, S15).
//!
//! Roles come from the identity provider's groups (`cognito:groups`); nothing in the API
//! can grant or change a role, so no role can grant itself another. A `tenant-manager`
//! is bound to exactly one tenant by a custom claim and acts on that tenant only.

use super::TenantId;
use std::fmt;

/// A control-plane role, one per identity-provider group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    PlatformAdmin,
    OnboardingManager,
    TenantManager,
}

impl Role {
    pub const ALL: [Role; 3] = [
        Self::PlatformAdmin,
        Self::OnboardingManager,
        Self::TenantManager,
    ];

    /// The group name in the identity provider (and in the authorizer context).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PlatformAdmin => "platform-admin",
            Self::OnboardingManager => "onboarding-manager",
            Self::TenantManager => "tenant-manager",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == value)
    }

    const fn column(self) -> usize {
        match self {
            Self::PlatformAdmin => 0,
            Self::OnboardingManager => 1,
            Self::TenantManager => 2,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Everything the control plane lets someone do. Each admin route maps to one action
/// (the route → action map lives with the routes, in the permission test and handlers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Action {
    TenantCreate,
    TenantList,
    TenantRead,
    TenantUpdate,
    TenantOffboard,
    KeyIssue,
    KeyList,
    KeyRotate,
    KeyRevoke,
    /// Register or remove the client's public key for signed requests.
    KeySigningKey,
    /// Bind a key to a client certificate (mutual TLS) or unbind it.
    KeyCertificate,
    TenantSettingsRead,
    TenantSettingsWrite,
    SystemSettingsRead,
    SystemSettingsWrite,
    AuditRead,
    AuditVerify,
    UsageRead,
    InvoiceRead,
    PlanRead,
    PlanWrite,
    BillingClose,
    /// The list of a tenant's blocked generations: codes and times, never text.
    SafetyRead,
    /// A stored generation whole, a withheld text included (platform-admin review).
    GenerationReview,
}

/// Whether an action concerns one tenant (a tenant-manager may use it on its own tenant
/// only) or the whole platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Platform,
    Tenant,
}

const PA: usize = 0;
const OM: usize = 1;
const TM: usize = 2;
const fn row(allowed: &[usize]) -> [bool; 3] {
    let mut columns = [false; 3];
    let mut i = 0;
    while i < allowed.len() {
        columns[allowed[i]] = true;
        i += 1;
    }
    columns
}

/// THE permission table: (action, scope, [platform-admin, onboarding-manager,
/// tenant-manager]). Deny by default: an action missing here is allowed to nobody.
/// `tests/admin_permissions.rs` walks every role × admin route against it.
pub const PERMISSIONS: &[(Action, Scope, [bool; 3])] = &[
    (Action::TenantCreate, Scope::Platform, row(&[PA, OM])),
    (Action::TenantList, Scope::Platform, row(&[PA, OM])),
    (Action::TenantRead, Scope::Tenant, row(&[PA, OM, TM])),
    // Name, contact, plan and status: a tenant-manager changing its own plan or
    // lifting its own suspension would be privilege escalation.
    (Action::TenantUpdate, Scope::Tenant, row(&[PA, OM])),
    (Action::TenantOffboard, Scope::Tenant, row(&[PA])),
    // Onboarding hands a new tenant its first key; the tenant manages keys after that.
    (Action::KeyIssue, Scope::Tenant, row(&[PA, OM, TM])),
    (Action::KeyList, Scope::Tenant, row(&[PA, OM, TM])),
    (Action::KeyRotate, Scope::Tenant, row(&[PA, TM])),
    (Action::KeyRevoke, Scope::Tenant, row(&[PA, TM])),
    (Action::KeySigningKey, Scope::Tenant, row(&[PA, TM])),
    (Action::KeyCertificate, Scope::Tenant, row(&[PA, TM])),
    (
        Action::TenantSettingsRead,
        Scope::Tenant,
        row(&[PA, OM, TM]),
    ),
    // A tenant-manager's changes are held to its plan's limits by the handler.
    (Action::TenantSettingsWrite, Scope::Tenant, row(&[PA, TM])),
    (Action::SystemSettingsRead, Scope::Platform, row(&[PA])),
    (Action::SystemSettingsWrite, Scope::Platform, row(&[PA])),
    // A tenant-manager sees its own tenant's entries only.
    (Action::AuditRead, Scope::Tenant, row(&[PA, TM])),
    (Action::AuditVerify, Scope::Platform, row(&[PA])),
    // Billing data: the platform and the owning tenant only (threat S15).
    (Action::UsageRead, Scope::Tenant, row(&[PA, TM])),
    (Action::InvoiceRead, Scope::Tenant, row(&[PA, TM])),
    (Action::PlanRead, Scope::Platform, row(&[PA, OM, TM])),
    (Action::PlanWrite, Scope::Platform, row(&[PA])),
    (Action::BillingClose, Scope::Platform, row(&[PA])),
    // What the safety checks blocked for a tenant (no text): the platform and the
    // tenant's own manager; the withheld texts themselves only the platform.
    (Action::SafetyRead, Scope::Tenant, row(&[PA, TM])),
    (Action::GenerationReview, Scope::Tenant, row(&[PA])),
];

impl Action {
    fn entry(self) -> Option<&'static (Action, Scope, [bool; 3])> {
        PERMISSIONS.iter().find(|(action, _, _)| *action == self)
    }

    pub fn scope(self) -> Scope {
        self.entry().map_or(Scope::Platform, |(_, scope, _)| *scope)
    }

    /// Whether `role` may perform this action at all (tenant binding aside).
    pub fn allows(self, role: Role) -> bool {
        self.entry()
            .is_some_and(|(_, _, columns)| columns[role.column()])
    }
}

/// The signed-in administrator, as the admin authorizer established it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminPrincipal {
    /// The identity provider's stable user id (`sub`).
    pub subject: String,
    pub username: String,
    pub roles: Vec<Role>,
    /// The tenant a tenant-manager is bound to.
    pub tenant: Option<TenantId>,
}

/// Why a principal may not do something; handlers render `Forbidden` as 403 and
/// `NotFound` as 404 (a tenant-manager must not learn that other tenants exist).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denial {
    Forbidden,
    NotFound,
}

impl AdminPrincipal {
    /// Decides `action` on `target` (the tenant it concerns, for tenant-scoped actions).
    /// Allowed if any of the principal's roles allows it within that role's reach.
    pub fn authorize(&self, action: Action, target: Option<&TenantId>) -> Result<(), Denial> {
        let permitted: Vec<Role> = self
            .roles
            .iter()
            .copied()
            .filter(|role| action.allows(*role))
            .collect();
        if permitted.is_empty() {
            return Err(Denial::Forbidden);
        }
        // Only a tenant-manager's reach is limited: to its own tenant, on tenant actions.
        let reaches = |role: &Role| {
            *role != Role::TenantManager
                || action.scope() == Scope::Platform
                || matches!((self.tenant.as_ref(), target), (Some(own), Some(t)) if own == t)
        };
        if permitted.iter().any(reaches) {
            Ok(())
        } else {
            Err(Denial::NotFound)
        }
    }

    /// Whether the principal sees every tenant (not just a bound one) for `action`.
    pub fn sees_all_tenants(&self, action: Action) -> bool {
        self.roles
            .iter()
            .any(|role| *role != Role::TenantManager && action.allows(*role))
    }

    pub fn roles_text(&self) -> String {
        self.roles
            .iter()
            .map(|r| r.as_str())
            .collect::<Vec<_>>()
            .join(",")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(roles: &[Role], tenant: Option<&str>) -> AdminPrincipal {
        AdminPrincipal {
            subject: "sub".into(),
            username: "user".into(),
            roles: roles.to_vec(),
            tenant: tenant.map(TenantId::new),
        }
    }

    #[test]
    fn every_action_is_in_the_table_exactly_once() {
        let all = [
            Action::TenantCreate,
            Action::TenantList,
            Action::TenantRead,
            Action::TenantUpdate,
            Action::TenantOffboard,
            Action::KeyIssue,
            Action::KeyList,
            Action::KeyRotate,
            Action::KeyRevoke,
            Action::KeySigningKey,
            Action::KeyCertificate,
            Action::TenantSettingsRead,
            Action::TenantSettingsWrite,
            Action::SystemSettingsRead,
            Action::SystemSettingsWrite,
            Action::AuditRead,
            Action::AuditVerify,
            Action::UsageRead,
            Action::InvoiceRead,
            Action::PlanRead,
            Action::PlanWrite,
            Action::BillingClose,
            Action::SafetyRead,
            Action::GenerationReview,
        ];
        for action in all {
            let rows = PERMISSIONS.iter().filter(|(a, _, _)| *a == action).count();
            assert_eq!(rows, 1, "{action:?}");
        }
        assert_eq!(PERMISSIONS.len(), all.len());
    }

    #[test]
    fn platform_admin_may_do_everything() {
        let admin = principal(&[Role::PlatformAdmin], None);
        for (action, _, _) in PERMISSIONS {
            assert_eq!(
                admin.authorize(*action, Some(&TenantId::new("any"))),
                Ok(())
            );
        }
    }

    #[test]
    fn tenant_manager_reaches_its_own_tenant_only() {
        let manager = principal(&[Role::TenantManager], Some("mine"));
        let mine = TenantId::new("mine");
        let other = TenantId::new("other");
        assert_eq!(manager.authorize(Action::KeyIssue, Some(&mine)), Ok(()));
        assert_eq!(
            manager.authorize(Action::KeyIssue, Some(&other)),
            Err(Denial::NotFound)
        );
        assert_eq!(
            manager.authorize(Action::TenantUpdate, Some(&mine)),
            Err(Denial::Forbidden),
            "no changing its own plan or status"
        );
        assert_eq!(
            manager.authorize(Action::TenantList, None),
            Err(Denial::Forbidden)
        );
        let unbound = principal(&[Role::TenantManager], None);
        assert_eq!(
            unbound.authorize(Action::KeyList, Some(&mine)),
            Err(Denial::NotFound)
        );
    }

    #[test]
    fn billing_is_for_platform_admins_and_the_owner_only() {
        for action in [Action::UsageRead, Action::InvoiceRead] {
            assert!(action.allows(Role::PlatformAdmin));
            assert!(action.allows(Role::TenantManager));
            assert!(!action.allows(Role::OnboardingManager), "{action:?}");
            assert_eq!(action.scope(), Scope::Tenant);
        }
    }

    #[test]
    fn no_roles_means_no_access_and_roles_combine() {
        let nobody = principal(&[], None);
        assert_eq!(
            nobody.authorize(Action::PlanRead, None),
            Err(Denial::Forbidden)
        );
        let both = principal(
            &[Role::TenantManager, Role::OnboardingManager],
            Some("mine"),
        );
        assert_eq!(
            both.authorize(Action::TenantRead, Some(&TenantId::new("other"))),
            Ok(())
        );
        assert!(both.sees_all_tenants(Action::TenantRead));
        assert!(!principal(&[Role::TenantManager], Some("m")).sees_all_tenants(Action::AuditRead));
    }

    #[test]
    fn role_names_round_trip() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        assert_eq!(Role::parse("Platform-Admin"), None);
    }
}
