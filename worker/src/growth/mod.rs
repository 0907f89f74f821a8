//! Growth (issue 15): A/B tests of a collection's presentation ([`ab`], [`ab_dash`]) and the
//! first-party visitor id they assign by ([`visitor`]); approval before refunds ([`approval`]);
//! membership points ([`points`]); customer tags on a payee's people ([`tags`], [`people`]).

pub mod ab;
mod ab_dash;
pub mod approval;
pub mod people;
pub mod points;
pub mod points_checkout;
mod points_expiry;
pub mod tags;
pub mod visitor;

use worker::{Env, Request, Response};

use crate::error::ApiError;
use crate::routes::GrowthRoute;

/// Dispatches the growth routes.
pub async fn handle(route: GrowthRoute, req: Request, env: &Env) -> Result<Response, ApiError> {
    match route {
        GrowthRoute::GetTest(id) => ab_dash::get(&id, &req, env).await,
        GrowthRoute::PutTest(id) => ab_dash::put(&id, req, env).await,
        GrowthRoute::DeclareWinner(id) => ab_dash::declare_winner(&id, req, env).await,
        GrowthRoute::StopTest(id) => ab_dash::stop(&id, &req, env).await,
        GrowthRoute::GetRefundPolicy => approval::get_policy(&req, env).await,
        GrowthRoute::PutRefundPolicy => approval::put_policy(req, env).await,
        GrowthRoute::InviteApprover => approval::invite(&req, env).await,
        GrowthRoute::AcceptInvite => approval::accept(req, env).await,
        GrowthRoute::RefundRequests => approval::list(&req, env).await,
        GrowthRoute::DecideRefund(id) => approval::decide(&id, req, env).await,
        GrowthRoute::GetPoints => points::get(&req, env).await,
        GrowthRoute::PutPoints => points::put(req, env).await,
        GrowthRoute::PointsCsv => points::export_csv(&req, env).await,
        GrowthRoute::MyPoints => points::mine(&req, env).await,
        GrowthRoute::ListTags => tags::list(&req, env).await,
        GrowthRoute::CreateTag => tags::create(req, env).await,
        GrowthRoute::DeleteTag(id) => tags::delete(&id, &req, env).await,
        GrowthRoute::TagPeople => tags::people_list(&req, env).await,
        GrowthRoute::AssignTag(id, on) => tags::assign(&id, on, req, env).await,
        GrowthRoute::RemindTag(id) => tags::remind(&id, req, env).await,
    }
}
