//! The recommendations section both BFFs show, in two stages: the
//! recommender's ids, then, as soon as they arrive, the cards (catalog)
//! and their prices (the part `recommendations.price`) concurrently.
//!
//! The first stage's outcome is kept apart from the cards: the recommender
//! answering while the catalog fails is not "every first-stage call
//! failed" (the rule for a 503 of home and dashboard).

use std::sync::Arc;

use super::{Backends, Price};
use crate::context::RequestCtx;
use crate::fanout::{Fanout, Section};

/// The section's outcomes.
#[derive(Debug)]
pub struct Recommended<C> {
    /// The recommender's answer (the first stage).
    pub ids: Section<Vec<String>>,
    /// The cards: degraded when the recommender or the catalog failed.
    pub cards: Section<C>,
    /// The part `recommendations.price`; `None` when there were no ids to
    /// price.
    pub price: Option<Section<Arc<Vec<Price>>>>,
}

impl Backends {
    /// Asks the recommender for `limit` ids for `user_id` (section
    /// `recommendations`); with them, `second_stage` runs the catalog and
    /// pricing calls and returns the cards and the prices' section. Should
    /// both second-stage calls fail, both are listed: the section's entry
    /// says why there are no cards, the part's that pricing is down too.
    pub async fn recommended<C>(
        &self,
        fan: &Fanout,
        ctx: &RequestCtx,
        user_id: &str,
        limit: u32,
        second_stage: impl AsyncFnOnce(&[String]) -> (Section<C>, Section<Arc<Vec<Price>>>),
    ) -> Recommended<C> {
        let ids = fan
            .optional("recommendations", self.recommendations(ctx, user_id, limit))
            .await;
        let (cards, price) = match ids.as_input() {
            Ok(list) => {
                let (cards, price) = second_stage(list).await;
                (cards, Some(price))
            }
            Err(no_cards) => (no_cards, None),
        };
        Recommended { ids, cards, price }
    }
}
