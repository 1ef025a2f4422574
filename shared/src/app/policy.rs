//! What the control plane's settings allow a generation: the system kill switch, the
//! tenant's allowed kinds, the `max_tokens` caps and the model. System settings are read
//! through a short per-instance cache, so a change (the kill switch included) takes
//! effect within [`SETTINGS_TTL`] without adding store reads to every generation. The
//! tenant's settings arrive in its [`TenantTerms`], which the rate limiter has just read
//! (and caches for as long).

use super::AppError;
use crate::cache::TtlCache;
use crate::domain::content::{ContentKind, DEFAULT_MAX_TOKENS, MAX_MAX_TOKENS};
use crate::domain::safety::SafetyThresholds;
use crate::domain::settings::SystemSettings;
pub use crate::ports::billing::TenantTerms;
use crate::ports::PolicyStore;
use std::sync::Arc;
use std::time::Duration;

/// How long an instance trusts settings it has read.
pub const SETTINGS_TTL: Duration = Duration::from_secs(10);

pub struct GenerationPolicy {
    store: Arc<dyn PolicyStore>,
    system: TtlCache<(), SystemSettings>,
}

/// What one generation may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allowance {
    pub max_tokens: u32,
    /// The model to ask for; `None`: the deployment's configured model.
    pub model: Option<String>,
    /// The nutrition safety limits in force.
    pub safety: SafetyThresholds,
}

impl GenerationPolicy {
    pub fn new(store: Arc<dyn PolicyStore>) -> Self {
        Self::with_ttl(store, SETTINGS_TTL)
    }

    pub fn with_ttl(store: Arc<dyn PolicyStore>, ttl: Duration) -> Self {
        Self {
            store,
            system: TtlCache::new(ttl, 1),
        }
    }

    /// The system settings in force (cached for the TTL).
    pub async fn system(&self) -> Result<SystemSettings, AppError> {
        self.system
            .get_or_try_load(&(), || async {
                Ok(self.store.get_system_settings().await?.unwrap_or_default())
            })
            .await
    }

    /// Decides a request for `kind` with `requested` max tokens (if given) under the
    /// tenant's `terms`.
    pub async fn allow(
        &self,
        terms: &TenantTerms,
        kind: ContentKind,
        requested: Option<u32>,
    ) -> Result<Allowance, AppError> {
        let system = self.system().await?;
        if !system.generation_enabled {
            return Err(AppError::GenerationDisabled);
        }
        let settings = &terms.settings;
        if !settings.allows_kind(kind) {
            return Err(AppError::KindNotAllowed(kind));
        }
        let cap = settings
            .max_tokens_cap
            .unwrap_or(MAX_MAX_TOKENS)
            .min(system.max_tokens_cap)
            .min(MAX_MAX_TOKENS);
        let max_tokens = requested.unwrap_or(DEFAULT_MAX_TOKENS.min(cap));
        if !(1..=cap).contains(&max_tokens) {
            return Err(AppError::Validation(format!(
                "max_tokens must be 1 to {cap}"
            )));
        }
        Ok(Allowance {
            max_tokens,
            model: settings.model.clone().or(system.default_model),
            safety: system.safety,
        })
    }
}

#[cfg(all(test, feature = "sqlite"))]
mod tests {
    use super::*;
    use crate::adapters::sqlite::SqliteStore;
    use crate::app::limits::RateLimiter;
    use crate::domain::settings::TenantSettings;
    use crate::domain::TenantId;
    use crate::domain::{PlanId, Tenant, TenantName, Timestamp};
    use crate::http::Problem;
    use crate::ports::billing::tenant_terms;
    use crate::ports::SystemClock;
    use crate::ports::{SettingsStore, TenantStore};

    fn tenant() -> TenantId {
        TenantId::new("0193a0e1a1b27c3d8e9f0a1b2c3d4e5f")
    }

    async fn store() -> Arc<SqliteStore> {
        let store = SqliteStore::open_in_memory().unwrap();
        let mut record = Tenant::new(
            TenantName::parse("Acme").unwrap(),
            PlanId::new("standard"),
            Timestamp::from_millis(0),
        );
        record.id = tenant();
        store.create_tenant(&record).await.unwrap();
        Arc::new(store)
    }

    async fn allow(
        policy: &GenerationPolicy,
        kind: ContentKind,
        requested: Option<u32>,
    ) -> Result<Allowance, Problem> {
        let terms = tenant_terms(&*policy.store, &tenant())
            .await?
            .ok_or_else(Problem::unauthorized)?;
        Ok(policy.allow(&terms, kind, requested).await?)
    }

