//! Clients per place: a domain in another account or region is reached with a client of its
//! region, signed with credentials of the role the policy names for it (the SDK's assume-role
//! provider, which refreshes them itself). The function's own account and region use the
//! client built at cold start; the others are built on first use and kept for the life of the
//! process, so that a function that only manages its own account starts as fast as before.
//!
//! Rate limits follow AWS's: SageMaker and EC2 throttle per account and region, so every
//! (account, region) gets its own limiter, shared by the domains there.

use std::collections::HashMap;
use std::sync::Arc;

use aws_config::identity::IdentityCache;
use aws_config::sts::AssumeRoleProvider;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider, future};
use aws_smithy_http_client::tls;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::client::stalled_stream_protection::StalledStreamProtectionConfig;
use aws_types::SdkConfig;
use aws_types::region::Region;
use tokio::sync::OnceCell;

use super::CallRate;
use crate::error::{Result, WardenError};
use crate::ids::DomainId;
use crate::metrics::{AwsCalls, MeteredClient};
use crate::policy::{Policy, ROLE_SESSION_NAME};

/// A client, paced by the limiter of its account and region.
#[derive(Debug)]
pub struct At<C> {
    pub client: C,
}

/// An HTTP client that takes a token of `rate` before every request it sends: every attempt,
/// the SDK's retries of a throttled call included, so that the client never sends faster than
/// its account's quota (a limiter in front of the SDK paces first attempts only, and the
/// retries of a throttled call would then make a cascade of throttles).
#[derive(Debug, Clone)]
struct Paced {
    inner: SharedHttpClient,
    rate: CallRate,
}

#[derive(Debug)]
struct PacedConnector {
    inner: SharedHttpConnector,
    rate: CallRate,
}

impl HttpClient for Paced {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(PacedConnector {
            inner: self.inner.http_connector(settings, components),
            rate: self.rate.clone(),
        })
    }
}

impl HttpConnector for PacedConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let inner = self.inner.clone();
        let rate = self.rate.clone();
        HttpConnectorFuture::new(async move {
            rate.wait().await;
            inner.call(request).await
        })
    }
}

/// `sdk` with its HTTP client paced by `rate` (see [`Paced`]): the configuration's own client
/// if it has one, else the SDK's default (rustls with aws-lc).
///
/// The SDK's stalled-stream protection for uploads is off for a paced client (for downloads it
/// stays as configured). It times the request body from before the HTTP client is called, so a
/// request waiting for its limiter's token sends 0 bytes a second all that time, and a wait
/// longer than its grace period (5 s by default) failed the call as a dispatch timeout. These
/// requests' bodies are small JSON documents, sent at once when their token comes.
pub fn paced(sdk: &SdkConfig, rate: CallRate) -> SdkConfig {
    let inner = sdk.http_client().unwrap_or_else(|| {
        aws_smithy_http_client::Builder::new()
            .tls_provider(tls::Provider::Rustls(
                tls::rustls_provider::CryptoMode::AwsLc,
            ))
            .build_https()
    });
    let stalled = sdk.stalled_stream_protection();
    let mut protection = StalledStreamProtectionConfig::enabled().upload_enabled(false);
    if let Some(configured) = &stalled {
        protection = protection
            .grace_period(configured.grace_period())
            .download_enabled(configured.download_enabled());
    }
    sdk.clone()
        .into_builder()
        .http_client(Paced { inner, rate })
        .stalled_stream_protection(protection.build())
        .build()
}

/// How to build clients for places other than the function's own: the shared SDK
/// configuration, the call counter, and the per-place limits.
#[derive(Clone)]
pub struct Reach {
    sdk: SdkConfig,
    calls: Option<AwsCalls>,
    /// Calls per second per (account, region), for each service.
    tps: u32,
}

impl Reach {
    pub fn new(sdk: &SdkConfig, calls: Option<&AwsCalls>, tps: u32) -> Self {
        Self {
            sdk: sdk.clone(),
            calls: calls.cloned(),
            tps,
        }
    }

