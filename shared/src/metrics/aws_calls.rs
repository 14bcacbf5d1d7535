//! AWS calls, retries and throttles by service, counted by an interceptor on each SDK client.
//!
//! One [`AwsCalls`] registry is shared by every client a function builds; each client gets a
//! [`CallCounter`] for its service. The counters are plain atomics; the Lambda edge takes (and
//! resets) them once per invocation ([`AwsCalls::take`]). Lambda runs one invocation at a time
//! per process, so what a take returns is that invocation's calls.
//!
//! What counts, from the SDK's orchestrator and never from an error message:
//! - a call: one execution of an operation (`read_before_execution`), however many attempts;
//! - a retry: an attempt whose number (the orchestrator's `RequestAttempts`) is above 1;
//! - a throttle: an attempt the client's own retry classifiers judge a throttling error (the
//!   same classifiers, run the same way, that make the SDK back off: error codes and HTTP
//!   status, see `aws_smithy_runtime::client::retries::classifiers::run_classifiers_on_ctx`).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeSerializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
    FinalizerInterceptorContextRef, InterceptorContext,
};
use aws_smithy_runtime_api::client::retries::RequestAttempts;
use aws_smithy_runtime_api::client::retries::classifiers::{
    ClassifyRetry, RetryAction, RetryReason,
};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use aws_smithy_types::retry::ErrorKind;

/// The AWS services the functions call. The names are the metric keys (`AwsCalls.<name>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Service {
    IdentityStore,
    SsoAdmin,
    SageMaker,
    DynamoDb,
    Sns,
    Ec2,
}

impl Service {
    pub const ALL: [Service; 6] = [
        Service::IdentityStore,
        Service::SsoAdmin,
        Service::SageMaker,
        Service::DynamoDb,
        Service::Sns,
        Service::Ec2,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Service::IdentityStore => "identitystore",
            Service::SsoAdmin => "ssoadmin",
            Service::SageMaker => "sagemaker",
            Service::DynamoDb => "dynamodb",
            Service::Sns => "sns",
            Service::Ec2 => "ec2",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

#[derive(Debug, Default)]
struct Counters {
    calls: AtomicU64,
    retries: AtomicU64,
    throttles: AtomicU64,
}

/// What one service saw in one invocation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ServiceCalls {
    pub calls: u64,
    pub retries: u64,
    pub throttles: u64,
}

/// Calls by service, as [`AwsCalls::take`] found them.
pub type CallCounts = BTreeMap<Service, ServiceCalls>;

/// The registry every client's [`CallCounter`] counts into. Cloning shares it.
#[derive(Debug, Clone, Default)]
pub struct AwsCalls {
    counters: Arc<[Counters; 6]>,
}

impl AwsCalls {
    pub fn new() -> Self {
        Self::default()
    }

    /// The interceptor to attach to `service`'s client configuration.
    pub fn counter(&self, service: Service) -> CallCounter {
        CallCounter {
            service,
            counters: self.counters.clone(),
        }
    }

