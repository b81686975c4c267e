//! The OpenAPI document, generated from the handlers' annotations and snapshot-tested.

use axum::Json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(title = "Keepwell API", description = "Accounts, contacts, people, billing, revenue metrics, renewals, product usage, health scores, segments and lifecycle stages of a Keepwell workspace. \
        Authenticate with `Authorization: Bearer TOKEN` (`keepwell token create`). Collections are paged with \
        `limit` and `cursor`; errors are application/problem+json."),
    paths(
        super::accounts::list, super::accounts::create, super::accounts::show, super::accounts::update,
        super::accounts::delete, super::accounts::by_external_id,
        super::contacts::list, super::contacts::of_account, super::contacts::create, super::contacts::show,
        super::contacts::update, super::contacts::delete,
        super::users::list, super::users::show, super::users::create, super::users::update,
        super::audit::list,
        super::billing::periods, super::billing::save_period, super::billing::delete_period,
        super::billing::invoices, super::billing::save_invoice, super::billing::contract,
        super::billing::fx_rates, super::billing::save_fx_rates,
        super::metrics::show,
        super::renewals::list, super::renewals::rates_view, super::renewals::record,
        super::usage::days, super::usage::events, super::usage::summary, super::usage::activity,
        super::usage::plan_features, super::usage::set_plan_features,
        super::health::show, super::health::history, super::health::sentiments, super::health::add_sentiment,
        super::health::overrides, super::health::add_override, super::health::clear_override, super::health::stages,
        super::health::backtest,
        super::definitions::segments, super::definitions::save_segment, super::definitions::segment,
        super::definitions::delete_segment, super::definitions::members, super::definitions::history,
        super::definitions::preview, super::definitions::scorecards, super::definitions::scorecard,
        super::definitions::save_scorecard, super::definitions::delete_scorecard, super::definitions::set_weights,
        super::definitions::rules, super::definitions::save_rule, super::definitions::delete_rule,
    ),
    modifiers(&Bearer)
)]
pub struct ApiDoc;

struct Bearer;

impl Modify for Bearer {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