    /// The SDK configuration of a place: its region, and credentials of `role` when there is
    /// one (the base credentials sign the AssumeRole call; nothing is called until a client
    /// needs credentials).
    pub fn config(&self, region: Option<&str>, role: Option<&str>) -> SdkConfig {
        let mut builder = self.sdk.clone().into_builder();
        if let Some(region) = region {
            builder = builder.region(Region::new(region.to_owned()));
        }
        if let Some(role) = role {
            builder = builder
                .credentials_provider(SharedCredentialsProvider::new(AssumedRole {
                    role: role.to_owned(),
                    region: region.map(str::to_owned),
                    base: self.sdk.clone(),
                    provider: OnceCell::new(),
                }))
                // An identity cache of its own. The one `aws_config::load` makes is shared by
                // every client built from the configuration and keeps at most 64 partitions
                // (one per client), evicting one when it is full: with a SageMaker and an EC2
                // client per place, past about 30 places an evicted place's credentials were
                // fetched again, an AssumeRole, by its next call.
                .identity_cache(IdentityCache::lazy().build());
        }
        builder.build()
    }
}

/// The SDK's assume-role provider, built on the first request for credentials (its builder is
/// `async`; building it at cold start would make every client constructor async for nothing).
/// The provider calls STS AssumeRole with the base credentials and refreshes them before they
/// expire; the client's identity cache keeps them between calls.
#[derive(Debug)]
struct AssumedRole {
    role: String,
    region: Option<String>,
    base: SdkConfig,
    provider: OnceCell<AssumeRoleProvider>,
}

impl ProvideCredentials for AssumedRole {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::new(async move {
            let provider = self
                .provider
                .get_or_init(|| async {
                    let mut builder = AssumeRoleProvider::builder(&self.role)
                        .session_name(ROLE_SESSION_NAME)
                        .configure(&self.base);
                    if let Some(region) = &self.region {
                        // STS's regional endpoint, in the domain's region.
                        builder = builder.region(Region::new(region.clone()));
                    }
                    builder.build().await
                })
                .await;
            provider.provide_credentials().await
        })
    }
}

/// Where one domain is: its region (`None`: the function's own), the role, its limiter.
struct Target<C> {
    /// The retry partition's place: `<account>#<region>`, or `home` for the function's own
    /// place reached through another role.
    partition: String,
    region: Option<String>,
    role: Option<String>,
    rate: CallRate,
    built: OnceCell<Arc<At<C>>>,
}

/// Clients of one service for every domain of the policy.
pub struct PerDomain<C> {
    home: Arc<At<C>>,
    targets: HashMap<DomainId, Target<C>>,
    reach: Option<Reach>,
}