    /// The counts since the last take, and zero again. Services with no call are left out.
    pub fn take(&self) -> CallCounts {
        let mut out = CallCounts::new();
        for service in Service::ALL {
            let c = &self.counters[service.index()];
            let seen = ServiceCalls {
                calls: c.calls.swap(0, Ordering::Relaxed),
                retries: c.retries.swap(0, Ordering::Relaxed),
                throttles: c.throttles.swap(0, Ordering::Relaxed),
            };
            if seen != ServiceCalls::default() {
                out.insert(service, seen);
            }
        }
        out
    }
}

/// The interceptor of one client: counts into the registry under its service.
#[derive(Debug, Clone)]
pub struct CallCounter {
    service: Service,
    counters: Arc<[Counters; 6]>,
}

impl CallCounter {
    fn counters(&self) -> &Counters {
        &self.counters[self.service.index()]
    }
}

/// Whether the client's retry classifiers judge this attempt throttled: the classifiers of the
/// operation, run in their order, each refining the previous verdict, as the SDK's retry
/// strategy runs them.
fn throttled(context: &InterceptorContext, components: &RuntimeComponents) -> bool {
    let mut verdict = RetryAction::NoActionIndicated;
    for classifier in components.retry_classifiers() {
        let next = classifier.classify_retry_v2(context, &verdict);
        if next == RetryAction::NoActionIndicated {
            continue;
        }
        verdict = next;
        if verdict == RetryAction::RetryForbidden {
            break;
        }
    }
    matches!(
        verdict,
        RetryAction::RetryIndicated(RetryReason::RetryableError {
            kind: ErrorKind::ThrottlingError,
            ..
        })
    )
}

/// A service client's configuration builder that takes its service's call counter when
/// metrics are on (`Some(calls)`), and is left as it is otherwise.
pub trait Metered: Sized {
    /// The service the client calls.
    const SERVICE: Service;
    fn metered(self, calls: Option<&AwsCalls>) -> Self;
}

/// A service client built from the shared `SdkConfig`, counting its calls when metrics are on.
pub trait MeteredClient: Sized {
    fn metered(sdk: &aws_types::SdkConfig, calls: Option<&AwsCalls>) -> Self;
    /// As [`MeteredClient::metered`], with its own retry partition `<service>-<place>`. The
    /// SDK keeps the retry quota and the adaptive mode's send rate per partition, process-wide,
    /// and its default partition is the service and region: without this, one account's
    /// throttling would slow and use up the retries of every other account in that region.
    fn metered_at(sdk: &aws_types::SdkConfig, calls: Option<&AwsCalls>, place: &str) -> Self;
}

macro_rules! metered {
    ($($sdk:ident => $service:ident),* $(,)?) => {$(
        impl Metered for $sdk::config::Builder {
            const SERVICE: Service = Service::$service;
            fn metered(self, calls: Option<&AwsCalls>) -> Self {
                match calls {
                    Some(calls) => self.interceptor(calls.counter(Self::SERVICE)),
                    None => self,
                }
            }
        }

        impl MeteredClient for $sdk::Client {
            fn metered(sdk: &aws_types::SdkConfig, calls: Option<&AwsCalls>) -> Self {
                Self::from_conf($sdk::config::Builder::from(sdk).metered(calls).build())
            }

            fn metered_at(
                sdk: &aws_types::SdkConfig,
                calls: Option<&AwsCalls>,
                place: &str,
            ) -> Self {
                let partition = format!("{}-{place}", stringify!($service).to_lowercase());
                Self::from_conf(
                    $sdk::config::Builder::from(sdk)
                        .metered(calls)
                        .retry_partition($sdk::config::retry::RetryPartition::new(partition))
                        .build(),
                )
            }
        }
    )*};
}

metered!(
    aws_sdk_identitystore => IdentityStore,
    aws_sdk_ssoadmin => SsoAdmin,
    aws_sdk_sagemaker => SageMaker,
    aws_sdk_dynamodb => DynamoDb,
    aws_sdk_sns => Sns,
    aws_sdk_ec2 => Ec2,
);

impl Intercept for CallCounter {
    fn name(&self) -> &'static str {
        "studio-warden-call-counter"
    }

    fn read_before_execution(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.counters().calls.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    fn read_before_attempt(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if cfg
            .load::<RequestAttempts>()
            .is_some_and(|a| a.attempts() > 1)
        {
            self.counters().retries.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    }

    fn read_after_attempt(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if throttled(context.inner(), components) {
            self.counters().throttles.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_take_returns_what_was_counted_and_starts_again_from_zero() {
        let calls = AwsCalls::new();
        let sm = calls.counter(Service::SageMaker);
        sm.counters().calls.fetch_add(3, Ordering::Relaxed);
        sm.counters().throttles.fetch_add(1, Ordering::Relaxed);
        calls
            .counter(Service::Ec2)
            .counters()
            .retries
            .fetch_add(2, Ordering::Relaxed);
        let first = calls.take();
        assert_eq!(
            first.get(&Service::SageMaker),
            Some(&ServiceCalls {
                calls: 3,
                retries: 0,
                throttles: 1
            })
        );
        assert_eq!(first.get(&Service::Ec2).map(|c| c.retries), Some(2));
        assert!(!first.contains_key(&Service::Sns));
        assert!(calls.take().is_empty());
    }

    #[test]
    fn service_keys_are_distinct_and_indexed_in_order() {
        for (i, s) in Service::ALL.iter().enumerate() {
            assert_eq!(s.index(), i);
        }
        let names: std::collections::BTreeSet<_> =
            Service::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(names.len(), Service::ALL.len());
    }
}