    #[tokio::test]
    async fn defaults_allow_everything_within_the_api_caps() {
        let policy = GenerationPolicy::new(store().await);
        let allowance = allow(&policy, ContentKind::NutritionTips, None)
            .await
            .unwrap();
        assert_eq!(
            allowance,
            Allowance {
                max_tokens: DEFAULT_MAX_TOKENS,
                model: None,
                safety: SafetyThresholds::default(),
            }
        );
        let too_many = allow(
            &policy,
            ContentKind::NutritionTips,
            Some(MAX_MAX_TOKENS + 1),
        )
        .await;
        assert_eq!(too_many.unwrap_err().status, 422);
    }

    #[tokio::test]
    async fn the_kill_switch_refuses_every_generation() {
        let store = store().await;
        let policy = GenerationPolicy::with_ttl(store.clone(), Duration::ZERO);
        store
            .put_system_settings(&SystemSettings {
                generation_enabled: false,
                ..Default::default()
            })
            .await
            .unwrap();
        let refused = allow(&policy, ContentKind::NutritionTips, None)
            .await
            .unwrap_err();
        assert_eq!((refused.status, refused.slug), (503, "generation-disabled"));
    }

    #[tokio::test]
    async fn tenant_kinds_caps_and_model_apply_with_system_fallbacks() {
        let store = store().await;
        let policy = GenerationPolicy::with_ttl(store.clone(), Duration::ZERO);
        store
            .put_system_settings(&SystemSettings {
                generation_enabled: true,
                default_model: Some("system-model".into()),
                max_tokens_cap: 300,
                ..Default::default()
            })
            .await
            .unwrap();
        let system_only = allow(&policy, ContentKind::MealPlanSummary, None)
            .await
            .unwrap();
        assert_eq!(system_only.max_tokens, DEFAULT_MAX_TOKENS.min(300));
        assert_eq!(system_only.model.as_deref(), Some("system-model"));
        store
            .put_tenant_settings(
                &tenant(),
                &TenantSettings {
                    allowed_kinds: Some(vec!["nutrition_tips".into()]),
                    max_tokens_cap: Some(100),
                    model: Some("tenant-model".into()),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let refused = allow(&policy, ContentKind::MealPlanSummary, None)
            .await
            .unwrap_err();
        assert_eq!((refused.status, refused.slug), (403, "kind-not-allowed"));
        let allowed = allow(&policy, ContentKind::NutritionTips, Some(100))
            .await
            .unwrap();
        assert_eq!(allowed.model.as_deref(), Some("tenant-model"));
        let over = allow(&policy, ContentKind::NutritionTips, Some(101))
            .await
            .unwrap_err();
        assert_eq!(over.status, 422);
        assert!(over.detail.contains("1 to 100"), "{}", over.detail);
    }

    #[tokio::test]
    async fn settings_are_cached_for_the_ttl() {
        let store = store().await;
        let policy = GenerationPolicy::with_ttl(store.clone(), Duration::from_secs(3600));
        allow(&policy, ContentKind::NutritionTips, None)
            .await
            .unwrap();
        store
            .put_system_settings(&SystemSettings {
                generation_enabled: false,
                ..Default::default()
            })
            .await
            .unwrap();
        assert!(
            allow(&policy, ContentKind::NutritionTips, None)
                .await
                .is_ok(),
            "within the TTL the cached settings stand"
        );
        let fresh = GenerationPolicy::with_ttl(store, Duration::ZERO);
        assert!(allow(&fresh, ContentKind::NutritionTips, None)
            .await
            .is_err());
    }

    #[tokio::test]
    async fn billing_terms_come_from_the_settings_else_the_plan() {
        let store = store().await;
        // The generation takes its terms from the rate limiter, which read them for the
        // request's rate check (cached like the system settings in AWS).
        let limiter = RateLimiter::with_ttl(
            store.clone(),
            store.clone(),
            Arc::new(SystemClock),
            Duration::ZERO,
        );
        let terms = limiter.terms(&tenant()).await.unwrap();
        assert_eq!(terms.plan.id, "standard");
        assert_eq!(
            (terms.requests_per_minute, terms.monthly_budget_micros),
            (
                terms.plan.requests_per_minute,
                terms.plan.monthly_budget_micros
            )
        );
        store
            .put_tenant_settings(
                &tenant(),
                &TenantSettings {
                    requests_per_minute: Some(7),
                    monthly_budget_micros: Some(1_234),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let terms = limiter.terms(&tenant()).await.unwrap();
        assert_eq!(
            (terms.requests_per_minute, terms.monthly_budget_micros),
            (7, 1_234)
        );
        let unknown = Problem::from(
            limiter
                .terms(&TenantId::new("ffffffffffffffffffffffffffffffff"))
                .await
                .unwrap_err(),
        );
        assert_eq!(unknown.status, 401);
    }
}