impl<C> std::fmt::Debug for PerDomain<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PerDomain")
            .field("elsewhere", &self.targets.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl<C: MeteredClient + Send + Sync> PerDomain<C> {
    /// Only the function's own account and region: every domain uses `client`.
    pub fn home_only(client: C) -> Self {
        Self {
            home: Arc::new(At { client }),
            targets: HashMap::new(),
            reach: None,
        }
    }

    /// Every domain of `policy`: those at home through `client` (built over [`paced`] with
    /// `rate`), the others through clients of their own, built by `reach` on first use and
    /// paced by a limiter of `reach`'s rate per (account, region), which the domains there
    /// share.
    pub fn for_policy(client: C, rate: CallRate, policy: &Policy, reach: Reach) -> Self {
        let mut limiters: HashMap<String, CallRate> = HashMap::new();
        let mut targets = HashMap::new();
        for domain in &policy.domains {
            if domain.place.is_none() && domain.role.is_none() {
                continue;
            }
            let rate = match &domain.place {
                // The function's own account and region, with another role: the same quota.
                None => rate.clone(),
                Some(place) => limiters
                    .entry(place.to_string())
                    .or_insert_with(|| CallRate::per_second(reach.tps))
                    .clone(),
            };
            targets.insert(
                domain.id.clone(),
                Target {
                    partition: domain
                        .place
                        .as_ref()
                        .map_or_else(|| "home".to_owned(), ToString::to_string),
                    region: domain.place.as_ref().map(|p| p.region.clone()),
                    role: domain.role.clone(),
                    rate,
                    built: OnceCell::new(),
                },
            );
        }
        Self {
            home: Arc::new(At { client }),
            targets,
            reach: Some(reach),
        }
    }

    /// The client and limiter for `domain`. A domain outside the function's own place that the
    /// policy does not name has no client: never guessed at (that would be the wrong account's
    /// credentials).
    pub async fn at(&self, domain: &DomainId) -> Result<Arc<At<C>>> {
        let Some(target) = self.targets.get(domain) else {
            return match domain.place() {
                None => Ok(self.home.clone()),
                Some(_) => Err(WardenError::Config(format!(
                    "domain {domain} is not in the policy: no credentials to reach it"
                ))),
            };
        };
        let Some(reach) = &self.reach else {
            return Ok(self.home.clone());
        };
        let at = target
            .built
            .get_or_init(|| async {
                let sdk = paced(
                    &reach.config(target.region.as_deref(), target.role.as_deref()),
                    target.rate.clone(),
                );
                tracing::info!(domain = %domain, region = ?target.region, role = ?target.role, "client built for a domain elsewhere");
                Arc::new(At {
                    client: C::metered_at(&sdk, reach.calls.as_ref(), &target.partition),
                })
            })
            .await;
        Ok(at.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::AccountId;
    use crate::policy::Home;
    use aws_sdk_sagemaker::config::retry::RetryPartition;

    fn policy() -> Policy {
        let mut source = String::from("[identity_store]\nid = \"d-9067c0ffee\"\n\n");
        for (name, account, region) in [
            ("b", "222222222222", "eu-west-1"),
            ("c", "333333333333", "eu-west-1"),
            ("home", "111111111111", "us-east-1"),
        ] {
            source.push_str(&format!(
                "[[domains]]\nname = \"{name}\"\nid = \"d-{name}1\"\naccount = \"{account}\"\nregion = \"{region}\"\n\n"
            ));
        }
        source.push_str("[[mappings]]\ngroup = \"g\"\ndomain = \"home\"\npriority = 1\nexecution_role = \"arn:aws:iam::111111111111:role/r\"\n");
        let home = Home {
            account: AccountId::parse("111111111111").ok(),
            region: Some("us-east-1".into()),
        };
        Policy::parse_at(&source, "test", &std::collections::BTreeMap::new(), &home).expect("valid")
    }

    /// Each account gets its own retry partition (the SDK's retry quota and adaptive send
    /// rate are per partition, process-wide), its region and its own limiter; the home
    /// domain the cold start's client.
    #[tokio::test]
    async fn each_place_has_its_own_client_region_retry_partition_and_limiter() {
        let sdk = SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .build();
        let policy = policy();
        let home_client = aws_sdk_sagemaker::Client::new(&sdk);
        let clients = PerDomain::for_policy(
            home_client,
            CallRate::per_second(8),
            &policy,
            Reach::new(&sdk, None, 8),
        );
        let at = |name: &str| policy.domain(name).map(|d| d.id.clone()).expect("declared");
        let b = clients.at(&at("b")).await.expect("b");
        let c = clients.at(&at("c")).await.expect("c");
        let home = clients.at(&at("home")).await.expect("home");
        assert_eq!(
            b.client.config().retry_partition(),
            Some(&RetryPartition::new("sagemaker-222222222222#eu-west-1"))
        );
        assert_eq!(
            c.client.config().retry_partition(),
            Some(&RetryPartition::new("sagemaker-333333333333#eu-west-1"))
        );
        assert_eq!(
            b.client
                .config()
                .region()
                .map(ToString::to_string)
                .as_deref(),
            Some("eu-west-1")
        );
        assert_ne!(
            home.client.config().retry_partition(),
            b.client.config().retry_partition()
        );
        // Built once: the same client on every later call.
        assert!(Arc::ptr_eq(&b, &clients.at(&at("b")).await.expect("b")));
        // A domain elsewhere the policy does not name has no client.
        let stranger = DomainId::parse("d-x@444444444444/eu-west-1").expect("valid");
        assert!(clients.at(&stranger).await.is_err());
    }

    /// A request that waits for its token longer than the SDK's stalled-stream grace period is
    /// sent when its token comes, not failed as a stalled upload: here the grace period is 1 s
    /// and the fourth of four requests at once waits about 3 s at 1 a second.
    #[tokio::test]
    async fn a_request_waiting_for_its_token_is_not_a_stalled_upload() {
        #[derive(Debug)]
        struct Answer;
        impl HttpConnector for Answer {
            fn call(&self, _request: HttpRequest) -> HttpConnectorFuture {
                let mut response = aws_smithy_runtime_api::client::orchestrator::HttpResponse::new(
                    200.try_into().expect("a status"),
                    aws_smithy_types::body::SdkBody::from("{}"),
                );
                response
                    .headers_mut()
                    .insert("content-type", "application/x-amz-json-1.1");
                HttpConnectorFuture::ready(Ok(response))
            }
        }
        #[derive(Debug)]
        struct Fake;
        impl HttpClient for Fake {
            fn http_connector(
                &self,
                _settings: &HttpConnectorSettings,
                _components: &RuntimeComponents,
            ) -> SharedHttpConnector {
                SharedHttpConnector::new(Answer)
            }
        }
        let sdk = SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(SharedCredentialsProvider::new(
                aws_credential_types::Credentials::new("AKIDTEST", "secret", None, None, "test"),
            ))
            .http_client(Fake)
            .retry_config(aws_config::retry::RetryConfig::disabled())
            .stalled_stream_protection(
                StalledStreamProtectionConfig::enabled()
                    .grace_period(std::time::Duration::from_secs(1))
                    .build(),
            )
            .build();
        let client = aws_sdk_sagemaker::Client::new(&paced(&sdk, CallRate::per_second(1)));
        let calls = (0..4).map(|_| client.describe_domain().domain_id("d-x").send());
        for answer in futures::future::join_all(calls).await {
            assert!(answer.is_ok(), "{answer:?}");
        }
    }

    /// Every request through a paced connector takes a token, so requests of one place are
    /// at least 1/rate apart: retries included, since the SDK sends each attempt through the
    /// connector. (A lower bound, which the limiter guarantees however loaded the machine.)
    #[tokio::test]
    async fn every_request_through_a_paced_connector_takes_a_token() {
        #[derive(Debug, Default)]
        struct Recorder(std::sync::Mutex<Vec<std::time::Instant>>);
        #[derive(Debug)]
        struct Fake(Arc<Recorder>);
        impl HttpConnector for Fake {
            fn call(&self, _request: HttpRequest) -> HttpConnectorFuture {
                if let Ok(mut seen) = self.0.0.lock() {
                    seen.push(std::time::Instant::now());
                }
                HttpConnectorFuture::ready(Ok(
                    aws_smithy_runtime_api::client::orchestrator::HttpResponse::new(
                        200.try_into().expect("a status"),
                        aws_smithy_types::body::SdkBody::empty(),
                    ),
                ))
            }
        }
        let recorder = Arc::new(Recorder::default());
        let connector = PacedConnector {
            inner: SharedHttpConnector::new(Fake(recorder.clone())),
            rate: CallRate::per_second(4),
        };
        for _ in 0..6 {
            connector
                .call(HttpRequest::empty())
                .await
                .expect("answered");
        }
        let seen = recorder.0.lock().expect("not poisoned").clone();
        assert_eq!(seen.len(), 6);
        // 4 a second, evenly spaced: every request waits a quarter of a second after the one
        // before (a burst would let the first four through at once). 200 ms leaves room for
        // the limiter's clock and `Instant` to differ by a little.
        for pair in seen.windows(2) {
            let gap = pair[1].duration_since(pair[0]);
            assert!(gap >= std::time::Duration::from_millis(200), "{gap:?}");
        }
    }
}
