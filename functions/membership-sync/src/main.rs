//! membership-sync: a thin Lambda binary over the studio-warden library (see shared/).

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    warden::runtime::run_lambda(warden::service::Function::MembershipSync).await
}
